using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using Serilog;

namespace QemuHotplugHarness.Tests.Reliability;

/// <summary>
/// Faults caused for real on real guests (TCG), from issue 15's table: a guest wedged after the oops, the SSH port
/// taken between probe and bind, a disk that fills under a run, a log storm, SIGINT/SIGTERM during reproduce, two
/// reproductions at once. Uses the cached builds (the RealGuest matrix builds them).
/// </summary>
[TestFixture]
[Category("RealGuest")]
[NonParallelizable]
public partial class GuestReliabilityTests
{
    private static readonly TimeSpan Budget = TimeSpan.FromMinutes(20);
    private string _dir = "";
    private Serilog.Core.Logger _log = null!;
    private readonly List<string> _lines = [];
    private BuildContext _ctx = null!;
    private InputsResolver _inputs = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("qhh-reliability-").FullName;
        _log = new LoggerConfiguration().MinimumLevel.Information().WriteTo.Sink(new Sink(_lines)).CreateLogger();
        _ctx = BuildContext.Create(_log, _dir);
        _inputs = new InputsResolver(_ctx, KernelSources.Default);
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        _log.Dispose();
        TestContext.Progress.WriteLine($"reliability artifacts: {_dir}");
    }

    private sealed class Sink(List<string> lines) : Serilog.Core.ILogEventSink
    {
        public void Emit(Serilog.Events.LogEvent e)
        {
            var text = new StringWriter();
            new Serilog.Formatting.Display.MessageTemplateTextFormatter("[{Timestamp:HH:mm:ss}] {Message:lj}").Format(e, text);
            var line = text.ToString();
            lock (lines) lines.Add(line);
            TestContext.Progress.WriteLine(line);
        }
    }

    private string[] Logged()
    {
        lock (_lines) return _lines.ToArray();
    }

    private async Task<(GuestConfiguration Config, GuestInputs Inputs)> SeedGuestAsync(Scenario scenario, string name, GuestTimeouts timeouts, CancellationToken ct, string? append = null)
    {
        var inputs = await _inputs.ResolveAsync(scenario, ct);
        var builder = CellRunner.Builder(inputs, scenario, Accel.Tcg, Path.Combine(_dir, name + "-console.log"), new RunOptions { Timeouts = timeouts });
        if (append is not null) builder = builder.WithKernelAppend(builder.Configuration.KernelAppend + " " + append);
        return (builder.Build(), inputs);
    }

    // ---- guest wedged after the oops ----------------------------------------------------------------------------

    /// <summary>
    /// The shell of a real guest, except that the reconfiguration that oopses is followed, in the same command, by the
    /// next one: the unpatched kernel oopsed while holding the namespace's device lock, so that next ndctl never returns.
    /// </summary>
    private sealed class WedgeAfterReconfigure(QemuGuest guest, int iteration) : IGuestShell
    {
        private int _reconfigures;

        public Task<GuestCommandResult> RunAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken ct)
        {
            if (!argv.Any(a => a.StartsWith("--reconfig", StringComparison.Ordinal)) || ++_reconfigures != iteration) return guest.RunAsync(argv, timeout, ct);
            var once = string.Join(' ', argv.Select(SshSession.Quote));
            return guest.RunShellAsync($"{once}; {once}", timeout, ct);
        }

        public Task<GuestCommandResult> RunShellAsync(string command, TimeSpan timeout, CancellationToken ct) => guest.RunShellAsync(command, timeout, ct);
    }

    private sealed class NdctlLog : IWorkloadRecorder
    {
        public List<string> Steps { get; } = [];
        public Task StepAsync(WorkloadStep step, GuestCommandResult result, CancellationToken ct)
        {
            Steps.Add($"{step.Name}: exit {result.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? (result.TimedOut ? "timeout" : "none")}");
            return Task.CompletedTask;
        }
        public Task IomemAsync(int iteration, string iomem, CancellationToken ct) => Task.CompletedTask;
    }

    [Test]
    public async Task A_guest_wedged_after_the_oops_is_oops_not_hung_and_is_torn_down_within_its_deadline()
    {
        using var cts = new CancellationTokenSource(Budget);
        var timeouts = new GuestTimeouts { Command = TimeSpan.FromSeconds(15) };
        var scenario = Scenario.Seed.WithKernel(KernelVariant.Unpatched).WithPse(false).WithIterations(3);
        var (config, _) = await SeedGuestAsync(scenario, "wedged", timeouts, cts.Token);
        var guest = await QemuGuest.StartAsync(config, _log, cts.Token);
        WorkloadResult result;
        var recorder = new NdctlLog();
        try
        {
            await guest.WaitReadyAsync(cts.Token);
            result = await new WorkloadRunner(new WedgeAfterReconfigure(guest, iteration: 2), guest, recorder, timeouts).RunAsync(scenario.Workload.Steps(), null, cts.Token);
        }
        finally
        {
            var teardown = Stopwatch.StartNew();
            await guest.DisposeAsync();
            // QMP quit, then SIGINT, then SIGKILL: each step bounded by Teardown.
            Assert.That(teardown.Elapsed, Is.LessThan(timeouts.Teardown * 3 + TimeSpan.FromSeconds(2)), "teardown of a wedged guest within its deadline");
        }
        TestContext.Progress.WriteLine("wedged: " + string.Join("; ", recorder.Steps));
        Assert.Multiple(() =>
        {
            Assert.That(result.Outcome, Is.EqualTo(Outcome.Oops), result.Error);
            Assert.That(result.OopsIteration, Is.EqualTo(2));
            Assert.That(result.Iterations[^1].TimedOut, Is.True, "the guest really wedged: the command after the oops never returned, the per-command timeout fired");
            Assert.That(result.Iterations[^1].Seconds, Is.GreaterThanOrEqualTo(timeouts.Command.TotalSeconds - 0.5));
            Assert.That(guest.Qemu.HasExited, Is.True);
        });
    }

    // ---- the SSH port taken between probe and bind -------------------------------------------------------------

    [Test]
    public async Task A_port_taken_between_probe_and_bind_is_retried_on_another_port_and_never_reaches_another_listener()
    {
        using var cts = new CancellationTokenSource(Budget);
        var scenario = Scenario.Seed.WithKernel(KernelVariant.Patched).WithPse(true).WithIterations(1);
        var files = new CellArtifacts(Path.Combine(_dir, "port-race"));
        TcpListener? thief = null;
        var chosen = new List<int>();
        void Steal(int port)
        {
            lock (chosen) chosen.Add(port);
            if (thief is not null) return;
            thief = new TcpListener(IPAddress.Loopback, port); // another program takes the port in the window
            thief.Start();
        }
        QemuGuest.FreePortChosen += Steal;
        Observation o;
        try
        {
            o = await new Reproducer(_ctx, _inputs, _log).ObserveAsync(new CellRequest(scenario, Predictor.Predict(scenario), files),
                new RunOptions { Accel = AccelChoice.Tcg, Snapshots = false }, cts.Token); // the cold boot's probe-then-bind window
        }
        finally
        {
            QemuGuest.FreePortChosen -= Steal;
        }
        try
        {
            Assert.That(thief, Is.Not.Null, "the port was taken");
            Assert.That(o.Outcome, Is.EqualTo(Outcome.Clean), o.Error);
            Assert.That(chosen, Has.Count.EqualTo(2), "one retry");
            Assert.That(chosen[1], Is.Not.EqualTo(chosen[0]));
            Assert.That(File.ReadAllText(files.QemuCommandLine), Does.Contain($"hostfwd=tcp:127.0.0.1:{chosen[1]}-:22"), "the guest ran on the second port");
            Assert.That(thief!.Pending(), Is.False, "nothing connected to the program that holds the first port");
            Assert.That(Logged(), Has.Some.Contains($"127.0.0.1:{chosen[0]}").And.Some.Contains("trying another port"));
        }
        finally
        {
            thief?.Stop();
        }
    }

    // ---- a log storm -------------------------------------------------------------------------------------------

    [Test]
    public async Task A_console_storm_is_saved_to_the_last_byte_with_bounded_memory_and_a_timeout_still_ends_it()
    {
        using var cts = new CancellationTokenSource(Budget);
        var timeouts = new GuestTimeouts { Command = TimeSpan.FromSeconds(10) };
        var scenario = Scenario.Seed.WithKernel(KernelVariant.Patched).WithPse(true);
        var (config, _) = await SeedGuestAsync(scenario, "storm", timeouts, cts.Token);
        const int lineBytes = 1_000_000; // one line far longer than any the harness holds (MaxLineBytes)
        long heapBefore, heapAfter;
        GuestCommandResult flood, endless;
        await using (var guest = await QemuGuest.StartAsync(config, _log, cts.Token))
        {
            await guest.WaitReadyAsync(cts.Token);
            heapBefore = GC.GetTotalMemory(forceFullCollection: true);
            flood = await guest.RunShellAsync($"head -c {lineBytes} /dev/zero | tr '\\0' x > /dev/console; echo > /dev/console; echo qhh-storm-end > /dev/console", TimeSpan.FromMinutes(5), cts.Token);
            // Then lines without end, under the per-command timeout: it must fire, and teardown must still work.
            endless = await guest.RunShellAsync("i=0; while :; do i=$((i+1)); echo \"qhh-storm $i\"; done > /dev/console", timeouts.Command, cts.Token);
            heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        }
        var console = File.ReadAllBytes(config.ConsoleLog);
        var text = Encoding.ASCII.GetString(console);
        var run = System.Text.RegularExpressions.Regex.Match(text, "x{1000,}");
        TestContext.Progress.WriteLine($"storm: console.log {console.Length} bytes; long line {run.Length} bytes; heap {heapBefore / 1e6:F1} -> {heapAfter / 1e6:F1} MB");
        Assert.Multiple(() =>
        {
            Assert.That(flood.ExitCode, Is.EqualTo(0), flood.Stderr);
            Assert.That(run.Length, Is.EqualTo(lineBytes), "the long line is in console.log whole");
            Assert.That(text, Does.Contain("qhh-storm-end"));
            Assert.That(endless.TimedOut, Is.True, "the per-command timeout ends the endless storm");
            Assert.That(System.Text.RegularExpressions.Regex.Matches(text, "qhh-storm \\d+").Count, Is.GreaterThan(100), "the storm reached the console");
            Assert.That(heapAfter - heapBefore, Is.LessThan(32L << 20), "memory bounded: nothing of the storm is held (a 1 MB line would be held twice as UTF-16)");
        });
        AssertConsecutive(text);
    }

    /// <summary>The numbered storm lines in console.log follow each other without a gap: nothing lost between QEMU and the file.</summary>
    private static void AssertConsecutive(string text)
    {
        var numbers = System.Text.RegularExpressions.Regex.Matches(text, "qhh-storm (\\d+)\\r?\\n").Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var gaps = numbers.Zip(numbers.Skip(1)).Count(p => p.Second != p.First + 1);
        Assert.That(gaps, Is.EqualTo(0), $"{numbers.Count} storm lines, {gaps} gaps");
    }

    // ---- the artifacts folder fills up ---------------------------------------------------------------------------

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    private static async Task<(int Code, string Stdout, string Stderr)> RunQhhAsync(string cwd, IReadOnlyList<string> args, TimeSpan timeout, Func<Process, Task>? during = null)
    {
        var qhh = Path.Combine(AppContext.BaseDirectory, "qhh.dll");
        // Through env(1), which execs dotnet in its own pid with SIGINT at its default: a test runner started in the
        // background of a shell without job control ignores SIGINT, and qhh would inherit that (as any program does).
        var start = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = cwd };
        foreach (var a in new[] { "--default-signal=INT", "dotnet", qhh }) start.ArgumentList.Add(a);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            if (during is not null) await during(p);
            await p.WaitForExitAsync(cts.Token);
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
        return (p.ExitCode, await stdout, await stderr);
    }

    private static bool MountTmpfs(string dir, string size, out string why)
    {
        Directory.CreateDirectory(dir);
        var mount = Process.Start(new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", $"size={size},mode=0755", "qhh-full", dir]) { RedirectStandardError = true })!;
        mount.WaitForExit();
        why = mount.StandardError.ReadToEnd().Trim();
        return mount.ExitCode == 0;
    }

    private static void Unmount(string dir) => Process.Start(new ProcessStartInfo("umount", ["-l", dir]))!.WaitForExit();

    private static void Fill(string dir)
    {
        try
        {
            using var f = new FileStream(Path.Combine(dir, "filler"), FileMode.Create);
            var block = new byte[64 * 1024];
            while (true) f.Write(block);
        }
        catch (IOException) { }
    }

    [Test]
    public async Task A_full_artifacts_disk_is_refused_before_any_guest_and_a_run_it_fills_says_what_it_lost_and_tears_down()
    {
        var mountPoint = Path.Combine(_dir, "small-disk");
        if (!MountTmpfs(mountPoint, "4m", out var why)) Assert.Ignore($"cannot mount a small tmpfs here ({why}): needs root or CAP_SYS_ADMIN");
        try
        {
            // 1. Already full: the probe write refuses it, exit 2, before anything is built or booted.
            Fill(mountPoint);
            var (code, _, stderr) = await RunQhhAsync(_dir, ["run", "--accel", "tcg", "--artifacts", Path.Combine(mountPoint, "run")], TimeSpan.FromMinutes(2));
            Assert.That(code, Is.EqualTo(2), stderr);
            Assert.That(stderr.Trim(), Does.StartWith($"qhh: --artifacts {Path.Combine(mountPoint, "run")}: cannot write there: no space left on the device"));
            File.Delete(Path.Combine(mountPoint, "filler"));

            // 2. Fills up once the guest runs: the cell says what it could not save, the guest is torn down.
            using var cts = new CancellationTokenSource(Budget);
            var scenario = Scenario.Seed.WithKernel(KernelVariant.Patched).WithPse(true).WithIterations(2);
            var files = new CellArtifacts(Path.Combine(mountPoint, "cell"));
            var pids = new List<int>();
            void OnStarted(int pid) { lock (pids) pids.Add(pid); }
            var filled = 0;
            void Progress(string step)
            {
                if (step == "iteration 1" && Interlocked.Exchange(ref filled, 1) == 0) Fill(mountPoint); // the guest is up and working
            }
            QemuProcess.AnyStarted += OnStarted;
            Observation o;
            var watch = Stopwatch.StartNew();
            try
            {
                o = await new Reproducer(_ctx, _inputs, _log).ObserveAsync(new CellRequest(scenario, Predictor.Predict(scenario), files),
                    new RunOptions { Accel = AccelChoice.Tcg, Progress = Progress }, cts.Token);
            }
            finally
            {
                QemuProcess.AnyStarted -= OnStarted;
            }
            TestContext.Progress.WriteLine($"full disk: {o.Outcome.Kebab()} ({o.Error}) after {watch.Elapsed.TotalSeconds:F0} s");
            Assert.Multiple(() =>
            {
                Assert.That(filled, Is.EqualTo(1), "the disk filled while the workload ran");
                Assert.That(o.Outcome, Is.EqualTo(Outcome.InfraError));
                Assert.That(o.Error, Does.Contain("could not save").And.Contain("No space left on device"));
                Assert.That(Logged(), Has.Some.Match($"infrastructure error: could not save {System.Text.RegularExpressions.Regex.Escape(files.Dir)}/[a-z0-9-]+\\.(log|txt): No space left on device"), "the first file lost is named");
                Assert.That(Logged(), Has.Some.Contains($"could not save {files.Observation}"), "so is the lost observation.json");
                Assert.That(File.ReadAllText(files.Console), Does.Contain("QHH-READY"), "what was saved before is kept");
                lock (pids) Assert.That(pids.Where(Procs.Alive), Is.Empty, "the guest was torn down");
            });
        }
        finally
        {
            Unmount(mountPoint);
        }
    }
}
