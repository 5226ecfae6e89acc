using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Orchestration;

/// <summary>Whether a booted guest is the machine the scenario asked for, judged on boot facts written in the test.</summary>
public class PreconditionsTests
{
    private static readonly AddressRange RamAbove4G = new(0x1_0000_0000, 0x1_4400_0000);
    private static readonly AddressRange Pmem = new(0x1_4400_0000, 0x3_43e0_0000);

    /// <summary>What the seed guest shows: RAM to 0x143ffffff, the NVDIMM at 0x144000000, no PSE flag.</summary>
    private static BootFacts SeedFacts(AddressRange? ram = null, AddressRange? pmem = null, ulong? qmp = 0x1_4400_0000, bool pse = false, bool noRam = false, bool noPmem = false) =>
        new("100000000-143ffffff : System RAM\n144000000-343dfffff : Persistent Memory\n",
            new ObservedLayout(noRam ? null : ram ?? RamAbove4G, noPmem ? null : pmem ?? Pmem, qmp), pse, null);

    private static IReadOnlyList<string> Check(Scenario s, BootFacts facts) => Preconditions.Check(s, Predictor.Predict(s), facts);

    [Test]
    public void The_seed_guest_meets_every_precondition() =>
        Assert.That(Check(Scenario.Seed, SeedFacts()), Is.Empty);

    [Test]
    public void System_ram_elsewhere_than_predicted_fails()
    {
        Assert.That(Check(Scenario.Seed, SeedFacts(ram: new AddressRange(0x1_0000_0000, 0x1_4000_0000))),
            Is.EqualTo(new[] { "System RAM above 4G is 0x100000000-0x13fffffff, predicted 0x100000000-0x143ffffff" }));
        Assert.That(Check(Scenario.Seed, SeedFacts(noRam: true)),
            Is.EqualTo(new[] { "System RAM above 4G is absent, predicted 0x100000000-0x143ffffff" }));
    }

    [Test]
    public void Persistent_memory_elsewhere_than_predicted_fails()
    {
        Assert.That(Check(Scenario.Seed, SeedFacts(noPmem: true)),
            Is.EqualTo(new[] { "Persistent Memory is absent, predicted 0x144000000-0x343dfffff" }));
        Assert.That(Check(Scenario.Seed, SeedFacts(pmem: new AddressRange(0x1_8000_0000, 0x3_7fe0_0000))),
            Is.EqualTo(new[] { "Persistent Memory is 0x180000000-0x37fdfffff, predicted 0x144000000-0x343dfffff" }));
    }

    [Test]
    public void An_nvdimm_qmp_places_elsewhere_than_asked_fails_unless_the_address_is_auto()
    {
        Assert.That(Check(Scenario.Seed, SeedFacts(qmp: 0x1_8000_0000)),
            Is.EqualTo(new[] { "QMP puts the NVDIMM at 0x180000000, asked for 0x144000000" }));
        Assert.That(Check(Scenario.Seed, SeedFacts(qmp: null)),
            Is.EqualTo(new[] { "QMP puts the NVDIMM at nowhere, asked for 0x144000000" }));
        Assert.That(Check(Scenario.Seed.WithNvdimmAddress(null), SeedFacts(qmp: 0x1_4400_0000)), Is.Empty, "address auto: wherever QEMU puts it");
    }

    [Test]
    public void A_pse_flag_other_than_asked_fails()
    {
        Assert.That(Check(Scenario.Seed, SeedFacts(pse: true)), Is.EqualTo(new[] { "/proc/cpuinfo has pse, asked for pse off" }));
        Assert.That(Check(Scenario.Seed.WithPse(true), SeedFacts(pse: false)), Is.EqualTo(new[] { "/proc/cpuinfo lacks pse, asked for pse on" }));
        Assert.That(Check(Scenario.Seed.WithPse(true), SeedFacts(pse: true)), Is.Empty);
    }

    [Test]
    public void A_kernel_whose_sections_are_not_the_models_size_fails_naming_both()
    {
        var facts = SeedFacts() with { Kernel = KernelFacts.FromVmcoreinfo("SIZE(page)=64\nNUMBER(SECTION_SIZE_BITS)=26\n") };
        Assert.That(Check(Scenario.Seed, facts), Is.EqualTo(new[] { "the kernel's memory sections are 2^26 bytes (VMCOREINFO), the model's 128 MiB" }));
        var seed = SeedFacts() with { Kernel = KernelFacts.FromVmcoreinfo("SIZE(page)=64\nNUMBER(SECTION_SIZE_BITS)=27\n") };
        Assert.That(Check(Scenario.Seed, seed), Is.Empty);
        Assert.That(seed.Kernel!.SectionSizeBits, Is.EqualTo(27));
    }

    [Test]
    public void A_kernel_whose_memory_blocks_are_not_the_models_size_fails_naming_both()
    {
        // A memory-device case predicts 128 MiB blocks (x86 below 64 GiB of boot memory); sysfs prints hex without 0x.
        var c = QemuHotplugHarness.Orchestration.SuiteCases.Catalog(QemuHotplugHarness.Build.RepoLayout.Discover(), []).Load("pcdimm-kpagecount");
        var s = c.Scenario.WithKernel(KernelVariant.Patched);
        var p = Predictor.Predict(s, c.Model);
        var output = "flags\t\t: fpu vme de\n8000000\n";
        Assert.Multiple(() =>
        {
            Assert.That(BootFactsReader.MemoryBlockSize(output), Is.EqualTo(0x8000000UL));
            Assert.That(BootFactsReader.MemoryBlockSize("flags\t\t: fpu\n"), Is.Null);
            Assert.That(p.MemoryBlockSize, Is.EqualTo(0x8000000UL));
            Assert.That(Preconditions.Check(s, p, SeedFacts() with { MemoryBlockSize = 0x8000000 }), Is.Empty);
            Assert.That(Preconditions.Check(s, p, SeedFacts() with { MemoryBlockSize = 0x10000000 }),
                Is.EqualTo(new[] { "the kernel's memory blocks are 0x10000000 bytes (/sys/devices/system/memory/block_size_bytes), the model's 0x8000000" }));
            Assert.That(Check(Scenario.Seed, SeedFacts() with { MemoryBlockSize = 0x10000000 }), Is.Empty, "the seed's loop predicts no memory blocks");
        });
    }

    [Test]
    public void Every_failure_is_listed()
    {
        var facts = SeedFacts(noRam: true, noPmem: true, qmp: null, pse: true);
        Assert.That(Check(Scenario.Seed, facts), Is.EqualTo(new[]
        {
            "System RAM above 4G is absent, predicted 0x100000000-0x143ffffff",
            "Persistent Memory is absent, predicted 0x144000000-0x343dfffff",
            "QMP puts the NVDIMM at nowhere, asked for 0x144000000",
            "/proc/cpuinfo has pse, asked for pse off",
        }));
    }
}
