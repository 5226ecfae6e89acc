using System.ComponentModel;
using System.Diagnostics;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using QemuHotplugHarness.Simulator;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

public sealed class PredictCommand : Command<PredictCommand.Settings>
{
    public sealed class Settings : ScenarioSettings
    {
        [CommandOption("--sweep")]
        [Description("Enumerate layouts (RAM sizes, NVDIMM addresses, namespace sizes, PSE, QEMU flavours, both kernel variants) and list which reproduce.")]
        public bool Sweep { get; init; }

        [CommandOption("--all")]
        [Description("With --sweep: list every layout, not only those that reproduce.")]
        public bool All { get; init; }

        [CommandOption("--suite")]
        [Description("Every case of the suite on the kernel line: each planned cell with its judge (simulator or the case's expectation) and what the judge predicts, as reproduce --suite will hold the cells to.")]
        public bool Suite { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Suite) return PrintPlan(settings, suite: true);
        if (settings.SelectedCase() is { Modelled: false } c) return CaseNotModelled(c, settings.Json);
        var line = LineOf(settings);
        var scenario = settings.ResolveScenario() is var resolved && resolved.Kernel.Line is null && line != HarnessDefaults.Repo.Line
            ? resolved with { Kernel = resolved.Kernel with { Line = line } }
            : resolved;
        // predict knows no --kernel-image: a name that is not a variant would silently be modelled as the unpatched one.
        if (scenario.Kernel.Image is { } name)
            throw new BadInputException(InputKind.Kernel, name, "not a kernel variant (predict models unpatched and patched; prebuilt images are registered with run/reproduce --kernel-image)");
        var model = settings.SelectedCase()?.Model;
        if (ModelLimits.NotModelled(scenario, model) is { Count: > 0 } reasons) return NotModelled(scenario, reasons, settings.Json);
        if (settings.Sweep) return RunSweep(scenario, model, settings);
        PredictOne(scenario, model, settings.Json);
        if (!settings.Json && settings.SelectedCase() is { Cells: not null }) PrintPlan(settings, suite: false, line);
        return 0;
    }

    /// <summary>
    /// --kernel-line; else the default line, unless --case names a case that does not apply there: then the first line
    /// it applies to, said on stderr (an explicit --kernel-line where the case does not apply stays bad input).
    /// </summary>
    private static string LineOf(Settings s)
    {
        var lines = RepoLayout.Discover().Lines();
        var line = lines.Resolve(s.KernelLine, null).Name;
        if (s.KernelLine is not null || s.SelectedCase() is not { } c || c.NotApplicableOn(line) is not { } why) return line;
        var other = lines.All.Select(l => l.Name).FirstOrDefault(l => c.NotApplicableOn(l) is null);
        if (other is null) return line;
        Console.Error.WriteLine($"qhh: case {c.Name}: {why}; predicting on kernel line {other} (give --kernel-line to choose)");
        return other;
    }

    /// <summary>
    /// The plan's cells (a case's, or the suite's) with each cell's judge and what it predicts, from the same plan
    /// reproduce runs; beside a simulator judgement, the cell's case.json "expect" (written from its real-guest runs).
    /// </summary>
    private static int PrintPlan(Settings s, bool suite, string? line = null)
    {
        var plan = RunPlanner.Plan(new PlanRequest(s.Catalog(), line ?? RepoLayout.Discover().Lines().Resolve(s.KernelLine, null).Name, KernelSources.Default)
        {
            Case = s.Case, Suite = suite,
            ScenarioOf = c => s.ResolveScenario(c.Scenario) is var b && b.Kernel.Line is null && line is not null ? b with { Kernel = b.Kernel with { Line = line } } : b,
        });
        if (s.Json)
        {
            Console.WriteLine(HarnessJson.Serialize(plan.Cells.Select(c => new { cell = c.Label, judge = c.Judge.Kind, prediction = c.Predict() })));
            return 0;
        }
        Console.WriteLine($"Cells {(suite ? "of the suite" : "of " + plan.Cases[0].Name)} on kernel line {plan.Line}, each with its judge:");
        foreach (var cell in plan.Cells)
        {
            var written = cell.Judge.Kind == Judge.Simulator && CaseExpect(plan, cell) is { } e ? $"; case.json expects (from its real-guest runs): {e.Describe()}" : "";
            Console.WriteLine($"  {cell.Label}: {cell.Judge.Kind.Kebab()}: {Describe(cell.Predict())}{written}");
        }
        foreach (var skipped in plan.Skipped) Console.WriteLine($"  skipped: {skipped.Case}: {skipped.Reason}");
        return 0;
    }

    private static CaseExpectation? CaseExpect(RunPlan plan, Cell cell) =>
        plan.Cases.FirstOrDefault(c => c.Name == cell.Case)?.Cells?.FirstOrDefault(x => x.Name == cell.Name)?.Expect;

    private static string Describe(Prediction p) =>
        p.Outcome.Kebab() + (p.OopsTitle is { } t ? $" \"{t}\"" : "") + (p.OopsIteration is { } i ? $" at iteration {i}" : "") +
        (p.OopsPfn is { } pfn ? $" (struct page of pfn {Hex.Format(pfn)}, in '{p.OopsStep}')" : "");

    /// <summary>A case outside the simulator: why, and the expectations its cells are judged by (exit 0).</summary>
    private static int CaseNotModelled(Case c, bool json)
    {
        if (json)
            Console.WriteLine(HarnessJson.Serialize(new
            {
                @case = c.Name, modelled = false, notModelled = new[] { c.NotModelledReason }, fix = c.Fix,
                expectations = (c.Cells ?? []).Select(x => new { cell = x.Name, kernel = x.Kernel, pse = x.Pse, qemu = x.Qemu, expect = x.Expect }),
            }));
        else
            foreach (var line in CaseExpectations.Describe(c)) Console.WriteLine(line);
        return 0;
    }

