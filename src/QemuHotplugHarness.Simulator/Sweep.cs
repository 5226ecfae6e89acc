using QemuHotplugHarness.Scenarios;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>One layout of a sweep: its unpatched and patched predictions.</summary>
public sealed record SweepResult(Scenario Scenario, Outcome Unpatched, Outcome Patched, int? OopsIteration, ulong? FaultPfn)
{
    /// <summary>A layout reproduces the bug when the unpatched kernel oopses and the patched one stays clean.</summary>
    public bool Reproduces => Unpatched == Outcome.Oops && Patched == Outcome.Clean;
}

/// <summary>Enumerates layouts around a base scenario to show which ones reproduce the bug.</summary>
public static class Sweep
{
    public static IEnumerable<Scenario> Layouts(Scenario baseScenario)
    {
        var ramSizes = new List<ulong>();
        for (var ram = 3584 * MiB; ram <= 8192 * MiB; ram += 64 * MiB) ramSizes.Add(ram);
        foreach (var extra in new[] { 4112 * MiB, 4128 * MiB, 4144 * MiB }) ramSizes.Add(extra);
        ulong[] namespaceSizes = [16 * MiB, 32 * MiB, 64 * MiB, 128 * MiB];
        foreach (var ram in ramSizes)
        foreach (var qemu in new[] { QemuFlavour.Patched, QemuFlavour.Stock })
        foreach (var pse in new[] { false, true })
        foreach (var ns in namespaceSizes)
        {
            var s = baseScenario.WithRam(new ByteSize(ram)).WithQemu(qemu).WithPse(pse).WithNamespaceSize(new ByteSize(ns));
            var (_, above) = QemuModel.SplitRam(s.Machine.Type, ram);
            var ramEnd = 4 * GiB + above;
            yield return s.WithNvdimmAddress(null);
            // Explicit addresses from the end of RAM to 192 MiB past it, every 16 MiB (2 MiB aligned).
            for (var addr = AlignUp(ramEnd, 2 * MiB); addr <= ramEnd + 192 * MiB; addr += 16 * MiB)
                yield return s.WithNvdimmAddress(addr);
        }
    }

    public static IEnumerable<SweepResult> Run(IEnumerable<Scenario> layouts)
    {
        foreach (var s in layouts)
        {
            var unpatched = Predictor.Predict(s.WithKernel(KernelVariant.Unpatched));
            var patched = Predictor.Predict(s.WithKernel(KernelVariant.Patched));
            yield return new SweepResult(s, unpatched.Outcome, patched.Outcome, unpatched.OopsIteration, unpatched.FirstFaultPfn);
        }
    }
}
