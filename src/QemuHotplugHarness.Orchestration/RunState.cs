using System.Diagnostics;

namespace QemuHotplugHarness.Orchestration;

/// <summary>
/// The cells of a run as they finish, in plan order. summary.json is rewritten after every cell (nothing lost on a
/// crash); the reports (junit, kcidb, html) are rendered once at the end.
/// </summary>
public sealed class RunState(RunArtifacts run, string? shard, ChangeUnderTest change, IReadOnlyList<WorkItem> plan)
{
    private readonly object _gate = new();
    private readonly List<SummaryCell> _cells = [];
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private readonly Stopwatch _watch = Stopwatch.StartNew();

    public bool Interrupted { get; set; }

    /// <summary>What the run is; decides its verdict.</summary>
    public RunKind Kind { get; init; } = RunKind.Reproduce;

    /// <summary>validate: the draw, written into summary.json.</summary>
    public Validation.ValidationInfo? Validation { get; init; }

    public void Add(SummaryCell cell)
    {
        lock (_gate)
        {
            _cells.Add(cell);
            _cells.Sort((a, b) => Order(a).CompareTo(Order(b)));
            Write(final: false);
        }
    }

    public Summary Write(bool final)
    {
        lock (_gate)
        {
            var summary = Summary();
            try
            {
                Reports.WriteSummary(run, summary);
                if (final) Reports.WriteReports(run, summary, change);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new Scenarios.InfrastructureException($"could not save the run's summary or reports in {run.Dir}: {e.Message}", e);
            }
            return summary;
        }
    }

    private Summary Summary()
    {
        var cells = _cells.ToList();
        var results = cells.Select(c => c.Result).ToList();
        var verdict = Interrupted ? Verdict.InfraError : Verdicts.Decide(Kind, results, shard is not null);
        return new Summary
        {
            Verdict = verdict, Cells = cells, Interrupted = Interrupted, StartedAt = _started,
            Seconds = Math.Round(_watch.Elapsed.TotalSeconds, 1), Shard = shard, Change = change,
            Accel = cells.Select(c => c.Observation.Accel).FirstOrDefault(a => a is not null),
            Kind = Kind, Validation = Validation,
        };
    }

    private int Order(SummaryCell c) => plan.ToList().FindIndex(w => w.Cell.Name == c.Name && w.Repeat == c.Repeat);
}
