using QemuHotplugHarness.Scenarios.Cases;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Simulator;

/// <summary>A prediction held to a case cell's "expect" (what a real guest showed): outcome, iteration, title.</summary>
public static class CellExpectationAsserts
{
    public static void MatchesExpect(Prediction p, CaseCell cell)
    {
        Assert.That(p.Outcome, Is.EqualTo(cell.Expect!.Outcome), string.Join("\n", p.Explanation));
        Assert.That(p.OopsIteration, Is.EqualTo(cell.Expect.Iteration));
        Assert.That(cell.Expect.TitleMatches(p.OopsTitle), Is.True, $"predicted title '{p.OopsTitle}', expected '{cell.Expect.Title}'");
    }
}
