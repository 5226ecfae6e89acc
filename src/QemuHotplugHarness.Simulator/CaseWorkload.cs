using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>
/// Predicts a case's own workload (ndctl create/destroy, /proc/kpageflags and /proc/kpagecount reads, QMP memory-device
/// steps) step by step on the kernel's memmap bookkeeping (<see cref="MemmapBookkeeping"/>) and memory hotplug
/// (<see cref="MemoryHotplug"/>), with the checks the case's kernel variant has.
/// </summary>
public static class CaseWorkload
{
    /// <summary>The default kernel line (kernel-lines/6.1.json) when the scenario names none.</summary>
    public const string DefaultLine = "6.1";

    /// <summary>The size of the first namespace the workload creates (for the placement checks before any step runs).</summary>
    public static ByteSize? FirstNamespaceSize(WorkloadSpec w) =>
        (w.Iteration ?? []).Select(a => CaseSteps.Parse(a)).FirstOrDefault(s => s?.Kind == StepKind.CreateNamespace)?.Size;

    /// <summary>Whether the workload runs ndctl on the NVDIMM (else its region and namespace checks do not apply).</summary>
    public static bool UsesNvdimm(WorkloadSpec w) =>
        (w.Setup ?? []).Concat(w.Iteration ?? []).Any(a => a.Count > 0 && a[0] == "ndctl");

    /// <summary>The run, and the machine it runs on: boot RAM, the NVDIMM's region, QEMU's layout and memory devices.</summary>
    public sealed record Machine(Sparsemem Sparse, IReadOnlyList<AddressRange> BootRam, AddressRange Region, QemuLayout Qemu, IReadOnlyList<PlacedDevice> Devices);

    public static Prediction Run(Scenario scenario, CaseModel model, Machine machine, Prediction prediction, EventLog explanation,
        PredictionDetail detail = PredictionDetail.Full)
    {
        var line = scenario.Kernel.Line ?? DefaultLine;
        var checks = model.Checks(scenario.Kernel.Variant);
        var kernel = new MemmapBookkeeping(machine.Sparse, machine.BootRam, model, checks, line);
        var hotplug = new MemoryHotplug(kernel, machine.Qemu, scenario, machine.Devices, MemoryHotplug.ProbeBlockSize(machine.BootRam[^1].End));
        explanation.Add($"{KernelExplanation(scenario, model, checks, line, hotplug)}");
        prediction = prediction with { MemoryBlockSize = hotplug.BlockSize };
        var boot = new EventLog(detail);
        if (hotplug.Boot(boot) is { } bootOops)
            return Oops(prediction with { Iterations = [new IterationPrediction { Index = 0, Outcome = Outcome.Oops, Events = boot }] }, explanation, bootOops, 0, "boot");
        if (boot.Count > 0) explanation.Add($"Boot: {string.Join("; ", boot.Where(e => !e.StartsWith("section_activate", StringComparison.Ordinal)))}.");
        var steps = CaseSteps.Iteration(scenario.Workload).Select(s => s ?? throw OutsideModel(scenario)).ToList();
        var iterations = new List<IterationPrediction>();
        for (var i = 1; i <= scenario.Workload.Iterations; i++)
        {
            var events = new EventLog(detail);
            DevicePagemap? created = null;
            foreach (var step in steps)
            {
                events.Add($"$ {step.Command}");
                if (step.Kind == StepKind.CreateNamespace) created = DevicePagemap.In(machine.Region, step.Size!.Value.Bytes, step.Map);
                var (oops, failure) = Execute(kernel, hotplug, step, machine.Region, events);
                if (oops is null && failure is null) continue;
                var outcome = oops is null ? failure!.Outcome : Outcome.Oops;
                var iteration = Iteration(i, created, events, outcome, kernel, hotplug, machine.Region, detail, UsesNvdimm(scenario.Workload));
                prediction = prediction with { Iterations = [.. iterations, iteration] };
                return oops is not null ? Oops(prediction, explanation, oops, i, step.Command) : Failed(prediction, explanation, failure!, i, step.Command);
            }
            iterations.Add(Iteration(i, created, events, Outcome.Clean, kernel, hotplug, machine.Region, detail, UsesNvdimm(scenario.Workload)));
        }
        explanation.Add($"All {scenario.Workload.Iterations} iteration(s) clean: {CleanReason(hotplug)}");
        return prediction with { Iterations = iterations, Explanation = explanation };
    }

    /// <summary>A case that says "modelled" with a step the model does not know: the harness's data is wrong (exit 3).</summary>
    private static InfrastructureException OutsideModel(Scenario scenario) =>
        new($"case data: a modelled case's workload is outside the model: {CaseSteps.NotModelled(scenario.Workload)}");

