using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Simulator;

public class PredictorTests
{
    private static readonly Scenario Seed = Scenario.Seed;

    [Test]
    public void Seed_unpatched_pse_off_oopses_at_iteration_2_pfn_0x144002()
    {
        var p = Predictor.Predict(Seed);
        Assert.Multiple(() =>
        {
            Assert.That(p.Outcome, Is.EqualTo(Outcome.Oops));
            Assert.That(p.OopsIteration, Is.EqualTo(2));
            Assert.That(p.FirstFaultPfn, Is.EqualTo(0x144002UL));
            Assert.That(p.FirstFaultAddress, Is.EqualTo(0xffffea0005100080UL));
            Assert.That(p.FaultAddressRange?.ToString(), Is.EqualTo("0xffffea0005100000-0xffffea000513ffff"));
            Assert.That(p.Layout.SystemRamAbove4G?.ToString(), Is.EqualTo("0x100000000-0x143ffffff"));
            Assert.That(p.Layout.PersistentMemory?.ToString(), Is.EqualTo("0x144000000-0x343dfffff"));
            Assert.That(p.Layout.DeviceMemoryBase, Is.EqualTo(0x144000000UL));
            Assert.That(p.Iterations[0].Namespace?.ToIomem(), Is.EqualTo("144000000-1441fffff"));
            Assert.That(p.Iterations[0].Dax?.ToIomem(), Is.EqualTo("144200000-144ffffff"));
            Assert.That(p.Iterations[0].Outcome, Is.EqualTo(Outcome.Clean));
        });
    }

    [Test]
    public void Five_level_paging_moves_the_fault_address_not_the_pfn()
    {
        var s = Seed with { Kernel = Seed.Kernel with { VmemmapBase = KernelSpec.VmemmapBase5Level } };
        var p = Predictor.Predict(s);
        Assert.That(p.FirstFaultPfn, Is.EqualTo(0x144002UL));
        Assert.That(p.FirstFaultAddress, Is.EqualTo(0xffd4000005100080UL)); // RDI of the reference oops
    }

    [Test]
    public void Slob_struct_page_of_56_bytes_faults_where_the_slob_build_did()
    {
        var p = Predictor.Predict(Seed with { Kernel = Seed.Kernel with { StructPageSize = 56 } });
        Assert.That(p.FirstFaultPfn, Is.EqualTo(0x144002UL));
        // ffffea00046e00a4 was the fault of the SLOB build: 0x70 into the struct page at 0xffffea00046e0070.
        Assert.That(p.FirstFaultAddress, Is.EqualTo(0xffffea00046e0070UL));
    }

    [Test]
    public void Pse_on_stays_clean_because_2M_vmemmap_pages_are_only_poisoned()
    {
        var p = Predictor.Predict(Seed.WithPse(true));
        Assert.That(p.Outcome, Is.EqualTo(Outcome.Clean));
        Assert.That(p.Iterations, Has.Count.EqualTo(3));
        Assert.That(p.Iterations[1].Events, Has.Some.Contains("filled with 0xFD"));
    }

    [Test]
    public void Patched_kernel_stays_clean() =>
        Assert.That(Predictor.Predict(Seed.WithKernel(KernelVariant.Patched)).Outcome, Is.EqualTo(Outcome.Clean));

    [Test]
    public void Stock_qemu_rejects_the_seed_address_with_qemus_numbers()
    {
        var p = Predictor.Predict(Seed.WithQemu(QemuFlavour.Stock));
        Assert.That(p.Outcome, Is.EqualTo(Outcome.Rejected));
        Assert.That(p.Rejection, Is.EqualTo("can't add memory device [0x144000000:0x1ffe00000], usable range for memory devices [0x180000000:0x43c000000]"));
    }

    [Test]
    public void Stock_qemu_without_address_is_clean_no_shared_section()
    {
        var p = Predictor.Predict(Seed.WithQemu(QemuFlavour.Stock).WithNvdimmAddress(null));
        Assert.That(p.Outcome, Is.EqualTo(Outcome.Clean));
        Assert.That(p.Layout.PersistentMemory?.ToString(), Is.EqualTo("0x180000000-0x37fdfffff"));
        Assert.That(p.Layout.SharedSection, Is.Null);
    }

    [Test]
    public void Nvdimm_in_the_ram_buffer_cannot_be_reserved()
    {
        var p = Predictor.Predict(Seed.WithRam(ByteSize.FromMiB(4112)).WithNvdimmAddress(0x141000000));
        Assert.That(p.Outcome, Is.EqualTo(Outcome.WorkloadFailed));
        Assert.That(p.WorkloadError, Does.Contain("could not reserve region"));
    }

    [Test]
    public void Q35_splits_ram_at_2G()
    {
        var (below, above) = QemuModel.SplitRam(MachineType.Q35, 4160UL << 20);
        Assert.That((below, above), Is.EqualTo((0x80000000UL, (4160UL << 20) - 0x80000000UL)));
    }

    [Test]
    public void Property_no_oops_without_a_section_shared_with_boot_ram()
    {
        foreach (var r in Sweep.Run(Sweep.Layouts(Seed)))
        {
            var p = Predictor.Predict(r.Scenario);
            if (p.Layout.SharedSection is null)
                Assert.That(r.Unpatched, Is.Not.EqualTo(Outcome.Oops), r.Scenario.Describe());
            Assert.That(r.Patched, Is.Not.EqualTo(Outcome.Oops), "the patched variant never oopses: " + r.Scenario.Describe());
        }
    }

    [Test]
    public void Property_iterations_beyond_the_first_oops_change_nothing()
    {
        var baseline = Predictor.Predict(Seed.WithIterations(2));
        foreach (var n in new[] { 3, 5, 50 })
        {
            var p = Predictor.Predict(Seed.WithIterations(n));
            Assert.That((p.Outcome, p.OopsIteration, p.FirstFaultPfn, p.Iterations.Count),
                Is.EqualTo((baseline.Outcome, baseline.OopsIteration, baseline.FirstFaultPfn, baseline.Iterations.Count)));
        }
    }

    [Test]
    public void Sweep_covers_ten_thousand_layouts_and_finds_the_seed()
    {
        var results = Sweep.Run(Sweep.Layouts(Seed)).ToList();
        Assert.That(results, Has.Count.GreaterThanOrEqualTo(10_000));
        Assert.That(results.Any(r => r.Reproduces && r.Scenario.Machine.Ram.ToString() == "4160M" && r.Scenario.Nvdimm.Address == 0x144000000UL), Is.True);
        Assert.That(results.Where(r => r.Reproduces).All(r => !r.Scenario.Cpu.Pse), Is.True);
    }

    [Test]
    public void Shared_section_snapshot_shows_freed_vmemmap_of_the_removed_subsections()
    {
        var it = Predictor.Predict(Seed).Iterations[1];
        Assert.That(it.SharedSection, Has.Count.EqualTo(64));
        Assert.That(it.SharedSection[0].Owner, Is.EqualTo(SubsectionOwner.BootRam));
        Assert.That(it.SharedSection[32].Owner, Is.EqualTo(SubsectionOwner.Device));
        Assert.That(it.SharedSection[32].Vmemmap, Is.EqualTo(VmemmapPageState.Freed));
        Assert.That(it.SharedSection[31].Vmemmap, Is.EqualTo(VmemmapPageState.Mapped));
    }
}
