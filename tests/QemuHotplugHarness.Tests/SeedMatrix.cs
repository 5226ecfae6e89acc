using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests;

/// <summary>
/// The seed's five cells as the tests' own fixture (and the oracle the seed case's cells in cases/ are checked against):
/// stock QEMU rejects; unpatched + PSE off oopses; the rest stay clean. The harness itself reads them from case.json.
/// </summary>
public static class SeedMatrix
{
    public static IReadOnlyList<Cell> Cells(Scenario b) =>
    [
        new("stock-qemu-unpatched-pse-off", b.WithQemu(QemuFlavour.Stock).WithKernel(KernelVariant.Unpatched).WithPse(false)),
        new("unpatched-pse-off", b.WithQemu(QemuFlavour.Patched).WithKernel(KernelVariant.Unpatched).WithPse(false)),
        new("unpatched-pse-on", b.WithQemu(QemuFlavour.Patched).WithKernel(KernelVariant.Unpatched).WithPse(true)),
        new("patched-pse-off", b.WithQemu(QemuFlavour.Patched).WithKernel(KernelVariant.Patched).WithPse(false)),
        new("patched-pse-on", b.WithQemu(QemuFlavour.Patched).WithKernel(KernelVariant.Patched).WithPse(true)),
    ];
}
