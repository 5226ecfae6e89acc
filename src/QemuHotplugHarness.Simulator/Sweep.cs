using QemuHotplugHarness.Scenarios;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>One layout of a sweep: its unpatched and patched predictions; FaultPfn is the seed's fault pfn, or the pfn whose struct page a case's reader read.</summary>
public sealed record SweepResult(Scenario Scenario, Outcome Unpatched, Outcome Patched, int? OopsIteration, ulong? FaultPfn)
{
    /// <summary>A layout reproduces the bug when the unpatched kernel oopses and the patched one stays clean.</summary>
    public bool Reproduces => Unpatched == Outcome.Oops && Patched == Outcome.Clean;
}

/// <summary>Enumerates layouts around a base scenario to show which ones reproduce the bug.</summary>
public static class Sweep
{
    /// <summary>Guest RAM sizes: 3.5 to 8 GiB every 64 MiB, and three that end RAM off a 64 MiB boundary.</summary>
    public static IReadOnlyList<ulong> RamSizes { get; } = Enumerable.Range(0, (int)((8192 - 3584) / 64) + 1)
        .Select(i => (3584 + 64 * (ulong)i) * MiB).Concat([4112 * MiB, 4128 * MiB, 4144 * MiB]).ToList();

    public static IReadOnlyList<ulong> NamespaceSizes { get; } = [16 * MiB, 32 * MiB, 64 * MiB, 128 * MiB];

    /// <summary>auto (null: QEMU places it), then explicit addresses from the end of RAM to 192 MiB past it, every 16 MiB (2 MiB aligned).</summary>
    public static IEnumerable<ulong?> NvdimmAddresses(MachineType machine, ulong ram)
    {
        var (_, above) = QemuModel.SplitRam(machine, ram);
        var ramEnd = 4 * GiB + above;
        yield return null;
        for (var addr = AlignUp(ramEnd, 2 * MiB); addr <= ramEnd + 192 * MiB; addr += 16 * MiB) yield return addr;
    }

    /// <summary>
    /// RAM sizes x QEMU flavours x PSE x namespace sizes x NVDIMM addresses; a case with memory devices (a pc-dimm, a
    /// virtio-mem) and no namespace of its own takes its device layouts (<see cref="DeviceLayouts"/>) in place of the namespace sizes.
    /// </summary>
    public static IEnumerable<Scenario> Layouts(Scenario baseScenario)
    {
        var devices = DeviceLayouts.Of(baseScenario);
        var useDevices = devices.Count > 0 && CaseWorkload.FirstNamespaceSize(baseScenario.Workload) is null;
        foreach (var ram in RamSizes)
        foreach (var qemu in new[] { QemuFlavour.Patched, QemuFlavour.Stock })
        foreach (var pse in new[] { false, true })
        foreach (var variant in useDevices ? devices.Select(d => (Func<Scenario, Scenario>)(s => DeviceLayouts.Apply(s, d))) : NamespaceSizes.Select(ns => (Func<Scenario, Scenario>)(s => WithNamespaceSize(s, new ByteSize(ns)))))
        {
            var s = variant(baseScenario.WithRam(new ByteSize(ram)).WithQemu(qemu).WithPse(pse));
            foreach (var addr in NvdimmAddresses(s.Machine.Type, ram)) yield return s.WithNvdimmAddress(addr);
        }
    }

    /// <summary>The namespace size of the reconfigure loop, and of every create-namespace of a case's own workload.</summary>
    public static Scenario WithNamespaceSize(Scenario s, ByteSize size)
    {
        if (!s.Workload.IsCustom) return s.WithNamespaceSize(size);
        var iteration = s.Workload.Iteration!.Select(argv => argv.Count > 1 && argv[0] == "ndctl" && argv[1] == "create-namespace"
            ? (IReadOnlyList<string>)argv.Select(a => a.StartsWith("--size=", StringComparison.Ordinal) ? "--size=" + size : a).ToList()
            : argv).ToList();
        return s with { Workload = s.Workload with { Iteration = iteration, NamespaceSize = size } };
    }

    /// <summary>Both variants of every layout, in the layouts' order (predicted in parallel: the simulator is pure).</summary>
    /// <summary>The namespace mode of the reconfigure loop, and of every create-namespace of a case's own workload.</summary>
    public static Scenario WithMode(Scenario s, NamespaceMode mode)
    {
        var workload = s.Workload with { Mode = mode };
        if (s.Workload.IsCustom)
            workload = workload with
            {
                Iteration = s.Workload.Iteration!.Select(argv => (IReadOnlyList<string>)argv
                    .Select(a => a.StartsWith("--mode=", StringComparison.Ordinal) ? "--mode=" + mode.Kebab() : a).ToList()).ToList(),
            };
        return s with { Workload = workload };
    }

    public static IEnumerable<SweepResult> Run(IEnumerable<Scenario> layouts, Scenarios.Cases.CaseModel? model = null) =>
        layouts.AsParallel().AsOrdered().Select(s => One(s, model));

    private static SweepResult One(Scenario s, Scenarios.Cases.CaseModel? model)
    {
        var unpatched = Predictor.Predict(s.WithKernel(KernelVariant.Unpatched), model, PredictionDetail.Outcome);
        var patched = Predictor.Predict(s.WithKernel(KernelVariant.Patched), model, PredictionDetail.Outcome);
        return new SweepResult(s, unpatched.Outcome, patched.Outcome, unpatched.OopsIteration, unpatched.FirstFaultPfn ?? unpatched.OopsPfn);
    }
}
