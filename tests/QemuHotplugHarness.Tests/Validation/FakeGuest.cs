using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Orchestration.Validation;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Validation;

/// <summary>
/// A stand-in for real guests that behaves as the real simulator says the kernel does (the RAM buffer included),
/// writing observation.json as a cell does. Lets a test judge a wrong model without booting anything.
/// </summary>
public sealed class FakeGuest : ICellObserver
{
    public List<string> Prepared { get; } = [];

    /// <summary>The kernel recipe each build and each run was asked for, by scenario name.</summary>
    public List<(string Scenario, KernelRecipe? Kernel)> PreparedKernels { get; } = [];
    public List<(string Scenario, KernelRecipe? Kernel)> ObservedKernels { get; } = [];

    public Task PrepareAsync(Scenario scenario, KernelRecipe? kernel, CancellationToken ct)
    {
        lock (Prepared)
        {
            Prepared.Add(scenario.Name);
            PreparedKernels.Add((scenario.Name, kernel));
        }
        return Task.CompletedTask;
    }

    public async Task<Observation> ObserveAsync(CellRequest request, RunOptions options, CancellationToken ct)
    {
        lock (Prepared) ObservedKernels.Add((request.Scenario.Name, request.Kernel));
        var observation = Observe(request.Scenario);
        request.Artifacts.Create();
        await File.WriteAllTextAsync(request.Artifacts.Observation, HarnessJson.Serialize(observation), ct);
        return observation;
    }

    /// <summary>What a guest shows for a scenario when the kernel does what the real model says.</summary>
    public static Observation Observe(Scenario s)
    {
        var truth = Predictor.Predict(s);
        return new Observation
        {
            Outcome = truth.Outcome, OopsIteration = truth.OopsIteration, FaultPfn = truth.FirstFaultPfn, Rejection = truth.Rejection,
            Accel = Accel.Tcg, Seconds = 1,
            Layout = truth.Outcome == Outcome.Rejected ? null
                : new ObservedLayout(truth.Layout.SystemRamAbove4G, truth.Layout.PersistentMemory, truth.Layout.PersistentMemory?.Start),
        };
    }
}

/// <summary>A deliberately wrong model: the real predictor, except that it knows nothing of the RAM buffer after the end of RAM.</summary>
public static class RamBufferBlindPredictor
{
    public static Prediction Predict(Scenario s)
    {
        var p = Predictor.Predict(s);
        return p.WorkloadError?.Contains("RAM buffer", StringComparison.Ordinal) == true
            ? p with { Outcome = Outcome.Clean, WorkloadError = null, Iterations = [] }
            : p;
    }
}
