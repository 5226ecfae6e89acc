using QemuHotplugHarness.Orchestration;

namespace QemuHotplugHarness.Cli.Commands;

/// <summary>
/// The exit codes (<see cref="ExitCode"/>) of run, reproduce and merge, decided in one place: 0 the check held, 1 it
/// failed (a mismatch, a patch that does not fix, a bug not reproduced), 3 the run could not judge (infrastructure, a
/// guest that was not the machine asked for, a merge missing shards or cells of its plan). With --bisect: 0 good, 1 bad, 125 skip, as git bisect run wants.
/// </summary>
public static class VerdictExit
{
    public static int Of(Verdict verdict, bool bisect) => verdict switch
    {
        Verdict.PatchFixes or Verdict.ModelAgrees => (int)ExitCode.Success,
        // A shard whose cells all match: success for the shard's CI job; git bisect cannot decide on a part.
        Verdict.Partial => (int)(bisect ? ExitCode.BisectSkip : ExitCode.Success),
        Verdict.InfraError or Verdict.Incomplete => (int)(bisect ? ExitCode.BisectSkip : ExitCode.Infrastructure),
        _ => (int)ExitCode.CheckFailed,
    };

    /// <summary>One cell (run): infra-error and precondition-failed cannot judge; otherwise it holds when it matches.</summary>
    public static int Of(CellResult cell) =>
        cell.Unjudged ? (int)ExitCode.Infrastructure : cell.Match ? (int)ExitCode.Success : (int)ExitCode.CheckFailed;
}
