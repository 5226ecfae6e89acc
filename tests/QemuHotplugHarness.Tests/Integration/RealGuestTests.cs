using System.Xml.Linq;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Tests.Integration;

/// <summary>
/// The real thing: builds the patched QEMU, both kernels and the guest image (cached after the first run), then
/// runs the default matrix on real QEMU guests (TCG here: KVM is probed and nested guests hang).
/// </summary>
[TestFixture]
[Category("RealGuest")]
[NonParallelizable]
public class RealGuestTests
{
    private static readonly TimeSpan Budget = TimeSpan.FromMinutes(75);
    private readonly List<int> _started = [];
    private Summary _summary = null!;
    private string _artifacts = "";
    private Serilog.Core.Logger _log = null!;

    [OneTimeSetUp]
    public async Task RunTheDefaultMatrix()
    {
        _artifacts = Directory.CreateTempSubdirectory("qhh-e2e-").FullName;
        _log = new LoggerConfiguration().MinimumLevel.Information()
            .WriteTo.Sink(new ProgressSink()).CreateLogger();
        QemuProcess.AnyStarted += OnStarted;
        using var cts = new CancellationTokenSource(Budget);
        var ctx = BuildContext.Create(_log, _artifacts);
        var inputs = new InputsResolver(ctx, KernelSources.Default);
        var work = Reproducer.Plan(Matrix.Shard(SeedMatrix.Cells(Scenario.Seed), 1, null));
        _summary = await new Reproducer(ctx, inputs, _log).RunAsync(work, _artifacts, new RunOptions { Accel = AccelChoice.Auto }, null,
            (cell, state) => TestContext.Progress.WriteLine($"  [{cell}] {state}"), cts.Token);
    }

    private void OnStarted(int pid)
    {
        lock (_started) _started.Add(pid);
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        QemuProcess.AnyStarted -= OnStarted;
        _log?.Dispose();
        TestContext.Progress.WriteLine($"e2e artifacts: {_artifacts}");
    }

    /// <summary>Log lines go to NUnit's progress stream, so CI shows builds and boots as they happen.</summary>
    private sealed class ProgressSink : Serilog.Core.ILogEventSink
    {
        public void Emit(Serilog.Events.LogEvent e) =>
            TestContext.Progress.WriteLine($"[{e.Timestamp:HH:mm:ss}] {e.RenderMessage()}");
    }

    private SummaryCell Cell(string name) => _summary.Cells.Single(c => c.Name == name);

    [Test]
    public void Unpatched_pse_off_oopses_at_iteration_2_at_pfn_0x144002_as_predicted()
    {
        var c = Cell("unpatched-pse-off");
        Assert.Multiple(() =>
        {
            Assert.That(c.Observation.Outcome, Is.EqualTo(Outcome.Oops), c.Observation.Error);
            Assert.That(c.Observation.OopsIteration, Is.EqualTo(2));
            Assert.That(c.Observation.FaultPfn, Is.EqualTo(0x144002UL));
            Assert.That(c.Mismatches, Is.Empty);
            Assert.That(c.Observation.Oopses[0].Title, Is.EqualTo("BUG: unable to handle kernel paging request in __init_single_page"));
        });
        var oopsFile = Path.Combine(_artifacts, c.Folder, "oops-1.txt");
        Assert.That(File.ReadLines(oopsFile).First(), Is.EqualTo("BUG: unable to handle kernel paging request in __init_single_page"));
        Assert.That(File.ReadAllText(oopsFile), Does.Match(@"__init_single_page\+0x[0-9a-f]+/0x[0-9a-f]+ = .*__init_single_page mm/\S+\.c:\d+"), "symbolized with the build's vmlinux");
        Assert.That(File.ReadAllText(Path.Combine(_artifacts, c.Folder, "console.log")), Does.Contain("BUG: unable to handle page fault"));
    }

    [TestCase("unpatched-pse-on")]
    [TestCase("patched-pse-off")]
    [TestCase("patched-pse-on")]
    public void Clean_cells_stay_clean_for_three_iterations(string name)
    {
        var c = Cell(name);
        Assert.That(c.Observation.Outcome, Is.EqualTo(Outcome.Clean), c.Observation.Error);
        Assert.That(c.Observation.Iterations, Has.Count.GreaterThanOrEqualTo(3));
        Assert.That(c.Observation.Iterations.All(i => i.ExitCode == 0), Is.True);
        Assert.That(c.Observation.Iterations[0].Dax?.ToIomem(), Is.EqualTo("144200000-144ffffff"), "dax0.0 where the simulator puts it");
        Assert.That(c.Match, Is.True, string.Join("; ", c.Mismatches));
    }

