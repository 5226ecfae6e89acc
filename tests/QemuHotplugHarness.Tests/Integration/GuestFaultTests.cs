using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Integration;

/// <summary>
/// Faults caused for real on real guests (TCG): a guest whose host key is not the pinned one, and a QEMU killed
/// from outside in the middle of the workload. Uses the cached builds of the seed (the RealGuest matrix builds them).
/// </summary>
[TestFixture]
[Category("RealGuest")]
[NonParallelizable]
public class GuestFaultTests() : RealGuestFixture("faults")
{
    private static readonly TimeSpan Budget = TimeSpan.FromMinutes(60);

    [Test]
    public async Task A_guest_whose_host_key_is_not_the_pinned_one_is_refused_before_any_command()
    {
        using var cts = new CancellationTokenSource(Budget);
        var seed = Scenario.Seed.WithKernel(KernelVariant.Patched);
        var inputs = await Inputs.ResolveAsync(seed, cts.Token);
        // A syntactically valid ed25519 key that is not the image's.
        const string otherKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl other";
        var console = Path.Combine(Dir, "hostkey-console.log");
        var config = CellRunner.Builder(inputs with { Image = inputs.Image with { HostPublicKey = otherKey } }, seed, Accel.Tcg, console, new RunOptions()).Build();
        await using var guest = await QemuGuest.StartAsync(config, Log, cts.Token);
        var e = (await Assert.ThrowsAsync<GuestNotReadyException>(() => guest.WaitReadyAsync(cts.Token)))!;
        Assert.That(e.Reason, Is.EqualTo(NotReadyReason.HostKeyMismatch), e.Message);
        Assert.That(e.Message, Does.Contain("host key is not the one pinned"));
        Assert.That(() => guest.RunShellAsync("true", TimeSpan.FromSeconds(5), cts.Token), Throws.InvalidOperationException, "no session, so no command can be sent");
        Assert.That(File.ReadAllText(console), Does.Contain(config.ReadyMarker), "the guest itself was fine: only its key was refused");
    }

    [Test]
    public async Task A_qemu_killed_mid_workload_is_an_infra_error_naming_the_signal_retried_once_with_both_attempts_kept_and_the_matrix_goes_on()
    {
        using var cts = new CancellationTokenSource(Budget);
        var killedScenario = Scenario.Seed.WithKernel(KernelVariant.Patched).WithPse(true).WithIterations(3);
        var nextScenario = Scenario.Seed.WithKernel(KernelVariant.Patched).WithIterations(2);
        var work = Reproducer.Plan([(new Cell("killed", killedScenario), 1), (new Cell("next", nextScenario), 1)]);
        var artifacts = Path.Combine(Dir, "killed-matrix");
        var files = new CellArtifacts(Path.Combine(artifacts, "killed"));
        var killed = 0;
        var pids = new List<int>();
        void OnStarted(int pid) { lock (pids) pids.Add(pid); }
        void Progress(string cell, string step)
        {
            if (cell != "killed" || step != "iteration 2" || Interlocked.Exchange(ref killed, 1) == 1) return;
            // SIGKILL, from outside the runner, to the QEMU still running (the one that made the guest's snapshot has ended)
            lock (pids) foreach (var pid in pids.Where(p => Directory.Exists($"/proc/{p}"))) System.Diagnostics.Process.GetProcessById(pid).Kill();
        }
        QemuProcess.AnyStarted += OnStarted;
        Summary summary;
        try
        {
            summary = await new Reproducer(Ctx, Inputs, Log).RunAsync(work, artifacts, new RunOptions { Accel = AccelChoice.Tcg }, null, Progress, cts.Token);
        }
        finally
        {
            QemuProcess.AnyStarted -= OnStarted;
        }
        Assert.That(killed, Is.EqualTo(1), "the workload reached iteration 2");
        var (first, second) = (summary.Cells.Single(c => c.Name == "killed"), summary.Cells.Single(c => c.Name == "next"));
        Assert.Multiple(() =>
        {
            var o = first.Observation;
            var attempt = o.EarlierAttempts.Single();
            var kept = files.Attempt(1);
            Assert.That(attempt.Outcome, Is.EqualTo(Outcome.InfraError), attempt.Error);
            Assert.That(attempt.Error, Does.Contain("iteration 2").And.Contain("killed by SIGKILL"));
            Assert.That(File.Exists(kept.Observation), Is.True, "the first attempt's observation.json is kept");
            Assert.That(File.ReadAllText(kept.Console), Does.Contain("QHH-READY"), "the first attempt's console is kept");
            Assert.That(File.ReadAllText(kept.NdctlLog), Does.Contain("### reconfigure-2"));
            Assert.That(o.Outcome, Is.EqualTo(Outcome.Clean), "the retry, not killed, observed the cell: " + o.Error);
            Assert.That(o.Iterations.Select(i => i.Index), Is.EqualTo(new[] { 1, 2, 3 }));
            Assert.That(File.Exists(files.Observation), Is.True);
            Assert.That(second.Observation.Outcome, Is.EqualTo(Outcome.Clean), "the next cell ran after the killed one: " + second.Observation.Error);
            Assert.That(second.Observation.Iterations, Has.Count.EqualTo(2));
            Assert.That(second.Match, Is.True, string.Join("; ", second.Mismatches));
            Assert.That(summary.Verdict, Is.Not.EqualTo(Verdict.InfraError), "the retried cell was observed: the glitch does not decide the run");
            Assert.That(File.Exists(Path.Combine(artifacts, "summary.json")), Is.True);
        });
        lock (pids) Assert.That(pids.Where(p => Directory.Exists($"/proc/{p}")), Is.Empty, "no QEMU left");
    }

