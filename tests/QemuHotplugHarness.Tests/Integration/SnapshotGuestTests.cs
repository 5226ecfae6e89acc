using CliWrap;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Tests.Integration;

/// <summary>
/// Snapshots on real guests (TCG): a restored guest lets in only the key of its own run, and the default matrix
/// still says patch-fixes with every guest booted cold (RealGuestTests runs it from snapshots).
/// </summary>
[TestFixture]
[Category("RealGuest")]
[NonParallelizable]
public class SnapshotGuestTests
{
    private static readonly TimeSpan Budget = TimeSpan.FromMinutes(60);
    private string _dir = "";
    private Serilog.Core.Logger _log = null!;
    private BuildContext _ctx = null!;
    private InputsResolver _inputs = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("qhh-snapshots-").FullName;
        _log = new LoggerConfiguration().MinimumLevel.Information().WriteTo.Sink(new ProgressSink()).CreateLogger();
        _ctx = BuildContext.Create(_log, _dir);
        _inputs = new InputsResolver(_ctx, KernelSources.Default);
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        _log.Dispose();
        TestContext.Progress.WriteLine($"snapshot test artifacts: {_dir}");
    }

    private sealed class ProgressSink : Serilog.Core.ILogEventSink
    {
        public void Emit(Serilog.Events.LogEvent e) => TestContext.Progress.WriteLine($"[{e.Timestamp:HH:mm:ss}] {e.RenderMessage()}");
    }

    private async Task<string> OtherRunsKeyAsync(CancellationToken ct)
    {
        var key = Path.Combine(_dir, "other-run-key");
        if (!File.Exists(key)) await CliWrap.Cli.Wrap("ssh-keygen").WithArguments(["-q", "-t", "ed25519", "-N", "", "-f", key]).ExecuteAsync(ct);
        return key;
    }

    [Test]
    public async Task A_restored_guest_lets_in_only_the_key_of_its_own_run()
    {
        using var cts = new CancellationTokenSource(Budget);
        var scenario = Scenario.Seed.WithKernel(KernelVariant.Patched);
        var inputs = await _inputs.ResolveAsync(scenario, cts.Token);
        var config = CellRunner.Configure(inputs, scenario, Accel.Tcg, Path.Combine(_dir, "restored-console.log"), new RunOptions());
        var snapshot = await Reproducer.Snapshots(_ctx, _log).GetOrMakeAsync(config, CellRunner.Prologue(scenario), cts.Token);
        Assert.That(snapshot, Is.Not.Null, "the snapshot was made (see the log)");
        var other = await OtherRunsKeyAsync(cts.Token);
        await using var guest = await QemuGuest.RestoreAsync(config, snapshot!, _log, cts.Token);
        var otherRun = new SshEndpoint(guest.SshPort, other, config.PinnedHostKey);

        var before = (await Assert.ThrowsAsync<GuestNotReadyException>(() => SshSession.ConnectAsync(otherRun, TimeSpan.FromSeconds(6), _log, cts.Token)))!;
        Assert.That(before.Reason, Is.EqualTo(NotReadyReason.SshUnavailable), "the snapshot holds no key: nobody gets in before this run's key arrives");

        await guest.WaitReadyAsync(cts.Token);
        Assert.That(guest.RestoredFrom?.Key, Is.EqualTo(snapshot!.Key));
        Assert.That((await guest.RunShellAsync("cat /root/.ssh/authorized_keys", config.Timeouts.Probe, cts.Token)).Stdout.Trim().Split('\n'), Has.Length.EqualTo(1),
            "exactly one key: this run's");

        var after = (await Assert.ThrowsAsync<GuestNotReadyException>(() => SshSession.ConnectAsync(otherRun, TimeSpan.FromSeconds(6), _log, cts.Token)))!;
        Assert.That(after.Reason, Is.EqualTo(NotReadyReason.SshUnavailable), "another run's key is refused by a guest restored for this one");
        Assert.That(after.Message, Does.Contain("Permission denied").IgnoreCase.Or.Contain("authentication").IgnoreCase);
    }

    [Test]
    public async Task The_default_matrix_booted_cold_says_patch_fixes_with_every_cell_matching()
    {
        using var cts = new CancellationTokenSource(Budget);
        var artifacts = Path.Combine(_dir, "cold-matrix");
        var work = Reproducer.Plan(Matrix.Shard(Matrix.Default(Scenario.Seed), 1, null));
        var summary = await new Reproducer(_ctx, _inputs, _log).RunAsync(work, artifacts, new RunOptions { Accel = AccelChoice.Tcg, Snapshots = false }, null,
            (cell, state) => TestContext.Progress.WriteLine($"  [{cell}] {state}"), cts.Token);
        Assert.Multiple(() =>
        {
            Assert.That(summary.Verdict, Is.EqualTo(Verdict.PatchFixes));
            Assert.That(summary.Cells.Where(c => !c.Match).Select(c => $"{c.Name}: {string.Join("; ", c.Mismatches)}"), Is.Empty);
            Assert.That(summary.Cells.Select(c => c.Observation.Snapshot), Is.All.Null, "--no-snapshot: every guest booted cold");
            Assert.That(summary.Cells.Where(c => c.Observation.Outcome != Outcome.Rejected).Select(c => c.Observation.MarkerSeconds), Is.All.Not.Null);
        });
    }
}
