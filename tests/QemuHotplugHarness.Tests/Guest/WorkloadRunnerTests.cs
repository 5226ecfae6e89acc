using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Guest;

/// <summary>The workload state machine on a scripted shell and console: one test per way a workload ends.</summary>
public class WorkloadRunnerTests
{
    private const string Disable = "ndctl disable-region all";
    private const string InitLabels = "ndctl init-labels all";
    private const string Enable = "ndctl enable-region all";
    private const string Reconfigure = "ndctl create-namespace --force --reconfig=namespace0.0 --mode=devdax --size=16M";
    private const string CatIomem = "cat /proc/iomem";

    private static readonly AddressRange Namespace = new(0x1_4400_0000, 0x1_4420_0000);
    private static readonly AddressRange Dax = new(0x1_4420_0000, 0x1_4500_0000);
    private static readonly GuestTimeouts Timeouts = new() { Command = TimeSpan.FromSeconds(45), Probe = TimeSpan.FromSeconds(7) };

    /// <summary>The reference 6.1 oops in __init_single_page, as the console scanner reads it.</summary>
    private static readonly OopsReport InitSinglePageOops = OopsScanner.Scan(string.Join('\n',
        File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Corpus", "oops", "ref-6.1-init_single_page.txt")).SkipWhile(l => l.Length > 0))).Single();

    private FakeConsole _console = null!;
    private ScriptedShell _shell = null!;
    private ListRecorder _recorder = null!;
    private List<string> _progress = null!;

    [SetUp]
    public void SetUp()
    {
        _console = new FakeConsole();
        _shell = new ScriptedShell(_console);
        _recorder = new ListRecorder();
        _progress = [];
    }

    /// <summary>The seed's workload: disable-region, init-labels, enable-region (ndctl calls 1-3), then three reconfigurations (calls 4-6).</summary>
    private Task<WorkloadResult> RunSeedAsync() => RunAsync(Scenario.Seed.Workload);

    private Task<WorkloadResult> RunAsync(WorkloadSpec workload) =>
        new WorkloadRunner(_shell, _console, _recorder, Timeouts).RunAsync(workload.Steps(), _progress.Add, CancellationToken.None);

    private static ObservedIteration Clean(int index) => new(index, Reconfigure, 0, 0.25, false, Namespace, Dax, "");

    [Test]
    public async Task A_clean_workload_runs_three_iterations_and_reads_iomem_after_each()
    {
        var r = await RunSeedAsync();
        Assert.Multiple(() =>
        {
            Assert.That(r.Outcome, Is.EqualTo(Outcome.Clean));
            Assert.That(r.Error, Is.Null);
            Assert.That(r.OopsIteration, Is.Null);
            Assert.That(r.Iterations, Is.EqualTo(new[] { Clean(1), Clean(2), Clean(3) }));
            Assert.That(_shell.Commands, Is.EqualTo(new[] { Disable, InitLabels, Enable, Reconfigure, CatIomem, Reconfigure, CatIomem, Reconfigure, CatIomem }));
            Assert.That(_shell.Timeouts.Select(t => t.TotalSeconds), Is.EqualTo(new[] { 45, 45, 45, 45, 7, 45, 7, 45, 7 }), "ndctl under the command timeout, reads under the probe timeout");
            Assert.That(_recorder.Lines, Is.EqualTo(new[]
            {
                "step disable-region: exit 0", "step init-labels: exit 0", "step enable-region: exit 0",
                "step reconfigure-1: exit 0", "iomem 1: 6 lines", "step reconfigure-2: exit 0", "iomem 2: 6 lines", "step reconfigure-3: exit 0", "iomem 3: 6 lines",
            }));
            Assert.That(_progress, Is.EqualTo(new[] { "disable-region", "init-labels", "enable-region", "iteration 1", "iteration 2", "iteration 3" }));
            Assert.That(_console.Settles, Is.EqualTo(6), "the console settles after every step");
        });
    }

    [Test]
    public async Task An_fsdax_namespace_shows_pmem0_where_devdax_shows_dax0()
    {
        _shell.Iomem = "100000000-143ffffff : System RAM\n144000000-343dfffff : Persistent Memory\n  144000000-1441fffff : namespace0.0\n  144200000-144ffffff : pmem0\n";
        var r = await RunAsync(Scenario.Seed.Workload with { Mode = NamespaceMode.Fsdax });
        Assert.That(r.Outcome, Is.EqualTo(Outcome.Clean));
        Assert.That(r.Iterations[0].Command, Is.EqualTo("ndctl create-namespace --force --reconfig=namespace0.0 --mode=fsdax --size=16M"));
        Assert.That(r.Iterations.Select(i => (i.Namespace, i.Dax)), Has.All.EqualTo((new AddressRange(0x1_4400_0000, 0x1_4420_0000), new AddressRange(0x1_4420_0000, 0x1_4500_0000))));
    }

    [Test]
    public async Task An_oops_at_iteration_2_ends_the_workload_there()
    {
        _shell.On(5, exit: 137, oops: InitSinglePageOops);
        var r = await RunSeedAsync();
        Assert.Multiple(() =>
        {
            Assert.That(r.Outcome, Is.EqualTo(Outcome.Oops));
            Assert.That(r.OopsIteration, Is.EqualTo(2));
            Assert.That(r.Error, Is.Null);
            Assert.That(r.Iterations, Is.EqualTo(new[] { Clean(1), new ObservedIteration(2, Reconfigure, 137, 0.25, false, null, null, "") }),
                "iomem is not read from a guest that just oopsed");
            Assert.That(_shell.Commands, Is.EqualTo(new[] { Disable, InitLabels, Enable, Reconfigure, CatIomem, Reconfigure }), "no third reconfiguration");
            Assert.That(_recorder.Lines, Is.EqualTo(new[]
            {
                "step disable-region: exit 0", "step init-labels: exit 0", "step enable-region: exit 0",
                "step reconfigure-1: exit 0", "iomem 1: 6 lines", "step reconfigure-2: exit 137",
            }));
        });
    }

    [Test]
    public async Task An_oops_during_a_label_step_is_at_iteration_0()
    {
        _shell.On(3, exit: 137, oops: InitSinglePageOops);
        var r = await RunSeedAsync();
        Assert.Multiple(() =>
        {
            Assert.That(r.Outcome, Is.EqualTo(Outcome.Oops));
            Assert.That(r.OopsIteration, Is.EqualTo(0));
            Assert.That(r.Error, Is.Null);
            Assert.That(r.Iterations, Is.Empty);
            Assert.That(_shell.Commands, Is.EqualTo(new[] { Disable, InitLabels, Enable }));
            Assert.That(_recorder.Lines, Is.EqualTo(new[] { "step disable-region: exit 0", "step init-labels: exit 0", "step enable-region: exit 137" }));
        });
    }

    [Test]
    public async Task An_oops_whose_command_then_timed_out_is_an_oops_not_a_hang()
    {
        _shell.On(4, timedOut: true, oops: InitSinglePageOops);
        var r = await RunSeedAsync();
        Assert.Multiple(() =>
        {
            Assert.That(r.Outcome, Is.EqualTo(Outcome.Oops), "the guest wedges after an oops: the timeout is its consequence");
            Assert.That(r.OopsIteration, Is.EqualTo(1));
            Assert.That(r.Error, Is.Null);
            Assert.That(r.Iterations, Is.EqualTo(new[] { new ObservedIteration(1, Reconfigure, null, 45, true, null, null, "") }));
            Assert.That(_shell.Commands, Is.EqualTo(new[] { Disable, InitLabels, Enable, Reconfigure }));
            Assert.That(_recorder.Lines, Has.Count.EqualTo(4).And.Contains("step reconfigure-1: exit none (timed out)"));
        });
    }

    [Test]
    public async Task A_reconfiguration_that_times_out_without_an_oops_is_hung()
    {
        _shell.On(5, timedOut: true);
        var r = await RunSeedAsync();
        Assert.Multiple(() =>
        {
            Assert.That(r.Outcome, Is.EqualTo(Outcome.Hung));
            Assert.That(r.Error, Is.EqualTo("iteration 2 did not finish within 45 s"));
            Assert.That(r.OopsIteration, Is.Null);
            Assert.That(r.Iterations, Is.EqualTo(new[] { Clean(1), new ObservedIteration(2, Reconfigure, null, 45, true, null, null, "") }));
            Assert.That(_shell.Commands, Is.EqualTo(new[] { Disable, InitLabels, Enable, Reconfigure, CatIomem, Reconfigure }), "nothing more is asked of a hung guest");
            Assert.That(_recorder.Lines, Has.Count.EqualTo(6).And.Contains("step reconfigure-2: exit none (timed out)"));
        });
    }

    [Test]
    public async Task A_label_step_that_times_out_is_hung()
    {
        _shell.On(2, timedOut: true);
        var r = await RunSeedAsync();
        Assert.Multiple(() =>
        {
            Assert.That(r.Outcome, Is.EqualTo(Outcome.Hung));
            Assert.That(r.Error, Is.EqualTo("init-labels failed: no answer within 45 s"));
            Assert.That(r.OopsIteration, Is.Null);
            Assert.That(r.Iterations, Is.Empty);
            Assert.That(_shell.Commands, Is.EqualTo(new[] { Disable, InitLabels }));
            Assert.That(_recorder.Lines, Is.EqualTo(new[] { "step disable-region: exit 0", "step init-labels: exit none (timed out)" }));
        });
    }

    [Test]
    public async Task A_reconfiguration_that_exits_non_zero_is_workload_failed_with_its_exit_code_and_stderr()
    {
        _shell.Iomem = "100000000-143ffffff : System RAM\n144000000-343dfffff : Persistent Memory\n  144000000-343dfffff : namespace0.0\n";
        _shell.On(4, exit: 1, stderr: "failed to reconfigure namespace: Device or resource busy\n");
        var r = await RunSeedAsync();
        Assert.Multiple(() =>
        {
            Assert.That(r.Outcome, Is.EqualTo(Outcome.WorkloadFailed));
            Assert.That(r.Error, Is.EqualTo("iteration 1: ndctl exit 1: failed to reconfigure namespace: Device or resource busy"));
            Assert.That(r.OopsIteration, Is.Null);
            Assert.That(r.Iterations, Is.EqualTo(new[]
            {
                new ObservedIteration(1, Reconfigure, 1, 0.25, false, new AddressRange(0x1_4400_0000, 0x3_43e0_0000), null, "failed to reconfigure namespace: Device or resource busy"),
            }), "what iomem showed after the failure is kept");
            Assert.That(_shell.Commands, Is.EqualTo(new[] { Disable, InitLabels, Enable, Reconfigure, CatIomem }));
            Assert.That(_recorder.Lines, Is.EqualTo(new[]
            {
                "step disable-region: exit 0", "step init-labels: exit 0", "step enable-region: exit 0", "step reconfigure-1: exit 1", "iomem 1: 3 lines",
            }));
        });
    }

    [Test]
    public async Task A_label_step_that_exits_non_zero_is_workload_failed_with_its_stderr()
    {
        _shell.On(2, exit: 1, stderr: "  error initializing labels: nmem0: Device or resource busy\n");
        var r = await RunSeedAsync();
        Assert.Multiple(() =>
        {
            Assert.That(r.Outcome, Is.EqualTo(Outcome.WorkloadFailed));
            Assert.That(r.Error, Is.EqualTo("init-labels failed: error initializing labels: nmem0: Device or resource busy"));
            Assert.That(r.OopsIteration, Is.Null);
            Assert.That(r.Iterations, Is.Empty);
            Assert.That(_shell.Commands, Is.EqualTo(new[] { Disable, InitLabels }));
            Assert.That(_recorder.Lines, Is.EqualTo(new[] { "step disable-region: exit 0", "step init-labels: exit 1" }));
        });
    }

    [Test]
    public async Task A_connection_lost_without_an_oops_is_an_infrastructure_error_not_a_workload_failure()
    {
        _shell.On(5, exit: null, stderr: "ssh connection lost: An established connection was aborted by the server.");
        var r = await RunSeedAsync();
        Assert.Multiple(() =>
        {
            Assert.That(r.Outcome, Is.EqualTo(Outcome.InfraError));
            Assert.That(r.Error, Is.EqualTo("iteration 2: ssh connection lost: An established connection was aborted by the server. (no oops on the console within 10 s)"));
            Assert.That(_console.Witnesses, Is.EqualTo(1), "the console had its window before the lost connection was judged");
            Assert.That(r.Iterations.Select(i => i.Index), Is.EqualTo(new[] { 1, 2 }));
            Assert.That(r.Iterations[1].Namespace, Is.Null, "no iomem read over a lost connection");
            Assert.That(_shell.Commands, Is.EqualTo(new[] { Disable, InitLabels, Enable, Reconfigure, CatIomem, Reconfigure }));
        });
    }

    [Test]
    public async Task A_connection_lost_under_an_oops_is_the_oops()
    {
        _shell.On(5, exit: null, stderr: "ssh connection lost: reset", oops: InitSinglePageOops);
        var r = await RunSeedAsync();
        Assert.That((r.Outcome, r.OopsIteration), Is.EqualTo((Outcome.Oops, (int?)2)));
    }

    /// <summary>
    /// The race of the live defect: the kernel's BUG kills ndctl (sshd reports an exit-signal, no exit status) and
    /// the SSH channel ends before the report reaches the serial console. The console's witness decides: oops.
    /// </summary>
    [Test]
    public async Task A_command_killed_before_its_oops_reaches_the_console_is_the_oops_not_an_infrastructure_error()
    {
        _shell.On(4, signal: "SEGV", oops: InitSinglePageOops, late: true);
        var r = await RunSeedAsync();
        Assert.Multiple(() =>
        {
            Assert.That((r.Outcome, r.OopsIteration, r.Error), Is.EqualTo((Outcome.Oops, (int?)1, (string?)null)));
            Assert.That(_console.Witnesses, Is.EqualTo(1));
            Assert.That(_shell.Commands, Is.EqualTo(new[] { Disable, InitLabels, Enable, Reconfigure }), "no iteration after the oops");
        });
    }

    [Test]
    public async Task A_lost_connection_whose_oops_arrives_late_is_the_oops()
    {
        _shell.On(5, exit: null, stderr: "", oops: InitSinglePageOops, late: true);
        var r = await RunSeedAsync();
        Assert.That((r.Outcome, r.OopsIteration), Is.EqualTo((Outcome.Oops, (int?)2)));
    }

    [Test]
    public async Task A_command_killed_by_a_signal_with_no_oops_is_a_workload_failure_naming_the_signal()
    {
        _shell.On(4, signal: "KILL");
        var r = await RunSeedAsync();
        Assert.That((r.Outcome, r.Error), Is.EqualTo((Outcome.WorkloadFailed, (string?)"iteration 1: ndctl killed by SIGKILL")));
    }

    [Test]
    public async Task Each_step_marks_where_on_the_console_it_began()
    {
        var r = await RunSeedAsync();
        Assert.That(r.Marks, Is.EqualTo(new[]
        {
            new StepMark(0, 0), new StepMark(0, 10), new StepMark(0, 20), new StepMark(1, 30), new StepMark(2, 40), new StepMark(3, 50),
        }));
    }

    /// <summary>An oops the console showed only while the cell collected dmesg: the cell is that oops, at the step that was running.</summary>
    [TestCase(Outcome.InfraError, 45, 2)]
    [TestCase(Outcome.Hung, 51, 3)]
    [TestCase(Outcome.WorkloadFailed, 5, 0)]
    [TestCase(Outcome.Clean, 31, 1)]
    public void An_oops_found_after_the_steps_were_judged_overrules_their_result(Outcome judged, int oopsLine, int iteration)
    {
        var marks = new[] { new StepMark(0, 0), new StepMark(0, 10), new StepMark(1, 30), new StepMark(2, 40), new StepMark(3, 50) };
        var result = new WorkloadResult(judged, "iteration 2: ", [], null) { Marks = marks }.WithConsoleOopses([oopsLine, 90]);
        Assert.That((result.Outcome, result.OopsIteration, result.Error), Is.EqualTo((Outcome.Oops, (int?)iteration, (string?)null)));
        Assert.That(result.Superseded, Is.EqualTo($"{judged.Kebab()}: iteration 2: "));
    }

    [Test]
    public void A_result_with_no_console_oops_stands()
    {
        var result = new WorkloadResult(Outcome.InfraError, "iteration 1: lost", [], null);
        Assert.That(result.WithConsoleOopses([]), Is.SameAs(result));
    }
}
