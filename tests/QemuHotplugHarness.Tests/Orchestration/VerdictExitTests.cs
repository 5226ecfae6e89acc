using QemuHotplugHarness.Cli.Commands;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Orchestration;

/// <summary>Exit codes of run, reproduce and merge, as integers (whatever enum they are defined with).</summary>
public class VerdictExitTests
{
    [TestCase(Verdict.PatchFixes, false, 0)]
    [TestCase(Verdict.PatchFixes, true, 0)]
    [TestCase(Verdict.PatchDoesNotFix, false, 1)]
    [TestCase(Verdict.PatchDoesNotFix, true, 1)]
    [TestCase(Verdict.NotReproduced, false, 1)]
    [TestCase(Verdict.NotReproduced, true, 1)]
    [TestCase(Verdict.Mismatch, false, 1)]
    [TestCase(Verdict.Mismatch, true, 1)]
    [TestCase(Verdict.Partial, false, 0)]
    [TestCase(Verdict.Partial, true, 125)]
    [TestCase(Verdict.InfraError, false, 3)]
    [TestCase(Verdict.InfraError, true, 125)]
    [TestCase(Verdict.Incomplete, false, 3)]
    [TestCase(Verdict.Incomplete, true, 125)]
    [TestCase(Verdict.ModelAgrees, false, 0)]
    [TestCase(Verdict.ModelDisagrees, false, 1)]
    public void A_verdict_exits_with(Verdict verdict, bool bisect, int code) =>
        Assert.That(VerdictExit.Of(verdict, bisect), Is.EqualTo(code));

    [Test]
    public void Every_verdict_has_a_test_case() =>
        Assert.That(Enum.GetValues<Verdict>(), Is.EquivalentTo(new[] { Verdict.PatchFixes, Verdict.PatchDoesNotFix, Verdict.NotReproduced, Verdict.Mismatch, Verdict.Partial, Verdict.InfraError, Verdict.Incomplete, Verdict.ModelAgrees, Verdict.ModelDisagrees }));

    [Test]
    public void The_verdict_order_is_declared_once_and_holds_every_verdict() =>
        Assert.That(Verdicts.Order, Is.EquivalentTo(Enum.GetValues<Verdict>()));

    private static CellResult Cell(Observation o)
    {
        var p = Predictor.Predict(Scenario.Seed);
        return new CellResult("unpatched-pse-off", 1, Scenario.Seed, p, o, Comparison.Mismatches(p, o));
    }

    [Test]
    public void A_single_cell_exits_0_when_it_matches_1_when_not_and_3_when_it_could_not_be_judged()
    {
        Assert.Multiple(() =>
        {
            Assert.That(VerdictExit.Of(Cell(SeedObservations.OopsAtIteration2())), Is.EqualTo(0));
            Assert.That(VerdictExit.Of(Cell(SeedObservations.Clean())), Is.EqualTo(1), "predicted oops, observed clean");
            Assert.That(VerdictExit.Of(Cell(SeedObservations.OopsAtIteration2() with { FaultPfn = 0x144010 })), Is.EqualTo(1));
            Assert.That(VerdictExit.Of(Cell(new Observation
            {
                Outcome = Outcome.PreconditionFailed, Accel = Accel.Tcg, PreconditionFailures = ["/proc/cpuinfo has pse, asked for pse off"],
            })), Is.EqualTo(3));
            Assert.That(VerdictExit.Of(Cell(new Observation { Outcome = Outcome.InfraError, Error = "ssh: connection refused" })), Is.EqualTo(3));
        });
    }
}
