using System.Text.Json;
using QemuHotplugHarness.Cli;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Integration;

/// <summary>
/// qhh validate --sample 6 on real QEMU guests (TCG here): the simulator must agree with the kernel on every drawn
/// scenario, and the draw must hold every outcome class (an oops at its iteration, clean, workload-failed from the
/// RAM buffer, rejected by QEMU). Builds come from the cache the other real-guest tests warm.
/// </summary>
[TestFixture]
[Category("RealGuest")]
[NonParallelizable]
public class ValidateRealGuestTests
{
    private int _exit;
    private string _stdout = "";
    private string _artifacts = "";
    private Summary _summary = null!;

    [OneTimeSetUp]
    public async Task ValidateSix()
    {
        _artifacts = Directory.CreateTempSubdirectory("qhh-validate-e2e-").FullName;
        var oldOut = Console.Out;
        using var stdout = new StringWriter();
        Console.SetOut(stdout);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(30));
            _exit = await HarnessApp.RunAsync(["validate", "--sample", "6", "--seed", "1", "--artifacts", _artifacts], cts.Token);
        }
        finally
        {
            Console.SetOut(oldOut);
        }
        _stdout = stdout.ToString();
        TestContext.Progress.WriteLine(_stdout);
        TestContext.Progress.WriteLine($"validate artifacts: {_artifacts}");
        _summary = JsonSerializer.Deserialize<Summary>(File.ReadAllText(new RunArtifacts(_artifacts).Summary), HarnessJson.Options)!;
    }

    [Test]
    public void Every_scenario_agrees_with_the_simulator()
    {
        Assert.That(_summary.Cells, Has.Count.EqualTo(6));
        foreach (var c in _summary.Cells)
            Assert.That(c.Match, Is.True, $"{c.Name}: {string.Join("; ", c.Mismatches)} ({c.Observation.Error})");
        Assert.That(_summary.Verdict, Is.EqualTo(Verdict.ModelAgrees));
        Assert.That(_exit, Is.EqualTo(0));
        Assert.That(_stdout, Does.Contain("agreement: 6/6 scenarios agree with the simulator"));
    }

    [Test]
    public void Every_outcome_class_is_drawn_and_observed()
    {
        Assert.That(_summary.Validation!.ClassesDrawn, Is.EquivalentTo(new[] { "oops@2", "clean", "workload-failed", "rejected" }));
        Assert.That(_summary.Cells.Select(c => c.Observation.Outcome).Distinct(),
            Is.EquivalentTo(new[] { Outcome.Oops, Outcome.Clean, Outcome.WorkloadFailed, Outcome.Rejected }));
    }

    [Test]
    public void The_reports_hold_the_agreement_table_and_each_scenarios_section()
    {
        var run = new RunArtifacts(_artifacts);
        var html = File.ReadAllText(run.Html);
        Assert.That(html, Does.Contain("<b>6/6</b> scenarios agree"));
        foreach (var c in _summary.Cells) Assert.That(html, Does.Contain($"<h3>{c.Name}</h3>"));
        Assert.That(html, Does.Contain("class=\"map\""), "a section picture for the scenarios that share a section with boot RAM");
        Assert.That(File.ReadAllText(run.Junit), Does.Contain("qemu-hotplug-harness validate").And.Not.Contain("<failure"));
        Assert.That(_summary.Cells.Select(c => File.Exists(new RunArtifacts(_artifacts).Cell(c.Folder).Observation)), Is.All.True);
    }
}