    [Test]
    public void Stock_qemu_rejects_the_nvdimm_with_its_own_message()
    {
        var c = Cell("stock-qemu-unpatched-pse-off");
        Assert.That(c.Observation.Outcome, Is.EqualTo(Outcome.Rejected));
        Assert.That(c.Observation.Rejection, Does.Contain("can't add memory device [0x144000000:0x1ffe00000], usable range for memory devices [0x180000000:0x43c000000]"));
        Assert.That(c.Match, Is.True);
    }

    [Test]
    public void Verdict_is_patch_fixes_and_reports_are_written()
    {
        Assert.That(_summary.Verdict, Is.EqualTo(Verdict.PatchFixes));
        Assert.That(_summary.Accel, Is.Not.Null);
        TestContext.Progress.WriteLine($"accel: {_summary.Accel}; boot seconds: {string.Join(", ", _summary.Cells.Select(c => c.Observation.BootSeconds))}; iteration seconds: {string.Join(", ", _summary.Cells.SelectMany(c => c.Observation.Iterations).Select(i => i.Seconds))}");
        var junit = XDocument.Load(Path.Combine(_artifacts, "junit.xml"));
        var suite = junit.Root!.Element("testsuite")!;
        Assert.That(suite.Elements("testcase").Count(), Is.EqualTo(5));
        Assert.That((int)suite.Attribute("failures")!, Is.EqualTo(0));
        Assert.That(File.ReadAllText(Path.Combine(_artifacts, "summary.json")), Does.Contain("\"verdict\": \"patch-fixes\""));
        foreach (var c in _summary.Cells)
            Assert.That(File.Exists(Path.Combine(_artifacts, c.Folder, "qemu-cmdline.txt")), Is.True, c.Name);
    }

    [Test]
    public void Booted_cells_ran_from_snapshots_and_each_kernel_from_its_own()
    {
        var booted = _summary.Cells.Where(c => c.Observation.Outcome != Outcome.Rejected).ToList();
        Assert.That(booted.Select(c => c.Observation.Snapshot), Is.All.Not.Null, "the default run restores guests from snapshots");
        Assert.That(booted.Select(c => c.Observation.Snapshot).Distinct().Count(), Is.EqualTo(booted.Count), "each distinct guest has its own snapshot");
        Assert.That(Cell("unpatched-pse-off").Observation.Snapshot, Is.Not.EqualTo(Cell("patched-pse-off").Observation.Snapshot),
            "the patched kernel's cell is never restored from the unpatched kernel's snapshot");
        Assert.That(File.ReadAllText(Path.Combine(_artifacts, Cell("patched-pse-on").Folder, "ndctl.log")), Does.Contain("### init-labels"),
            "the label prologue the snapshot ran is recorded with the cell");
    }

    [Test]
    public void Kcidb_json_is_valid_against_the_kcidb_v5_3_schema() =>
        Assert.That(KcidbSchema.Errors(Path.Combine(_artifacts, "kcidb.json")), Is.Empty);

    [Test]
    [Category("HostTools")] // headless Chromium
    public async Task Report_html_shows_the_verdict_in_chromium()
    {
        var (dom, screenshot) = await HeadlessChromium.RenderAsync(Path.Combine(_artifacts, "report.html"));
        Assert.That(dom, Does.Contain("verdict: patch-fixes"));
        Assert.That(dom, Does.Contain("BUG: unable to handle kernel paging request in __init_single_page"));
        Assert.That(File.Exists(screenshot), Is.True);
    }

    [Test]
    public void No_qemu_process_outlives_its_run()
    {
        int[] pids;
        lock (_started) pids = _started.ToArray();
        Assert.That(pids, Is.Not.Empty, "the matrix started guests");
        var alive = pids.Where(p => Directory.Exists($"/proc/{p}") && File.ReadAllText($"/proc/{p}/cmdline").Contains("qemu-system")).ToList();
        Assert.That(alive, Is.Empty);
    }
}
