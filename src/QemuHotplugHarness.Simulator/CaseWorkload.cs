using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>
/// Predicts a case's own workload (ndctl create/destroy, /proc/kpageflags reads) step by step on the kernel's memmap
/// bookkeeping (<see cref="MemmapBookkeeping"/>), with the checks the case's kernel variant has.
/// </summary>
public static class CaseWorkload
{
    /// <summary>The default kernel line (kernel-lines/6.1.json) when the scenario names none.</summary>
    public const string DefaultLine = "6.1";

    /// <summary>The size of the first namespace the workload creates (for the placement checks before any step runs).</summary>
    public static ByteSize? FirstNamespaceSize(WorkloadSpec w) =>
        (w.Iteration ?? []).Select(CaseSteps.Parse).FirstOrDefault(s => s?.Kind == StepKind.CreateNamespace)?.Size;

    public static Prediction Run(Scenario scenario, CaseModel model, Sparsemem sparse, IReadOnlyList<AddressRange> bootRam,
        AddressRange region, Prediction prediction, List<string> explanation, PredictionDetail detail = PredictionDetail.Full)
    {
        var line = scenario.Kernel.Line ?? DefaultLine;
        var checks = model.Checks(scenario.Kernel.Variant);
        var kernel = new MemmapBookkeeping(sparse, bootRam, model, checks, line);
        explanation.Add(KernelExplanation(scenario, model, checks, line));
        var steps = scenario.Workload.Iteration!.Select(a => CaseSteps.Parse(a)!).ToList();
        var iterations = new List<IterationPrediction>();
        for (var i = 1; i <= scenario.Workload.Iterations; i++)
        {
            var events = new List<string>();
            DevicePagemap? created = null;
            foreach (var step in steps)
            {
                events.Add("$ " + step.Command);
                if (step.Kind == StepKind.CreateNamespace) created = DevicePagemap.In(region, step.Size!.Value.Bytes, step.Map);
                var oops = Execute(kernel, step, region, events);
                if (oops is null) continue;
                var iteration = Iteration(i, created, events, Outcome.Oops, kernel, region, detail);
                return Oops(prediction with { Iterations = [.. iterations, iteration] }, explanation, oops, i, step);
            }
            iterations.Add(Iteration(i, created, events, Outcome.Clean, kernel, region, detail));
        }
        explanation.Add($"All {scenario.Workload.Iterations} iteration(s) clean: no reader met a struct page it cannot read.");
        return prediction with { Iterations = iterations, Explanation = explanation };
    }

    private static MemmapOops? Execute(MemmapBookkeeping kernel, CaseStep step, AddressRange region, List<string> events) => step.Kind switch
    {
        StepKind.CreateNamespace => kernel.Memremap(DevicePagemap.In(region, step.Size!.Value.Bytes, step.Map), events),
        StepKind.DestroyNamespace => kernel.Memunmap(events),
        StepKind.ReadKpageflags => kernel.ReadKpageflags(step.FirstPfn, step.EndPfn, events),
        _ => null,
    };

    private static IterationPrediction Iteration(int index, DevicePagemap? created, List<string> events, Outcome outcome, MemmapBookkeeping kernel,
        AddressRange region, PredictionDetail detail)
    {
        var iteration = new IterationPrediction { Index = index, Outcome = outcome, Events = events, Namespace = created?.Range };
        if (detail == PredictionDetail.Outcome) return iteration;
        var section = Sparsemem.SectionOf(region.Start) * Sparsemem.PagesPerSection;
        events.Add($"struct pages of section {section / Sparsemem.PagesPerSection}: {kernel.Memmap.Describe(section, section + Sparsemem.PagesPerSection)}");
        return iteration with { SharedSection = Predictor.Snapshot(kernel.Sparse, region).Select(sub => WithStructPages(sub, kernel.Memmap)).ToList() };
    }

    private static SubsectionSnapshot WithStructPages(SubsectionSnapshot sub, Memmap memmap)
    {
        var (state, zone) = memmap.Worst(sub.Range.Start / Page, sub.Range.End / Page);
        return sub with { StructPages = state, Zone = state == StructPageState.Initialised ? zone : null };
    }

    private static Prediction Oops(Prediction prediction, List<string> explanation, MemmapOops oops, int iteration, CaseStep step)
    {
        explanation.Add($"Iteration {iteration}, '{step.Command}': {oops.Why} -> {oops.Title ?? "an oops in " + oops.Function}" +
                        $" (how the line reports it: {oops.Source}).");
        return prediction with
        {
            Outcome = Outcome.Oops, OopsIteration = iteration, Explanation = explanation,
            OopsTitle = oops.Title, OopsFunction = oops.Function, OopsPfn = oops.Pfn, OopsStep = step.Command,
        };
    }

    private static string KernelExplanation(Scenario scenario, CaseModel model, IReadOnlySet<KernelCheck> checks, string line)
    {
        var missing = Enum.GetValues<KernelCheck>().Where(c => !checks.Contains(c)).Select(c => c.Kebab()).ToList();
        return $"Kernel {line} {scenario.Kernel.Variant.Kebab()}: " +
               (missing.Count == 0 ? "every memmap check of the model" : $"without {string.Join(", ", missing)} (the case's fix reverted)") +
               $"; CONFIG_DEBUG_VM {(model.DebugVm ? "poisons" : "does not poison")} uninitialised struct pages" +
               (model.DebugVmPgflags ? ", CONFIG_DEBUG_VM_PGFLAGS checks for poison" : "") + ".";
    }
}
