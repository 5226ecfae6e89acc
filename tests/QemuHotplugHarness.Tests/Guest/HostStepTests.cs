using System.Text.Json.Nodes;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Guest;

/// <summary>
/// Host-side steps through the workload runner: QMP commands, a wait for an event that a crashed kernel never sends
/// (the console's oops ends it), a wait that times out (hung), a memory-block expectation that fails (workload-failed).
/// </summary>
public class HostStepTests
{
    private static readonly GuestTimeouts Timeouts = new() { Command = TimeSpan.FromSeconds(45), Probe = TimeSpan.FromSeconds(7) };

    private static readonly OopsReport Oops = OopsScanner.Scan(string.Join('\n',
        File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Corpus", "oops", "ref-6.1-init_single_page.txt")).SkipWhile(l => l.Length > 0))).Single();

    private static HostStep Qmp(QmpCommand c, string args) => new(HostStepKind.Qmp) { Command = c, Arguments = args };

    private static readonly HostStep Del = Qmp(QmpCommand.DeviceDel, """{"id":"dimm1"}""");
    private static readonly HostStep Deleted = new(HostStepKind.WaitEvent) { Event = QmpEvent.DeviceDeleted, Device = "dimm1", Timeout = TimeSpan.FromMilliseconds(600) };
    private static readonly HostStep Offline = new(HostStepKind.MemoryBlocks) { Device = "dimm1", Expect = MemoryBlockState.Offline, Timeout = TimeSpan.FromSeconds(1.5) };

    private static WorkloadSpec Workload(params HostStep[] steps) => new()
    {
        Iteration = steps.Select(s => s.Describe()).ToList(), IterationHosts = steps, Iterations = 1,
    };

    private FakeConsole _console = null!;
    private FakeHost _host = null!;
    private BlockShell _shell = null!;

    [SetUp]
    public void SetUp()
    {
        _console = new FakeConsole();
        _host = new FakeHost(_console);
        _shell = new BlockShell();
    }

    private Task<WorkloadResult> RunAsync(WorkloadSpec w) =>
        new WorkloadRunner(_shell, _console, new ListRecorder(), Timeouts, _host).RunAsync(w.Steps(), null, CancellationToken.None);

    [Test]
    public async Task Qmp_steps_and_an_event_that_arrives_are_clean()
    {
        _host.Events.Add("DEVICE_DELETED");
        var r = await RunAsync(Workload(Del, Deleted));
        Assert.That((r.Outcome, r.Error), Is.EqualTo((Outcome.Clean, (string?)null)));
        Assert.That(_host.Sent, Is.EqualTo(new[] { """device_del {"id":"dimm1"}""" }));
    }

    [Test]
    public async Task An_oops_during_a_wait_for_an_event_ends_the_iteration_as_an_oops_before_the_timeout()
    {
        _host.OopsOn = "device_del";
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var r = await RunAsync(Workload(Del, Deleted with { Timeout = TimeSpan.FromSeconds(30) }));
        Assert.That((r.Outcome, r.OopsIteration), Is.EqualTo((Outcome.Oops, (int?)1)));
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "the oops ends the wait; its 30 s are not waited out");
    }

    [Test]
    public async Task A_wait_without_the_event_or_an_oops_is_hung_after_its_own_timeout()
    {
        var r = await RunAsync(Workload(Del, Deleted));
        Assert.That((r.Outcome, r.Error), Is.EqualTo((Outcome.Hung, (string?)"iteration 1 (iteration-1-step-2) did not finish within 1 s")));
    }

    [Test]
    public async Task A_refused_qmp_command_is_workload_failed_with_qemus_reason()
    {
        _host.Refuse = "GenericError: Device 'dimm1' not found";
        var r = await RunAsync(Workload(Del));
        Assert.That((r.Outcome, r.Error), Is.EqualTo((Outcome.WorkloadFailed,
            (string?)"iteration 1 (iteration-1-step-1): qmp exit 1: GenericError: Device 'dimm1' not found")));
    }

    [Test]
    public async Task A_memory_block_expectation_reads_the_blocks_of_the_device_and_fails_on_another_state()
    {
        _shell.States = "memory40 offline\nmemory41 online\n";
        var r = await RunAsync(Workload(Offline));
        Assert.That((r.Outcome, r.Error), Is.EqualTo((Outcome.WorkloadFailed, (string?)"iteration 1 (iteration-1-step-1): memory-blocks exit 1: expected offline: memory41 online")));
        Assert.That(_shell.Scripts.Last(), Does.Contain("seq 40 47"), "a 1 GiB DIMM at 0x140000000 with 128 MiB blocks");
        _shell.States = "memory40 offline\nmemory41 offline\n";
        Assert.That((await RunAsync(Workload(Offline))).Outcome, Is.EqualTo(Outcome.Clean));
    }

    [TestCase("MemTotal", "4194304", true)]
    [TestCase("MemTotal", "4194304 kB", true)]
    [TestCase("MemTotal", "1", false)]
    [TestCase("MemFree", "1", false)]
    public async Task A_read_expects_a_keys_value(string key, string expect, bool clean)
    {
        var r = await RunAsync(Workload(new HostStep(HostStepKind.Read) { Path = "/proc/meminfo", Key = key, Value = expect }));
        Assert.That(r.Outcome, Is.EqualTo(clean ? Outcome.Clean : Outcome.WorkloadFailed), r.Error);
    }

    /// <summary>QMP as the tests script it: events it will send, a command whose answer is an oops on the console, a refusal.</summary>
    private sealed class FakeHost(FakeConsole console) : IGuestHost
    {
        public List<string> Events { get; } = [];
        public List<string> Sent { get; } = [];
        public string? OopsOn { get; set; }
        public string? Refuse { get; set; }

        public Task<QmpReply> QmpAsync(string command, JsonObject? arguments, CancellationToken ct)
        {
            Sent.Add($"{command} {arguments?.ToJsonString()}");
            if (command == OopsOn) _ = Task.Delay(300, CancellationToken.None).ContinueWith(_ => console.Print(Oops), TaskScheduler.Default);
            return Task.FromResult(Refuse is { } e ? new QmpReply(null, e) : new QmpReply(new JsonObject(), null));
        }

        public async Task<JsonObject> WaitEventAsync(string name, string? device, CancellationToken ct)
        {
            while (!Events.Contains(name)) await Task.Delay(50, ct);
            return new JsonObject { ["event"] = name };
        }

        public Task<IReadOnlyList<MemoryDevice>> MemoryDevicesAsync(CancellationToken ct) =>
            Task.FromResult<IReadOnlyList<MemoryDevice>>([new MemoryDevice("nv0", 0x1_4400_0000, 8UL << 30), new MemoryDevice("dimm1", 0x1_4000_0000, 1UL << 30)]);
    }

    /// <summary>A guest shell that knows the memory block size, the states of the blocks and /proc/meminfo.</summary>
    private sealed class BlockShell : IGuestShell
    {
        public string States { get; set; } = "";
        public List<string> Scripts { get; } = [];

        public Task<GuestCommandResult> RunAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken ct) =>
            Task.FromResult(new GuestCommandResult(string.Join(' ', argv), 0, "", "", 0.1, false));

        public Task<GuestCommandResult> RunShellAsync(string command, TimeSpan timeout, CancellationToken ct)
        {
            Scripts.Add(command);
            var output = command switch
            {
                _ when command.EndsWith("block_size_bytes", StringComparison.Ordinal) => "8000000\n",
                _ when command.Contains("/proc/meminfo") => "MemTotal:        4194304 kB\nMemFree:         3000000 kB\n",
                _ => States,
            };
            return Task.FromResult(new GuestCommandResult(command, 0, output, "", 0.1, false));
        }
    }
}
