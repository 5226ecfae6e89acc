namespace QemuHotplugHarness.Cli;

/// <summary>
/// The exit codes of every qhh command, in one place:
/// <list type="bullet">
/// <item>0 ok: the check held (run matches its prediction; reproduce and merge: verdict patch-fixes; validate: every scenario agrees).</item>
/// <item>1 a check failed: a mismatch, a verdict that is a finding (patch-does-not-fix, not-reproduced, mismatch,
/// model-disagrees), compare found a regression, scan --fail-on-oops found a crash.</item>
/// <item>2 bad input or usage: one line per problem on stderr, each <c>qhh: --flag VALUE: reason</c>.</item>
/// <item>3 could not judge: infrastructure (QEMU, SSH, a missing tool), verdict infra-error or incomplete (merge
/// missing a shard or a cell of its plan), a run whose preconditions failed, or an internal error.</item>
/// <item>4 setup failed: a build of what the guests boot (QEMU, a kernel, the image) or of a kernel line's apt source
/// failed before any cell ran; run.ps1 exits 4 too when apt or the harness's own build fails.</item>
/// <item>130 interrupted (Ctrl-C, SIGINT); 143 terminated (SIGTERM). Guests are torn down and the partial summary
/// written (<c>interrupted: true</c>) either way.</item>
/// </list>
/// With <c>--bisect</c> (reproduce, merge) the verdict maps to what <c>git bisect run</c> wants: 0 good, 1 bad, 125 skip.
/// </summary>
public enum ExitCode
{
    Success = 0,
    CheckFailed = 1,
    BadInput = 2,
    Infrastructure = 3,
    /// <summary>A tool that sets up the run's inputs failed (a build, apt): nothing was judged, and nothing about the kernel under test is known.</summary>
    SetupFailed = 4,
    /// <summary>--bisect: the commit cannot be judged (git bisect run skips it).</summary>
    BisectSkip = 125,
    Interrupted = 130,
    /// <summary>SIGTERM: handled like Ctrl-C, exit 128 + 15 as shells report a process ended by it.</summary>
    Terminated = 143,
}