    /// <summary>A seed guest of the cached builds, its console in this fixture's folder, with the given changes.</summary>
    private async Task<GuestBuilder> SeedGuestAsync(string name, CancellationToken ct)
    {
        var seed = Scenario.Seed.WithKernel(KernelVariant.Patched).WithPse(true);
        var inputs = await Inputs.ResolveAsync(seed, ct);
        return CellRunner.Builder(inputs, seed, Accel.Tcg, Path.Combine(Dir, name + "-console.log"), new RunOptions());
    }

    [Test]
    public async Task A_guest_whose_sshd_never_answers_is_not_ready_after_the_ssh_timeout_with_its_console_kept()
    {
        using var cts = new CancellationTokenSource(Budget);
        var builder = await SeedGuestAsync("no-sshd", cts.Token);
        var image = builder.Configuration.WriteInitrd;
        // The run's initrd, then one more archive whose host key is garbage: dropbear refuses to start, init goes on.
        var config = (builder with { Configuration = builder.Configuration with { WriteInitrd = path =>
        {
            image(path);
            using var file = new FileStream(path, FileMode.Append);
            while (file.Length % 512 != 0) file.WriteByte(0);
            using var overlay = new NewcArchive(file);
            overlay.AddFile("etc/dropbear/dropbear_ed25519_host_key", "not a key"u8.ToArray(), 0b110_000_000);
        } } }).WithTimeouts(new GuestTimeouts { Ssh = TimeSpan.FromSeconds(8) }).Build();
        await using var guest = await QemuGuest.StartAsync(config, Log, cts.Token);
        var e = (await Assert.ThrowsAsync<GuestNotReadyException>(() => guest.WaitReadyAsync(cts.Token)))!;
        Assert.That(e.Reason, Is.EqualTo(NotReadyReason.SshUnavailable), e.Message);
        Assert.That(e.Message, Does.Contain($"within 8 s"));
        Assert.That(File.ReadAllText(config.ConsoleLog), Does.Contain(config.ReadyMarker), "console kept: the guest booted, only sshd is missing");
    }

