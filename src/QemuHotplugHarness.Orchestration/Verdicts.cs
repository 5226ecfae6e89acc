using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration;

/// <summary>What a reproduction concludes about the patch under test.</summary>
public enum Verdict
{
    /// <summary>The unpatched kernel oopses where predicted, the patched one does not, every cell matches.</summary>
    PatchFixes,
    /// <summary>A patched kernel oopsed.</summary>
    PatchDoesNotFix,
    /// <summary>A cell predicted to oops did not.</summary>
    NotReproduced,
    /// <summary>Some cell disagrees with its prediction in another way.</summary>
    Mismatch,
    /// <summary>A shard whose cells all match: only the merge of every shard can say the patch fixes the bug.</summary>
    Partial,
    /// <summary>The run could not judge: an infrastructure fault, a guest that was not what the scenario asked, an interrupt.</summary>
    InfraError,
    /// <summary>merge: a shard or a cell of the plan never arrived, so the run cannot say the patch fixes the bug.</summary>
    Incomplete,
    /// <summary>validate: every drawn scenario behaved on a real guest as the simulator predicted.</summary>
    ModelAgrees,
    /// <summary>validate: some scenario did not (its fields say where the model and the kernel part).</summary>
    ModelDisagrees,
}

/// <summary>What a run was: the unpatched-vs-patched reproduction, or a validation of the simulator against real guests.</summary>
public enum RunKind { Reproduce, Validate }

public sealed record CellResult(string Name, int Repeat, Scenario Scenario, Prediction Prediction, Observation Observation, IReadOnlyList<string> Mismatches)
{
    public bool Match => Mismatches.Count == 0;

    /// <summary>The cell could not be judged: nothing was learned about the kernel.</summary>
    public bool Unjudged => Observation.Outcome is Outcome.InfraError or Outcome.PreconditionFailed;
}

public static class Verdicts
{
    /// <summary>
    /// Every verdict, most telling first: the one order a run (its cells), a suite (its cases), a merge (its shards) and
    /// compare (how bad a verdict is) use. A finding about the kernel or the model comes first, so a real regression in
    /// any judged cell wins over an infrastructure error or a missing shard elsewhere (which the run reports beside it).
    /// </summary>
    public static readonly IReadOnlyList<Verdict> Order =
    [
        Verdict.PatchDoesNotFix, Verdict.NotReproduced, Verdict.Mismatch, Verdict.ModelDisagrees,
        Verdict.Incomplete, Verdict.InfraError, Verdict.Partial, Verdict.PatchFixes, Verdict.ModelAgrees,
    ];

    /// <summary>How bad a verdict is: higher is worse (the reverse of <see cref="Order"/>).</summary>
    public static int Severity(Verdict v) => Order.Count - 1 - Order.ToList().IndexOf(v);

    /// <summary>A finding about the kernel or the model (exit 1): what a night must never hide behind a lab glitch.</summary>
    public static bool IsFinding(Verdict v) => v is Verdict.PatchDoesNotFix or Verdict.NotReproduced or Verdict.Mismatch or Verdict.ModelDisagrees;

    /// <summary>The run could not judge (exit 3): an infrastructure error or a plan that did not arrive whole.</summary>
    public static bool IsUnjudged(Verdict v) => v is Verdict.InfraError or Verdict.Incomplete;

    /// <summary>The most telling of <paramref name="verdicts"/> by <see cref="Order"/>.</summary>
    public static Verdict MostTelling(IEnumerable<Verdict> verdicts) => verdicts.OrderByDescending(Severity).First();

    /// <summary>
    /// A shard's verdict: what its own cells can prove (a patched kernel that oopsed, a bug not reproduced, a mismatch,
    /// an infrastructure error) but never <see cref="Verdict.PatchFixes"/>, which needs the whole matrix.
    /// </summary>
    public static Verdict DecideShard(IReadOnlyList<CellResult> cells)
    {
        var verdict = Decide(cells);
        return verdict == Verdict.PatchFixes ? Verdict.Partial : verdict;
    }

    /// <summary>The verdict of a run of either kind; a shard of a reproduction never claims patch-fixes.</summary>
    public static Verdict Decide(RunKind kind, IReadOnlyList<CellResult> cells, bool shard) =>
        kind == RunKind.Validate ? DecideValidation(cells) : shard ? DecideShard(cells) : Decide(cells);

    /// <summary>
    /// validate: a disagreement is a finding about the model and wins over an infrastructure error elsewhere (which
    /// only leaves scenarios unjudged); no disagreement and an infrastructure error cannot say the model agrees.
    /// </summary>
    public static Verdict DecideValidation(IReadOnlyList<CellResult> cells)
    {
        if (cells.Any(c => c.Observation.Outcome != Outcome.InfraError && !c.Match)) return Verdict.ModelDisagrees;
        if (cells.Count == 0 || cells.Any(c => c.Observation.Outcome == Outcome.InfraError)) return Verdict.InfraError;
        return Verdict.ModelAgrees;
    }

    /// <summary>
    /// A suite's verdict from its cases' verdicts: the most telling any case has (<see cref="Order"/>, as for cells),
    /// patch-fixes only when every case says so.
    /// </summary>
    public static Verdict Suite(IReadOnlyList<Verdict> cases) => cases.Count == 0 ? Verdict.InfraError : MostTelling(cases);

    /// <summary>
    /// A reproduction's verdict from its cells: a finding in any judged cell (a patched kernel that oopsed, a bug not
    /// reproduced, a mismatch) wins over cells that could not be judged; only with no finding does an unjudged cell
    /// make the run infra-error. No cell: nothing judged.
    /// </summary>
    public static Verdict Decide(IReadOnlyList<CellResult> cells)
    {
        if (cells.Count == 0) return Verdict.InfraError;
        var judged = cells.Where(c => !c.Unjudged).ToList();
        if (judged.Any(c => c.Scenario.Kernel.Variant == KernelVariant.Patched && c.Scenario.Kernel.Image is null && c.Observation.Outcome == Outcome.Oops))
            return Verdict.PatchDoesNotFix;
        if (judged.Any(c => c.Prediction.Outcome == Outcome.Oops && c.Observation.Outcome != Outcome.Oops)) return Verdict.NotReproduced;
        if (judged.Any(c => !c.Match)) return Verdict.Mismatch;
        if (judged.Count < cells.Count) return Verdict.InfraError;
        return Verdict.PatchFixes;
    }

    /// <summary>
    /// The run's verdict once what it ran is set against what it should have: a finding stands; otherwise an
    /// interrupted run could not judge, and a plan with missing shards or cells is <see cref="Verdict.Incomplete"/>.
    /// </summary>
    public static Verdict OfRun(Verdict cells, bool interrupted, bool missing) =>
        IsFinding(cells) ? cells : interrupted ? Verdict.InfraError : missing ? MostTelling([cells, Verdict.Incomplete]) : cells;
}
