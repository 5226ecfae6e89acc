using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration;

/// <summary>
/// What a cell is held to, pluggable per cell: it predicts (what the reports show as "predicted") and the engine
/// compares the observation with that prediction by one rule (<see cref="Comparison"/>). The simulator judges a
/// modelled case; a case outside the model is judged by its cell's expectation.
/// </summary>
public interface ICellJudge
{
    Judge Kind { get; }

    /// <summary>The prediction the observation of <paramref name="s"/> must match.</summary>
    Prediction Predict(Scenario s);

    /// <summary>Where the observation differs from the prediction (empty: a match).</summary>
    IReadOnlyList<string> Mismatches(Prediction p, Observation o) => Comparison.Mismatches(p, o);
}

/// <summary>The simulator, with the case's model of its fix (null: the seed's mechanism, built in).</summary>
public sealed record SimulatorJudge(CaseModel? Model) : ICellJudge
{
    public static readonly SimulatorJudge Seed = new((CaseModel?)null);

    public Judge Kind => Judge.Simulator;

    public Prediction Predict(Scenario s) => Predictor.Predict(s, Model);
}

/// <summary>
/// A case's cell outside the model: its expectation (outcome, iteration and title when given) on the layout the
/// simulator still predicts (the machine is modelled even when the workload is not); nothing predicts a fault pfn.
/// </summary>
public sealed record ExpectationJudge(CaseExpectation Expect, string NotModelled) : ICellJudge
{
    public Judge Kind => Judge.Expectation;

    public IReadOnlyList<string> Mismatches(Prediction p, Observation o) => Comparison.Mismatches(p, o, "expected");

    public Prediction Predict(Scenario s) => Predictor.Predict(s) with
    {
        Outcome = Expect.Outcome, OopsIteration = Expect.Iteration, OopsTitle = Expect.Outcome == Outcome.Oops ? Expect.Title : null,
        FirstFaultPfn = null, FirstFaultAddress = null, FaultAddressRange = null, OopsFunction = null, OopsPfn = null, OopsStep = null,
        Rejection = null, WorkloadError = null, Iterations = [],
        Explanation = ["Not modelled: " + NotModelled, "Expected (the case's cell): " + Expect.Describe()],
    };
}