    [Test]
    public async Task A_kernel_without_a_working_init_is_a_crash_while_booting_not_a_timeout()
    {
        using var cts = new CancellationTokenSource(Budget);
        var config = (await SeedGuestAsync("bogus-init", cts.Token)).WithKernelAppend("console=ttyS0 nokaslr panic=-1 rdinit=/nonexistent init=/nonexistent")
            .WithTimeouts(new GuestTimeouts { Boot = TimeSpan.FromSeconds(60) }).Build();
        await using var guest = await QemuGuest.StartAsync(config, Log, cts.Token);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var e = (await Assert.ThrowsAsync<GuestNotReadyException>(() => guest.WaitReadyAsync(cts.Token)))!;
        Assert.That(e.Reason, Is.EqualTo(NotReadyReason.CrashedWhileBooting), e.Message);
        Assert.That(e.Message, Does.Contain("kernel panic"));
        Assert.That(started.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), "told by the console, not by the boot timeout");
        Assert.That(File.ReadAllText(config.ConsoleLog), Does.Contain("Kernel panic"), "console kept");
    }

    [Test]
    public async Task No_qemu_outlives_a_harness_killed_with_SIGKILL()
    {
        if (!LifetimeBound.Available) Assert.Ignore($"{LifetimeBound.Setpriv} is missing (Debian's util-linux): QEMU cannot be bound to the harness's life");
        var artifacts = Path.Combine(Dir, "sigkill");
        var qhh = Path.Combine(AppContext.BaseDirectory, "qhh.dll");
        using var harness = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dotnet",
            [qhh, "run", "--kernel", "patched", "--pse", "on", "--iterations", "20", "--accel", "tcg", "--artifacts", artifacts])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        try
        {
            var qemu = await ChildNamedAsync(harness.Id, "qemu-system", TimeSpan.FromMinutes(5));
            Assert.That(qemu, Is.Not.Null, "the harness started a QEMU");
            await Task.Delay(TimeSpan.FromSeconds(2)); // booting, well inside the run
            harness.Kill(); // SIGKILL: no handler, no dispose, no teardown runs in the harness
            await harness.WaitForExitAsync();
            var gone = await PollAsync(() => !Alive(qemu!.Value), TimeSpan.FromSeconds(5));
            Assert.That(gone, Is.True, $"QEMU pid {qemu} still runs 5 s after its harness was killed");
        }
        finally
        {
            if (!harness.HasExited) harness.Kill(entireProcessTree: true);
        }
    }

    /// <summary>A process that exists and is not a zombie (a killed child waits as a zombie until init reaps it).</summary>
    private static bool Alive(int pid)
    {
        var status = $"/proc/{pid}/status";
        try { return File.Exists(status) && !File.ReadLines(status).Any(l => l.StartsWith("State:", StringComparison.Ordinal) && l.Contains("zombie", StringComparison.Ordinal)); }
        catch (IOException) { return false; }
    }

    private static async Task<int?> ChildNamedAsync(int parent, string name, TimeSpan timeout)
    {
        int? found = null;
        await PollAsync(() => (found = ChildNamed(parent, name)) is not null, timeout);
        return found;
    }

    private static int? ChildNamed(int parent, string name)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var comm = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
                var ppid = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
                if (ppid == parent && comm.StartsWith(name, StringComparison.Ordinal)) return pid;
            }
            catch (IOException) { }
        }
        return null;
    }

    private static Task<bool> PollAsync(Func<bool> condition, TimeSpan timeout) =>
        Poll.UntilAsync(condition, Deadline.In(timeout), TimeSpan.FromMilliseconds(100), CancellationToken.None);
}

/// <summary>
/// QEMU SIGKILLed from outside at each step of a cell (cold boot, boot-fact reads, the workload, collection): the cell is
/// infra-error naming how QEMU ended, never a precondition, a rejection or a workload result.
/// </summary>
[TestFixture]
[Category("RealGuest")]
[NonParallelizable]
public class GuestKilledAtEachStepTests() : RealGuestFixture("killed-at-step")
{
    [TestCase("booting")]
    [TestCase("reading boot facts")]
    [TestCase("iteration 1")]
    [TestCase("collecting")]
    public async Task A_qemu_killed_at_a_step_is_an_infra_error_naming_its_end(string step)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        var scenario = Scenario.Seed.WithKernel(KernelVariant.Patched).WithPse(true).WithIterations(1);
        var artifacts = Path.Combine(Dir, step.Replace(' ', '-'));
        var pids = new List<int>();
        Task<bool>? killing = null;
        void OnStarted(int pid) { lock (pids) pids.Add(pid); }
        void Progress(string cell, string at)
        {
            if (at == step && killing is null) killing = KillTheRunningQemuAsync(pids, cts.Token);
        }
        QemuProcess.AnyStarted += OnStarted;
        Summary summary;
        try
        {
            summary = await new Reproducer(Ctx, Inputs, Log) { RetryInfraErrors = false }.RunAsync(Reproducer.Plan([(new Cell("killed", scenario), 1)]), artifacts,
                new RunOptions { Accel = AccelChoice.Tcg, Snapshots = false }, null, Progress, cts.Token);
        }
        finally
        {
            QemuProcess.AnyStarted -= OnStarted;
        }
        Assert.That(killing, Is.Not.Null, $"the cell reached '{step}'");
        Assert.That(await killing!, Is.True, "a QEMU was killed");
        var o = summary.Cells.Single().Observation;
        Assert.That(o.Outcome, Is.EqualTo(Outcome.InfraError), o.Error);
        Assert.That(o.Error, Does.Contain("killed by SIGKILL"));
        Assert.That(o.PreconditionFailures, Is.Empty);
        lock (pids) Assert.That(pids.Where(p => Directory.Exists($"/proc/{p}")), Is.Empty, "no QEMU left");
    }

    /// <summary>SIGKILL to the QEMU the cell runs, as soon as one is running (at "booting" it is about to start).</summary>
    private static async Task<bool> KillTheRunningQemuAsync(List<int> pids, CancellationToken ct)
    {
        for (var tries = 0; tries < 200; tries++)
        {
            int[] running;
            lock (pids) running = pids.Where(p => Directory.Exists($"/proc/{p}")).ToArray();
            if (running.Length > 0)
            {
                foreach (var pid in running) System.Diagnostics.Process.GetProcessById(pid).Kill();
                return true;
            }
            await Task.Delay(50, ct);
        }
        return false;
    }
}