    private static (MemmapOops? Oops, StepFailure? Failure) Execute(MemmapBookkeeping kernel, MemoryHotplug hotplug, CaseStep step, AddressRange region, EventLog events) => step.Kind switch
    {
        StepKind.CreateNamespace => (kernel.Memremap(DevicePagemap.In(region, step.Size!.Value.Bytes, step.Map), events), null),
        StepKind.DestroyNamespace => (kernel.Memunmap(events), null),
        StepKind.ReadKpageflags => (kernel.ReadProcFile(MemmapReader.StablePageFlags, "/proc/kpageflags", step.FirstPfn, step.EndPfn, events), null),
        StepKind.ReadKpagecount => (kernel.ReadProcFile(MemmapReader.KpagecountRead, "/proc/kpagecount", step.FirstPfn, step.EndPfn, events), null),
        StepKind.ReadKpagecgroup => (kernel.ReadProcFile(MemmapReader.KpagecgroupRead, "/proc/kpagecgroup", step.FirstPfn, step.EndPfn, events), null),
        _ => hotplug.Execute(step, events),
    };

    private static string CleanReason(MemoryHotplug hotplug) =>
        hotplug.Blocks.Count == 0
            ? "no reader met a struct page it cannot read, nothing slept where it may not."
            : $"no reader met a struct page it cannot read, nothing slept where it may not (memory blocks at the end: {string.Join(", ", hotplug.Blocks.Select(b => $"memory{b.Number} {(b.Online ? "online" : "offline")}"))}).";

    private static IterationPrediction Iteration(int index, DevicePagemap? created, EventLog events, Outcome outcome, MemmapBookkeeping kernel,
        MemoryHotplug hotplug, AddressRange region, PredictionDetail detail, bool nvdimm)
    {
        var iteration = new IterationPrediction { Index = index, Outcome = outcome, Events = events, Namespace = created?.Range };
        if (detail == PredictionDetail.Outcome) return iteration;
        iteration = iteration with { MemoryBlocks = hotplug.Blocks.Select(b => Snapshot(b, hotplug.BlockSize, kernel.Memmap)).ToList() };
        if (!nvdimm) return iteration;
        var section = Sparsemem.SectionOf(region.Start) * Sparsemem.PagesPerSection;
        events.Add($"struct pages of section {section / Sparsemem.PagesPerSection}: {kernel.Memmap.Describe(section, section + Sparsemem.PagesPerSection)}");
        return iteration with { SharedSection = Predictor.Snapshot(kernel.Sparse, region).Select(sub => WithStructPages(sub, kernel.Memmap)).ToList() };
    }

    private static MemoryBlockSnapshot Snapshot(MemoryBlock b, ulong blockSize, Memmap memmap)
    {
        var range = AddressRange.FromLength(b.Number * blockSize, blockSize);
        var (state, zone) = memmap.Worst(range.Start / Page, range.End / Page);
        return new MemoryBlockSnapshot(b.Number, b.Device, range, b.Online, state, state == StructPageState.Initialised ? zone : null);
    }

    private static SubsectionSnapshot WithStructPages(SubsectionSnapshot sub, Memmap memmap)
    {
        var (state, zone) = memmap.Worst(sub.Range.Start / Page, sub.Range.End / Page);
        return sub with { StructPages = state, Zone = state == StructPageState.Initialised ? zone : null };
    }

    private static Prediction Oops(Prediction prediction, EventLog explanation, MemmapOops oops, int iteration, string step)
    {
        explanation.Add($"{(iteration == 0 ? "While booting" : $"Iteration {iteration}, '{step}'")}: {oops.Why} -> {oops.Title ?? "an oops in " + oops.Function}" +
                        $" (how the line reports it: {oops.Source}).");
        return prediction with
        {
            Outcome = Outcome.Oops, OopsIteration = iteration, Explanation = explanation,
            OopsTitle = oops.Title, OopsFunction = oops.Function, OopsPfn = oops.Pfn, OopsStep = step,
        };
    }

    private static Prediction Failed(Prediction prediction, EventLog explanation, StepFailure failure, int iteration, string step)
    {
        explanation.Add($"Iteration {iteration}, '{step}': {failure.Why} -> {failure.Outcome.Kebab()}.");
        return prediction with { Outcome = failure.Outcome, WorkloadError = $"iteration {iteration} ({step}): {failure.Why}", Explanation = explanation };
    }

    private static string KernelExplanation(Scenario scenario, CaseModel model, IReadOnlySet<KernelCheck> checks, string line, MemoryHotplug hotplug)
    {
        var missing = Enum.GetValues<KernelCheck>().Where(c => !checks.Contains(c)).Select(c => c.Kebab()).ToList();
        var devices = scenario.Devices.IsEmpty && scenario.Workload.IterationHosts is null
            ? ""
            : $" Memory blocks of {hotplug.BlockSize / MiB} MiB (x86 memory_block_size_bytes() below 64 GiB of boot memory); hot-added memory onlined: {hotplug.Policy.Name()} (memhp_default_state).";
        return $"Kernel {line} {scenario.Kernel.Variant.Kebab()}: " +
               (missing.Count == 0 ? "every memmap check of the model" : $"without {string.Join(", ", missing)} (the case's fix reverted)") +
               $"; CONFIG_DEBUG_VM {(model.DebugVm ? "poisons" : "does not poison")} uninitialised struct pages" +
               (model.DebugVmPgflags ? ", CONFIG_DEBUG_VM_PGFLAGS checks for poison" : "") +
               (model.DebugAtomicSleep ? ", CONFIG_DEBUG_ATOMIC_SLEEP reports sleeping in atomic context" : "") + "." + devices;
    }
}
