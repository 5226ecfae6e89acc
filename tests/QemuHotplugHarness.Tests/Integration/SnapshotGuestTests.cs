using CliWrap;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Integration;

/// <summary>
/// Snapshots on real guests (TCG): a restored guest lets in only the key of its own run, and the default matrix
/// still says patch-fixes with every guest booted cold (RealGuestTests runs it from snapshots).
/// </summary>
[TestFixture]
[Category("RealGuest")]
[NonParallelizable]
public class SnapshotGuestTests() : RealGuestFixture("snapshots")
{
    private static readonly TimeSpan Budget = TimeSpan.FromMinutes(60);

    private async Task<string> OtherRunsKeyAsync(CancellationToken ct)
    {
        var key = Path.Combine(Dir, "other-run-key");
        if (!File.Exists(key)) await CliWrap.Cli.Wrap("ssh-keygen").WithArguments(["-q", "-t", "ed25519", "-N", "", "-f", key]).ExecuteAsync(ct);
        return key;
    }

    [Test]
    public async Task The_patched_qemu_holds_no_received_frame_after_the_guest_sets_up_its_nic()
    {
        using var cts = new CancellationTokenSource(Budget);
        var inputs = await Inputs.ResolveAsync(Scenario.Seed.WithKernel(KernelVariant.Patched), cts.Token);
        var help = await CliWrap.Buffered.BufferedCommandExtensions.ExecuteBufferedAsync(
            CliWrap.Cli.Wrap(inputs.Qemu.Binary).WithArguments(["-device", "e1000,help"]).WithValidation(CommandResultValidation.None), cts.Token);
        // qemu-patches/0002: stock QEMU holds frames 1 s after each RCTL write, which the first SSH connection of a
        // cold boot waits out; the patched one has the hold as a property, off.
        Assert.That(help.StandardOutput, Does.Match(@"x-rx-hold-ms=<uint32>\s+-\s+\(default: 0\)"));
    }

    [Test]
    public async Task A_restored_guest_lets_in_only_the_key_of_its_own_run()
    {
        using var cts = new CancellationTokenSource(Budget);
        var scenario = Scenario.Seed.WithKernel(KernelVariant.Patched);
        var inputs = await Inputs.ResolveAsync(scenario, cts.Token);
        var config = CellRunner.Configure(inputs, scenario, Accel.Tcg, Path.Combine(Dir, "restored-console.log"), new RunOptions());
        var snapshot = await Reproducer.Snapshots(Ctx, Log).GetOrMakeAsync(config, CellRunner.Prologue(scenario), cts.Token);
        Assert.That(snapshot, Is.Not.Null, "the snapshot was made (see the log)");
        var other = await OtherRunsKeyAsync(cts.Token);
        await using var guest = await QemuGuest.RestoreAsync(config, snapshot!, Log, cts.Token);
        var otherRun = new SshEndpoint(guest.SshPort, other, config.PinnedHostKey);

        var before = (await Assert.ThrowsAsync<GuestNotReadyException>(() => SshSession.ConnectAsync(otherRun, TimeSpan.FromSeconds(6), Log, cts.Token)))!;
        Assert.That(before.Reason, Is.EqualTo(NotReadyReason.SshUnavailable), "the snapshot holds no key: nobody gets in before this run's key arrives");

        await guest.WaitReadyAsync(cts.Token);
        Assert.That(guest.RestoredFrom?.Key, Is.EqualTo(snapshot!.Key));
        Assert.That((await guest.RunShellAsync("cat /root/.ssh/authorized_keys", config.Timeouts.Probe, cts.Token)).Stdout.Trim().Split('\n'), Has.Length.EqualTo(1),
            "exactly one key: this run's");

        var after = (await Assert.ThrowsAsync<GuestNotReadyException>(() => SshSession.ConnectAsync(otherRun, TimeSpan.FromSeconds(6), Log, cts.Token)))!;
        Assert.That(after.Reason, Is.EqualTo(NotReadyReason.SshUnavailable), "another run's key is refused by a guest restored for this one");
        Assert.That(after.Message, Does.Contain("Permission denied").IgnoreCase.Or.Contain("authentication").IgnoreCase);
    }

    [Test]
    public async Task The_default_matrix_booted_cold_says_patch_fixes_with_every_cell_matching()
    {
        using var cts = new CancellationTokenSource(Budget);
        var artifacts = Path.Combine(Dir, "cold-matrix");
        var work = Reproducer.Plan(Matrix.Shard(SeedMatrix.Cells(Scenario.Seed), 1, null));
        var summary = await new Reproducer(Ctx, Inputs, Log).RunAsync(work, artifacts, new RunOptions { Accel = AccelChoice.Tcg, Snapshots = false }, null,
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
