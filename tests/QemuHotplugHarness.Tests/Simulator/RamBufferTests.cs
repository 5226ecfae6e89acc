using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Simulator;

/// <summary>
/// The RAM buffer e820 reserves after the end of RAM, as real guests showed it (validate, pc, 4112M of RAM: RAM ends at
/// 0x141000000, the buffer runs to 0x143ffffff).
/// </summary>
public class RamBufferTests
{
    private static Scenario At(ulong? address) =>
        Scenario.Seed.WithRam(ByteSize.FromMiB(4112)).WithNvdimmAddress(address).WithKernel(KernelVariant.Patched);

    /// <summary>NVDIMM at the end of RAM: /proc/iomem showed the buffer as a child of Persistent Memory and ndctl failed to enable namespace0.0.</summary>
    [Test]
    public void A_buffer_inside_the_nvdimm_leaves_persistent_memory_but_fails_the_namespace()
    {
        var p = Predictor.Predict(At(0x1_4100_0000UL));
        Assert.That(p.Outcome, Is.EqualTo(Outcome.WorkloadFailed));
        Assert.That(p.Layout.PersistentMemory?.Start, Is.EqualTo(0x1_4100_0000UL));
        Assert.That(p.WorkloadError, Does.Contain("RAM buffer 0x141000000-0x143ffffff"));
    }

    /// <summary>NVDIMM at 0x142000000, inside the buffer: the console said "nfit ACPI0012:00: failed to insert pmem resource to iomem: -16" and /proc/iomem had no Persistent Memory.</summary>
    [Test]
    public void A_buffer_overlapping_the_start_of_the_nvdimm_leaves_no_persistent_memory()
    {
        var p = Predictor.Predict(At(0x1_4200_0000UL));
        Assert.That(p.Outcome, Is.EqualTo(Outcome.WorkloadFailed));
        Assert.That(p.Layout.PersistentMemory, Is.Null);
        Assert.That(p.Layout.Iomem, Has.None.Contains("Persistent Memory"));
        Assert.That(p.WorkloadError, Does.StartWith("nfit: failed to insert pmem resource to iomem: -16"));
    }

    [Test]
    public void Past_the_buffer_the_nvdimm_is_untouched_by_it()
    {
        var p = Predictor.Predict(At(0x1_4400_0000UL));
        Assert.That(p.Outcome, Is.EqualTo(Outcome.Clean));
        Assert.That(p.Layout.PersistentMemory?.Start, Is.EqualTo(0x1_4400_0000UL));
    }
}
