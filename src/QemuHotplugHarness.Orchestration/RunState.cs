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

    /// <summary>The cases of the run (empty: none); each gets its verdict in summary.json, and a suite's verdict is theirs together.</summary>
    public IReadOnlyList<CaseInfo> Cases { get; init; } = [];

    /// <summary>The plan's cases that do not run, with why (summary.json's <c>skipped</c>).</summary>
    public IReadOnlyList<SkippedCase> Skipped { get; init; } = [];

    /// <summary>validate: the draw, written into summary.json.</summary>
    public ValidationInfo? Validation { get; init; }

    /// <summary>kcidb.json's origin and artifact URLs (null: the defaults).</summary>
    public KcidbOptions? Kcidb { get; init; }

    /// <summary>The whole plan this run (or shard) is part of, written into summary.json for merge.</summary>
    public ShardPlan? Plan { get; init; }

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
                if (final) Reports.WriteReports(run, summary, change, Kcidb);
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
        var cases = Cases.Count == 0 ? null : CaseSummaries(Cases, cells, Kind, shard is not null);
        var verdict = Verdicts.OfRun(cases is { Count: > 1 } ? Verdicts.Suite(cases.Select(c => c.Verdict).ToList())
            : Verdicts.Decide(Kind, results, shard is not null), Interrupted, missing: false);
        return new Summary
        {
            Verdict = verdict, Cells = cells, Interrupted = Interrupted, StartedAt = _started,
            Seconds = Math.Round(_watch.Elapsed.TotalSeconds, 1), Shard = shard, Change = change,
            Accel = cells.Select(c => c.Observation.Accel).FirstOrDefault(a => a is not null),
            Kind = Kind, Validation = Validation, Cases = cases, Skipped = Skipped.Count == 0 ? null : Skipped,
            // A whole run's work is its plan; a shard's is only its slice, so without the whole plan it names its shard alone.
            Plan = Plan ?? (shard is null ? new ShardPlan(null, plan.Select(w => new PlannedCell(w.Cell.Case, w.Cell.Name, w.Repeat)).ToList()) : null),
            Unjudged = Orchestration.Summary.UnjudgedOf(cells),
        };
    }

    /// <summary>Each case that has cells here, with its verdict over its own cells.</summary>
    /// <remarks>merge: a case with planned cells that never arrived (<paramref name="missing"/>) is incomplete unless its cells found something.</remarks>
    public static IReadOnlyList<CaseSummary> CaseSummaries(IReadOnlyList<CaseInfo> cases, IReadOnlyList<SummaryCell> cells, RunKind kind, bool shard,
        IReadOnlyCollection<PlannedCell>? missing = null) =>
        cases.Select(info => (info, mine: cells.Where(c => c.Case == info.Name).ToList())).Where(x => x.mine.Count > 0)
            .Select(x => new CaseSummary(x.info.Name, x.info.Fix, x.info.Commit, x.info.Modelled,
                Verdicts.OfRun(Verdicts.Decide(kind, x.mine.Select(c => c.Result).ToList(), shard), interrupted: false,
                    missing: missing?.Any(m => m.Case == x.info.Name) == true),
                x.mine.Select(c => c.Folder).ToList()))
            .ToList();

    private int Order(SummaryCell c) => plan.ToList().FindIndex(w => w.Cell.Name == c.Name && w.Cell.Case == c.Case && w.Repeat == c.Repeat);
}

/// <summary>
/// The one skeleton of every run (reproduce, validate, soak's runs): build what it boots, then its cells side by side,
/// each result into the state as it comes (summary.json rewritten each time, so nothing is lost on a crash); an
/// interrupt writes the partial summary and says where.
/// </summary>
public static class RunEngine
{
    public static async Task<Summary> ExecuteAsync<T>(RunState state, IReadOnlyList<T> items, int jobs, Func<CancellationToken, Task> prepare,
        Func<T, CancellationToken, Task<SummaryCell>> runOne, string artifacts, CancellationToken ct)
    {
        try
        {
            await prepare(ct);
            await Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = jobs, CancellationToken = ct },
                async (item, token) => state.Add(await runOne(item, token)));
        }
        catch (OperationCanceledException)
        {
            state.Interrupted = true;
        }
        var summary = state.Write(final: true);
        if (state.Interrupted) throw new OperationCanceledException("interrupted; partial summary written to " + artifacts);
        return summary;
    }
}
