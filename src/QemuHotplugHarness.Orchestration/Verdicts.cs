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

    /// <summary>Verdicts of a suite's cases, most telling first: the suite says patch-fixes only when every case does.</summary>
    private static readonly Verdict[] SuiteOrder = [Verdict.InfraError, Verdict.PatchDoesNotFix, Verdict.NotReproduced, Verdict.Mismatch, Verdict.Partial];

    /// <summary>
    /// A suite's verdict from its cases' verdicts: the first of <see cref="SuiteOrder"/> any case has (the order
    /// <see cref="Decide(IReadOnlyList{CellResult})"/> applies to cells), patch-fixes only when every case says so.
    /// </summary>
    public static Verdict Suite(IReadOnlyList<Verdict> cases)
    {
        if (cases.Count == 0) return Verdict.InfraError;
        foreach (var v in SuiteOrder)
            if (cases.Contains(v)) return v;
        return cases.All(v => v == Verdict.PatchFixes) ? Verdict.PatchFixes : Verdict.Mismatch;
    }

    public static Verdict Decide(IReadOnlyList<CellResult> cells)
    {
        if (cells.Count == 0 || cells.Any(c => c.Unjudged)) return Verdict.InfraError;
        if (cells.Any(c => c.Scenario.Kernel.Variant == KernelVariant.Patched && c.Scenario.Kernel.Image is null && c.Observation.Outcome == Outcome.Oops))
            return Verdict.PatchDoesNotFix;
        if (cells.Any(c => c.Prediction.Outcome == Outcome.Oops && c.Observation.Outcome != Outcome.Oops)) return Verdict.NotReproduced;
        if (cells.Any(c => !c.Match)) return Verdict.Mismatch;
        return Verdict.PatchFixes;
    }
}