    /// <summary>Outside the model: say what is not modelled instead of guessing (exit 0: predict answered the question).</summary>
    private static int NotModelled(Scenario scenario, IReadOnlyList<string> reasons, bool json)
    {
        if (json)
        {
            Console.WriteLine(HarnessJson.Serialize(new { modelled = false, notModelled = reasons }));
            return 0;
        }
        Console.WriteLine($"Scenario {scenario.Name}: {scenario.Describe()}");
        foreach (var r in reasons) Console.WriteLine("Not modelled: " + r);
        Console.WriteLine("Predicted outcome: none (outside the model; validate never draws such a scenario)");
        return 0;
    }

    private static void PredictOne(Scenario scenario, CaseModel? model, bool json)
    {
        var p = Predictor.Predict(scenario, model);
        if (json)
        {
            Console.WriteLine(HarnessJson.Serialize(p));
            return;
        }
        Console.WriteLine($"Scenario {scenario.Name}: {scenario.Describe()}, RAM {scenario.Machine.Ram}, NVDIMM {scenario.Nvdimm.Size} at {(scenario.Nvdimm.Address is { } a ? Hex.Format(a) : "auto")}, {scenario.Workload.Iterations} x {scenario.Workload.Mode.ToString().ToLowerInvariant()} {scenario.Workload.NamespaceSize}");
        Console.WriteLine($"Kernel model: struct page {p.StructPageSize} B, vmemmap at {Hex.Format(p.VmemmapBase)}, vmemmap pages of {p.VmemmapPageSize}");
        foreach (var line in p.Explanation) Console.WriteLine("  " + line);
        foreach (var it in p.Iterations)
        {
            Console.WriteLine($"Iteration {it.Index}: {it.Outcome.Kebab()}");
            foreach (var e in it.Events) Console.WriteLine("    " + e);
            if (it.MemoryBlocks.Count > 0)
                Console.WriteLine("    memory blocks after it: " + string.Join(", ", it.MemoryBlocks.Select(b =>
                    $"memory{b.Number} {(b.Online ? "online" : "offline")} ({b.StructPages.Kebab()}{(b.Zone is { } z ? " " + z.Kebab() : "")})")));
        }
        Console.WriteLine($"Predicted outcome: {p.Outcome.Kebab()}" + OopsDetail(p) +
                          (p.Rejection is not null ? $": {p.Rejection}" : "") +
                          (p.WorkloadError is not null ? $": {p.WorkloadError}" : ""));
    }

    private static string OopsDetail(Prediction p) => p.OopsIteration is not { } i ? ""
        : p.FirstFaultPfn is { } fault ? $" at iteration {i}, first fault pfn {Hex.Format(fault)}, vmemmap {p.FaultAddressRange}"
        : $" at iteration {i} in '{p.OopsStep}': {p.OopsTitle ?? "an oops in " + p.OopsFunction}" +
          (p.OopsPfn is { } pfn ? $", reading the struct page of pfn {Hex.Format(pfn)}" : "");

    private static int RunSweep(Scenario scenario, CaseModel? model, Settings settings)
    {
        var watch = Stopwatch.StartNew();
        var results = Sweep.Run(Sweep.Layouts(scenario), model).ToList();
        watch.Stop();
        var shown = settings.All ? results : results.Where(r => r.Reproduces).ToList();
        if (settings.Json)
        {
            Console.WriteLine(HarnessJson.Serialize(new
            {
                layouts = results.Count,
                reproducing = results.Count(r => r.Reproduces),
                seconds = Math.Round(watch.Elapsed.TotalSeconds, 3),
                results = shown.Select(r => new
                {
                    qemu = r.Scenario.Qemu, ram = r.Scenario.Machine.Ram.ToString(),
                    nvdimmAddr = r.Scenario.Nvdimm.Address is { } a ? Hex.Format(a) : "auto",
                    namespaceSize = r.Scenario.Workload.NamespaceSize.ToString(), pse = r.Scenario.Cpu.Pse,
                    unpatched = r.Unpatched, patched = r.Patched, reproduces = r.Reproduces,
                    oopsIteration = r.OopsIteration, faultPfn = r.FaultPfn is { } pfn ? Hex.Format(pfn) : null,
                    devices = DeviceLayouts.Describe(r.Scenario),
                }),
            }));
            return 0;
        }
        Console.WriteLine($"{"qemu",-8} {"ram",-6} {"nvdimm-addr",-12} {"ns",-5} {"pse",-4} {"unpatched",-16} {"patched",-16} reproduces");
        foreach (var r in shown)
            Console.WriteLine($"{r.Scenario.Qemu.ToString().ToLowerInvariant(),-8} {r.Scenario.Machine.Ram,-6} {(r.Scenario.Nvdimm.Address is { } a ? Hex.Format(a) : "auto"),-12} {r.Scenario.Workload.NamespaceSize,-5} {(r.Scenario.Cpu.Pse ? "on" : "off"),-4} {r.Unpatched.Kebab() + (r.OopsIteration is { } i ? "@" + i : ""),-16} {r.Patched.Kebab(),-16} {(r.Reproduces ? "yes" : "no")}" +
                              (DeviceLayouts.Describe(r.Scenario) is { } devices ? $"  {devices}" : ""));
        Console.WriteLine($"{results.Count} layouts x 2 kernel variants in {watch.Elapsed.TotalSeconds:F2} s; {results.Count(r => r.Reproduces)} reproduce the bug.");
        return 0;
    }
}
