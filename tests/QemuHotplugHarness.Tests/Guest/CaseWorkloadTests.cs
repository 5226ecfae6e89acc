using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Guest;

/// <summary>
/// A case's own steps (one setup command, two commands per iteration, two iterations) through the same runner and
/// the same outcome rules as the ndctl loop. Shell calls: 1 setup, 2-3 iteration 1, 4-5 iteration 2.
/// </summary>
public class CaseWorkloadTests
{
    private const string Setup = "ndctl enable-region all";
    private const string Create = "ndctl create-namespace --mode=devdax --map=dev --size=64M";
    private const string Destroy = "ndctl destroy-namespace --force all";
    private static readonly GuestTimeouts Timeouts = new() { Command = TimeSpan.FromSeconds(45), Probe = TimeSpan.FromSeconds(7) };

    private static readonly WorkloadSpec Workload = new()
    {
        Setup = [["ndctl", "enable-region", "all"]],
        Iteration = [["ndctl", "create-namespace", "--mode=devdax", "--map=dev", "--size=64M"], ["ndctl", "destroy-namespace", "--force", "all"]],
        Iterations = 2,
    };

    private static readonly OopsReport Oops = OopsScanner.Scan(string.Join('\n',
        File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Corpus", "oops", "ref-6.1-init_single_page.txt")).SkipWhile(l => l.Length > 0))).Single();

    private FakeConsole _console = null!;
    private ScriptedShell _shell = null!;
    private List<string> _progress = null!;

    [SetUp]
    public void SetUp()
    {
        _console = new FakeConsole();
        _shell = new ScriptedShell(_console);
        _progress = [];
    }

    private Task<WorkloadResult> RunAsync() =>
        new WorkloadRunner(_shell, _console, new ListRecorder(), Timeouts).RunAsync(Workload.Steps(), _progress.Add, CancellationToken.None);

    [Test]
    public async Task A_clean_case_workload_runs_setup_then_each_iteration_without_reading_iomem()
    {
        var r = await RunAsync();
        Assert.Multiple(() =>
        {
            Assert.That(r.Outcome, Is.EqualTo(Outcome.Clean));
            Assert.That(_shell.Commands, Is.EqualTo(new[] { Setup, Create, Destroy, Create, Destroy }));
            Assert.That(_progress, Is.EqualTo(new[] { "setup-1", "iteration 1", "iteration 2" }));
            Assert.That(r.Iterations.Select(i => (i.Index, i.Command)), Is.EqualTo(new[] { (1, Create), (1, Destroy), (2, Create), (2, Destroy) }));
            Assert.That(_console.Settles, Is.EqualTo(5));
        });
    }

    [Test]
    public async Task An_oops_in_the_second_step_of_iteration_2_is_at_iteration_2_and_ends_the_run()
    {
        _shell.On(5, exit: 137, oops: Oops);
        var r = await RunAsync();
        Assert.That((r.Outcome, r.OopsIteration, r.Error), Is.EqualTo((Outcome.Oops, (int?)2, (string?)null)));
    }

    [Test]
    public async Task An_oops_wins_over_the_timeout_of_the_step_it_wedged()
    {
        _shell.On(2, timedOut: true, oops: Oops);
        var r = await RunAsync();
        Assert.That((r.Outcome, r.OopsIteration), Is.EqualTo((Outcome.Oops, (int?)1)));
        Assert.That(_shell.Commands, Is.EqualTo(new[] { Setup, Create }));
    }

    [Test]
    public async Task An_oops_during_setup_is_at_iteration_0()
    {
        _shell.On(1, exit: 137, oops: Oops);
        var r = await RunAsync();
        Assert.That((r.Outcome, r.OopsIteration), Is.EqualTo((Outcome.Oops, (int?)0)));
        Assert.That(r.Iterations, Is.Empty);
    }

    [Test]
    public async Task A_failing_exit_is_workload_failed_naming_the_step()
    {
        _shell.On(3, exit: 1, stderr: "error destroying namespaces: No such device or address\n");
        var r = await RunAsync();
        Assert.That((r.Outcome, r.Error), Is.EqualTo((Outcome.WorkloadFailed,
            (string?)"iteration 1 (iteration-1-step-2): ndctl exit 1: error destroying namespaces: No such device or address")));
        Assert.That(_shell.Commands, Has.Count.EqualTo(3));
    }

    [Test]
    public async Task A_timeout_without_an_oops_is_hung()
    {
        _shell.On(4, timedOut: true);
        var r = await RunAsync();
        Assert.That((r.Outcome, r.Error), Is.EqualTo((Outcome.Hung, (string?)"iteration 2 (iteration-2-step-1) did not finish within 45 s")));
    }

    [Test]
    public async Task A_lost_connection_is_an_infrastructure_error()
    {
        _shell.On(2, exit: null, stderr: "ssh connection lost: reset");
        var r = await RunAsync();
        Assert.That((r.Outcome, r.Error), Is.EqualTo((Outcome.InfraError, (string?)"iteration 1 (iteration-1-step-1): ssh connection lost: reset (no oops on the console within 10 s)")));
    }
}
