using QemuHotplugHarness.Scenarios;
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

    /// <summary>The scenario of <paramref name="cell"/> of <paramref name="c"/>, on kernel line <paramref name="line"/> (null: the case's).</summary>
    public static Scenario ScenarioOf(Case c, CaseCell cell, string? line = null)
    {
        var s = c.Scenario.WithQemu(cell.Qemu).WithKernel(cell.Kernel).WithPse(cell.Pse);
        return line is null ? s : s with { Kernel = s.Kernel with { Line = line } };
    }

    /// <summary>The prediction for the cell of <paramref name="c"/> with kernel <paramref name="variant"/> on <paramref name="line"/>, its scenario changed first.</summary>
    public static Prediction PredictCell(Case c, KernelVariant variant, string? line = null, Func<Scenario, Scenario>? change = null)
    {
        var s = ScenarioOf(c, c.Cells!.Single(x => x.Kernel == variant), line);
        return Predictor.Predict(change is null ? s : change(s), c.Model);
    }
}
