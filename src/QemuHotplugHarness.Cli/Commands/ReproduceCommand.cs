using System.ComponentModel;
using System.Globalization;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using Spectre.Console;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

public sealed class ReproduceCommand : AsyncCommand<ReproduceCommand.Settings>
{
    public sealed class Settings : GuestSettings
    {
        [CommandOption("--matrix <FILE>")] [Description("JSON matrix of cells (default: the seed's five cells).")]
        public string? MatrixFile { get; init; }

        [CommandOption("--repeat <N>")] [Description("Runs per cell, for a reproduction rate (default 1).")]
        public int Repeat { get; init; } = 1;

        [CommandOption("--shard <K/N>")] [Description("Run a deterministic slice of cells x repeats.")]
        public string? Shard { get; init; }

        [CommandOption("--jobs <N>")] [Description("Cells in parallel, bounded by cores and memory (default: one per core).")]
        public int Jobs { get; init; } = Reproducer.DefaultJobs;

        [CommandOption("--bisect")] [Description("Exit codes for git bisect run: 0 good, 1 bad, 125 skip. With --kernel-src: test the tree as it is (patch not applied), one cell unless --matrix.")]
        public bool Bisect { get; init; }

        [CommandOption("--no-retry")] [Description("Judge an infra-error cell at once (default: run it once more, both attempts kept).")]
        public bool NoRetry { get; init; }

        [CommandOption("--plan")] [Description("Print the plan (cells, their kernels and judges, skipped cases) and exit: nothing is built or booted.")]
        public bool Plan { get; init; }

        [CommandOption("--suite")]
        [Description("Every case of cases/, each its own matrix: a verdict per case and one for the suite (patch-fixes only when every case's is).")]
        public bool Suite { get; init; }

        [CommandOption("--kcidb-origin <NAME>")] [Description("KCIDB origin of kcidb.json (lowercase letters, digits, '_'; default qemu_hotplug_harness).")]
        public string? KcidbOrigin { get; init; }

        [CommandOption("--artifacts-url <URL>")] [Description("Where the artifacts folder is published: kcidb.json's file URLs are made from it (default file:// URLs).")]
        public string? ArtifactsUrl { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        if (s.Repeat is < 1 or > 1000) throw new BadInputException(InputKind.Repeat, s.Repeat.ToString(CultureInfo.InvariantCulture), "must be between 1 and 1000");
        if (s.Jobs < 1) throw new BadInputException(InputKind.Jobs, s.Jobs.ToString(CultureInfo.InvariantCulture), "at least 1");
        if (KcidbOptions.Problems(s.KcidbOrigin, s.ArtifactsUrl) is { Count: > 0 } kcidbProblems) throw new BadInputException(kcidbProblems);
        var bisectTree = s.Bisect && s.KernelSrc is not null;
        CheckSuiteFlags(s);
        var sources = s.Sources() with { TreeAsIs = bisectTree };
        var plan = PlanOf(s, sources, bisectTree);
        if (s.Plan)
        {
            foreach (var line in plan.Describe()) Console.WriteLine(line);
            return (int)ExitCode.Success;
        }
        plan.CheckEveryKernelIsUsed(sources);
        Matrix.Shard(plan.Cells, s.Repeat, s.Shard); // a malformed --shard is bad input before anything is written
        await InputChecks.GuestAsync(s, bisectTree, ct, plan.Patches);
        foreach (var c in plan.Cells) s.ValidatedSources(c.Scenario);
        var artifacts = HarnessLog.PrepareArtifacts(s.Artifacts ?? HarnessLog.DefaultArtifacts(""));
        // A live table of cells on a terminal; plain log lines otherwise (CI logs).
        var live = !s.Json && AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        using var log = (Serilog.Core.Logger)HarnessLog.Create(artifacts, quietConsole: live);
        var ctx = BuildContext.Create(log, artifacts);
        var inputs = new InputsResolver(ctx, sources);
        plan = plan.WithoutCasesTheKernelsLack(await inputs.RegisteredAsync(ct)); // a case the kernel under test cannot run is skipped
        var (cases, skipped, cells, patches) = (plan.Cases, plan.Skipped, plan.Cells, plan.Patches);
        foreach (var x in skipped) await Console.Error.WriteLineAsync($"qhh: case {x.Case} skipped: {x.Reason}");
        var work = Reproducer.Plan(Matrix.Shard(cells, s.Repeat, s.Shard), caseFolders: s.Suite);
        log.Information("reproduce: {Cases} case(s), {Cells} cell(s) x {Repeat} into {Artifacts}", cases.Count, cells.Count, s.Repeat, artifacts);
        try
        {
            var change = await s.ChangeAsync(ctx, bisectTree, ct, patches);
            return await ReproduceAsync(s, new Reproducer(ctx, inputs, log)
                {
                    Jobs = s.Jobs, Change = change, Cases = cases.Select(SuiteCases.Info).ToList(), Skipped = skipped, RetryInfraErrors = !s.NoRetry,
                    WholePlan = ShardPlan.Of(cells, s.Repeat, s.Shard), Kcidb = new KcidbOptions(s.KcidbOrigin ?? Kcidb.DefaultOrigin, s.ArtifactsUrl),
                },
                log, work, artifacts, live, ct);
        }
        catch (HarnessException e) when (s.Bisect && e is not BadInputException)
        {
            // A commit that does not build (or a guest that cannot start) is one git bisect run must skip, not call bad.
            log.Error("bisect: cannot judge this commit: {Error}", e.Message);
            await Console.Error.WriteLineAsync("qhh: bisect: cannot judge this commit (skip): " + e.Message.Split('\n')[0]);
            return (int)ExitCode.BisectSkip;
        }
    }

