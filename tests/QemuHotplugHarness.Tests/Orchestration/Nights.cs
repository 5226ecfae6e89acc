using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Orchestration;

/// <summary>
/// Nights of the nightly written by the harness's own writer (RunState: summary.json after every cell, then junit,
/// kcidb and report.html), from observations given as facts: the inputs of compare and merge tests are summaries the
/// harness writes, never hand-written JSON.
/// </summary>
public static class Nights
{
    public const string NewTitle = "general protection fault in stable_page_flags";

    /// <summary>The seed's default matrix as the case early-section-memmap, each cell × repeat observed by <paramref name="observe"/>.</summary>
    public static IReadOnlyList<(Cell Cell, int Repeat, Observation Seen)> Seed(Func<string, int, Observation>? observe = null, int repeat = 1,
        string? caseName = null, string? line = null)
    {
        observe ??= (name, _) => SeedObservations.Of(name);
        var b = line is null ? Scenario.Seed : Scenario.Seed with { Kernel = Scenario.Seed.Kernel with { Line = line } };
        return Matrix.Shard(Matrix.Default(b).Select(c => c with { Case = caseName }).ToList(), repeat, null)
            .Select(w => (w.Cell, w.Repeat, observe(w.Cell.Name, w.Repeat))).ToList();
    }

    /// <summary>Writes a whole (unsharded) night into <paramref name="dir"/> as reproduce does, its run taking <paramref name="seconds"/>.</summary>
    public static string Write(string dir, IReadOnlyList<(Cell Cell, int Repeat, Observation Seen)> work, double seconds = 40,
        IReadOnlyList<CaseInfo>? cases = null, KcidbOptions? kcidb = null)
    {
        var plan = Reproducer.Plan(work.Select(w => (w.Cell, w.Repeat)).ToList(), caseFolders: cases is not null);
        var run = new RunArtifacts(dir);
        var state = new RunState(run, null, ChangeUnderTest.FromPatches([], "linux-source-6.1"), plan) { Cases = cases ?? [], Kcidb = kcidb };
        foreach (var (item, seen) in plan.Zip(work.Select(w => w.Seen)))
        {
            var p = item.Cell.Predict();
            var m = Comparison.Mismatches(p, seen);
            state.Add(new SummaryCell(item.Cell.Name, item.Repeat, item.Cell.Scenario, p, seen, m.Count == 0, m, item.Folder) { Case = item.Cell.Case });
        }
        var summary = state.Write(final: true);
        Reports.WriteSummary(run, summary with { Seconds = seconds }); // the run's own clock, fixed for the timing rules
        return dir;
    }

    /// <summary>
    /// Shard k/n of the seed's matrix × <paramref name="repeat"/>, written as reproduce --shard writes it (RunState with
    /// the whole plan), each cell observed by <paramref name="observe"/> (default: the seed's real outcomes).
    /// </summary>
    public static string WriteShard(string dir, string shard, int repeat = 1, Func<string, int, Observation>? observe = null)
    {
        observe ??= (cell, _) => SeedObservations.Of(cell);
        var cells = Matrix.Default(Scenario.Seed);
        var work = Reproducer.Plan(Matrix.Shard(cells, repeat, shard));
        var state = new RunState(new RunArtifacts(dir), shard, ChangeUnderTest.FromPatches([], "linux-source-6.1"), work)
        {
            Plan = ShardPlan.Of(cells, repeat, shard),
        };
        foreach (var w in work)
        {
            var p = w.Cell.Predict();
            var o = observe(w.Cell.Name, w.Repeat);
            var m = Comparison.Mismatches(p, o);
            state.Add(new SummaryCell(w.Cell.Name, w.Repeat, w.Cell.Scenario, p, o, m.Count == 0, m, w.Folder));
        }
        state.Write(final: true);
        return dir;
    }

    /// <summary>The patched kernel with PSE off oopsing with a title the seed never shows.</summary>
    public static Observation PatchedOops() => SeedObservations.OopsAtIteration2() with
    {
        Seconds = 110, Oopses = [SeedObservations.OopsAtIteration2().Oopses[0] with { Title = NewTitle, Function = "stable_page_flags" }],
    };

    public static Observation Infra(string error = "qemu exited with status 137 (killed) while booting") =>
        new() { Outcome = Outcome.InfraError, Error = error, Seconds = 3 };
}
