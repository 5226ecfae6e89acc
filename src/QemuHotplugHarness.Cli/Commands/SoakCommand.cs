using System.ComponentModel;
using System.Globalization;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

/// <summary>
/// qhh soak --runs N: N runs of the plan (the default case, --case, or --suite) back to back, each cell judged by its
/// own judge (the simulator, or its case's expectation); exit 0 only with no wrong verdict and no orphaned QEMU.
/// </summary>
public sealed class SoakCommand : AsyncCommand<SoakCommand.Settings>
{
    public const int MaxRuns = 10_000;

    public sealed class Settings : GuestSettings
    {
        [CommandOption("--runs <N>")] [Description("Runs of the plan back to back (default 3).")]
        public int Runs { get; init; } = 3;

        [CommandOption("--suite")] [Description("Soak every case of the suite on the kernel line (default: --case, else the default case).")]
        public bool Suite { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        if (s.Runs is < 1 or > MaxRuns) throw new BadInputException($"--runs {s.Runs.ToString(CultureInfo.InvariantCulture)}: must be between 1 and {MaxRuns}");
        await InputChecks.GuestAsync(s, treeAsIs: false, ct);
        var sources = s.Sources();
        var plan = RunPlanner.Plan(new PlanRequest(s.Catalog(), s.EffectiveKernelLine(), sources)
        {
            Case = s.Case, Suite = s.Suite, ScenarioOf = c => s.ScenarioFile is not null ? s.ResolveScenario() : s.ResolveScenario(c.Scenario),
        });
        var cells = plan.Cells;
        foreach (var c in cells) s.ValidatedSources(c.Scenario);
        var artifacts = HarnessLog.PrepareArtifacts(s.Artifacts ?? HarnessLog.DefaultArtifacts("soak-"));
        using var log = (Serilog.Core.Logger)HarnessLog.Create(artifacts);
        var ctx = BuildContext.Create(log, artifacts);
        var reproducer = new Reproducer(ctx, new InputsResolver(ctx, sources), log)
        {
            Change = await s.ChangeAsync(ctx, false, ct, plan.Patches), Cases = plan.Cases.Select(SuiteCases.Info).ToList(), Skipped = plan.Skipped,
        };
        log.Information("soak: {Runs} x {Cases} case(s) ({Cells} cells) into {Artifacts}", s.Runs, plan.Cases.Count, cells.Count, artifacts);
        var report = await new Soak(reproducer).RunAsync(cells, s.Runs, artifacts, s.Options(), p => log.Information("{Progress}", p), ct);
        if (s.Json) Console.WriteLine(HarnessJson.Serialize(report));
        else Print(report, artifacts);
        return report.WrongVerdicts == 0 && report.Orphans == 0 ? (int)ExitCode.Success : (int)ExitCode.CheckFailed;
    }

    private static void Print(SoakReport r, string artifacts)
    {
        Console.WriteLine($"soak: {r.Runs} run(s) of the plan in {r.WallSeconds:F0} s (per run {r.RunSeconds.Min():F0}-{r.RunSeconds.Max():F0} s)");
        Console.WriteLine($"wrong verdicts: {r.WrongVerdicts} (expected {r.Expected.Kebab()}; seen {string.Join(", ", r.Verdicts.Select(v => $"{v.Key} x{v.Value}"))})");
        Console.WriteLine($"orphaned QEMUs: {r.Orphans}");
        foreach (var c in r.Cells)
            Console.WriteLine($"  {c.Name,-32} predicted {c.Predicted,-10} as predicted {c.AsPredicted}/{c.Runs} ({c.Rate:P0}); seen {string.Join(", ", c.Observed.Select(o => $"{o.Key} x{o.Value}"))}");
        Console.WriteLine($"peak working set {r.PeakWorkingSetMiB:F0} MiB; managed heap after each run {r.HeapAfterRunMiB.Min():F1}-{r.HeapAfterRunMiB.Max():F1} MiB");
        Console.WriteLine($"soak.json: {Path.Combine(artifacts, "soak.json")}");
    }
}