    /// <summary>--suite with a flag that picks one scenario or one case: bad input, before anything is loaded.</summary>
    private static void CheckSuiteFlags(Settings s)
    {
        if (!s.Suite) return;
        var clashes = new (bool Given, string Flag)[]
        {
            (s.Case is not null, "--case"), (s.ScenarioFile is not null, "--scenario"), (s.MatrixFile is not null, "--matrix"), (s.Bisect, "--bisect"),
        }.Where(x => x.Given)
            .Select(x => InputProblem.General($"--suite and {x.Flag}: the suite runs every case with its own scenario and cells; give one")).ToList();
        if (clashes.Count > 0) throw new BadInputException(clashes);
    }

    /// <summary>The run's plan: --suite (nothing that picks one scenario or one case with it) or --case, or the default case.</summary>
    public static RunPlan PlanOf(Settings s, KernelSources sources, bool bisectTree)
    {
        CheckSuiteFlags(s);
        return RunPlanner.Plan(new PlanRequest(s.Catalog(), s.EffectiveKernelLine(), sources)
        {
            Case = s.Case, Suite = s.Suite, MatrixFlag = s.MatrixFile is not null ? "--matrix" : "--bisect",
            ScenarioOf = c => s.ScenarioFile is not null ? s.ResolveScenario() : s.ResolveScenario(c.Scenario),
            Matrix = b => s.MatrixFile is not null ? Matrix.Load(s.MatrixFile) : bisectTree ? Matrix.Bisect(b) : null,
        });
    }

    private static async Task<int> ReproduceAsync(Settings s, Reproducer reproducer, Serilog.ILogger log, IReadOnlyList<WorkItem> work,
        string artifacts, bool live, CancellationToken ct)
    {
        var change = reproducer.Change;
        Summary summary;
        if (!live)
        {
            summary = await reproducer.RunAsync(work, artifacts, s.Options(), s.Shard, (cell, state) => log.Information("[{Cell}] {State}", cell, state), ct);
        }
        else
        {
            var states = work.Select(w => w.Cell.Label).Distinct().ToDictionary(n => n, _ => (State: "queued", Since: DateTime.UtcNow));
            var started = DateTime.UtcNow;
            Table Render()
            {
                var t = new Table().Title($"reproduce: {(DateTime.UtcNow - started).TotalSeconds:F0} s").AddColumns("cell", "state", "for");
                lock (states)
                    foreach (var (name, st) in states)
                        t.AddRow(Markup.Escape(name), Markup.Escape(st.State), $"{(DateTime.UtcNow - st.Since).TotalSeconds:F0} s");
                return t;
            }
            summary = await AnsiConsole.Live(Render()).StartAsync(async lc =>
            {
                using var timer = new Timer(_ => lc.UpdateTarget(Render()), null, 1000, 1000);
                return await reproducer.RunAsync(work, artifacts, s.Options(), s.Shard, (cell, state) =>
                {
                    lock (states) states[cell] = (state, DateTime.UtcNow);
                    lc.UpdateTarget(Render());
                }, ct);
            });
        }
        if (s.Json) Console.WriteLine(HarnessJson.Serialize(summary));
        else
        {
            var width = Math.Max(32, summary.Cells.Select(c => c.Label.Length + 1).DefaultIfEmpty(0).Max());
            Console.WriteLine($"{"cell".PadRight(width)} {"predicted",-16} {"observed",-16} match");
            foreach (var c in summary.Cells)
            {
                var (predicted, observed) = (c.Prediction.Outcome.Kebab() + (c.Prediction.OopsIteration is { } p ? "@" + p : ""),
                    c.Observation.Outcome.Kebab() + (c.Observation.OopsIteration is { } o ? "@" + o : ""));
                Console.WriteLine($"{c.Label.PadRight(width)} {predicted,-16} {observed,-16} {(c.Match ? "yes" : "NO: " + string.Join("; ", c.Mismatches))}");
            }
            Console.WriteLine($"change: {change.Subject} on {change.TreeText}");
            foreach (var x in summary.Skipped ?? []) Console.WriteLine($"case {x.Case}: skipped ({x.Reason})");
            foreach (var c in summary.Cases ?? [])
                Console.WriteLine($"case {c.Name}: {c.Verdict.Kebab()} ({c.Fix}{(c.Commit is null ? "" : ", " + c.Commit)}" +
                                  $"{(c.Modelled ? "" : "; judged by its expectations")})");
            Console.WriteLine($"verdict: {summary.Verdict.Kebab()}{summary.Also} ({summary.Seconds:F0} s, {summary.Accel?.Kebab() ?? "no guest"}); artifacts: {artifacts}");
        }
        return VerdictExit.Of(summary.Verdict, s.Bisect);
    }
}
