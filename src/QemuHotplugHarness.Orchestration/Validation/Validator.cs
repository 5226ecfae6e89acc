using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Orchestration.Validation;

/// <summary>
/// Runs a validation sample: every drawn scenario on a guest with the same orchestration as reproduce (a folder per
/// scenario, summary.json after each, junit.xml, kcidb.json and report.html at the end), judged field by field
/// against the prediction it was drawn with.
/// </summary>
public sealed class Validator(ICellObserver observer, ILogger log)
{
    /// <summary>Scenarios run at once (--jobs), bounded by cores and memory.</summary>
    public int Jobs { get; init; } = Reproducer.DefaultJobs;

    public ChangeUnderTest Change { get; init; } = ChangeUnderTest.FromPatches([], Reproducer.DefaultTree);

    /// <summary>The scenarios of a shard (k/n over the draw's order), or all of them.</summary>
    public static IReadOnlyList<DrawnScenario> Shard(ValidationSample sample, string? shard)
    {
        var cells = sample.Scenarios.Select(d => new Cell(d.Name, d.Scenario)).ToList();
        var names = Matrix.Shard(cells, 1, shard).Select(w => w.Cell.Name).ToHashSet();
        return sample.Scenarios.Where(d => names.Contains(d.Name)).ToList();
    }

    public async Task<Summary> RunAsync(ValidationSample sample, IReadOnlyList<DrawnScenario> scenarios, string artifacts, RunOptions options,
        string? shard, Action<string, string>? progress, CancellationToken ct)
    {
        var run = new RunArtifacts(artifacts);
        var plan = scenarios.Select(d => new WorkItem(new Cell(d.Name, d.Scenario), 1, d.Name)).ToList();
        var state = new RunState(run, shard, Change, plan)
        {
            Kind = RunKind.Validate, Validation = sample.Info,
            Plan = ShardPlan.Of(sample.Scenarios.Select(d => new Cell(d.Name, d.Scenario)).ToList(), 1, shard),
        };
        return await RunEngine.ExecuteAsync(state, scenarios, Reproducer.EffectiveJobs(Jobs, log), token => PrepareAsync(scenarios, progress, token),
            (d, token) => RunOneAsync(d, run, options, progress, token), artifacts, ct);
    }

    /// <summary>Builds each distinct guest once before any runs, so scenario times are guest times.</summary>
    private async Task PrepareAsync(IReadOnlyList<DrawnScenario> scenarios, Action<string, string>? progress, CancellationToken ct)
    {
        foreach (var d in scenarios.DistinctBy(d => (d.Scenario.Qemu, d.Scenario.Kernel.Variant, d.Scenario.Kernel.Line, d.Kernel?.Key)))
        {
            progress?.Invoke(d.Name, "building");
            await observer.PrepareAsync(d.Scenario, d.Kernel, ct);
        }
    }

    private async Task<SummaryCell> RunOneAsync(DrawnScenario d, RunArtifacts run, RunOptions options, Action<string, string>? progress, CancellationToken ct)
    {
        progress?.Invoke(d.Name, "starting");
        var cellOptions = options with { Progress = p => progress?.Invoke(d.Name, p) };
        var observation = await observer.ObserveAsync(new CellRequest(d.Scenario, d.Prediction, run.Cell(d.Name)) { Kernel = d.Kernel }, cellOptions, ct);
        var disagreements = Agreement.Disagreements(d.Prediction, observation);
        var word = observation.Outcome == Outcome.InfraError ? "not judged" : disagreements.Count == 0 ? "agrees" : "DISAGREES";
        progress?.Invoke(d.Name, $"done: {observation.Outcome.Kebab()} ({word})");
        log.Information("{Scenario}: predicted {Predicted}, observed {Observed} - {Word}{Fields}", d.Name, d.OutcomeClass, observation.Outcome.Kebab(), word,
            disagreements.Count == 0 ? "" : ": " + string.Join("; ", disagreements));
        return new SummaryCell(d.Name, 1, d.Scenario, d.Prediction, observation, disagreements.Count == 0, disagreements, d.Name) { Case = d.Case };
    }
}
