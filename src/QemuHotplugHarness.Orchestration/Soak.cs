using System.Collections.Concurrent;
using System.Diagnostics;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

/// <summary>How one cell of the matrix fared over a soak: how often it was observed as predicted, and what was seen.</summary>
public sealed record SoakCell(string Name, string Predicted, int Runs, int AsPredicted, IReadOnlyDictionary<string, int> Observed)
{
    /// <summary>The share of runs in which the cell was observed as predicted (for the oopsing cell: the reproduction rate).</summary>
    public double Rate => Runs == 0 ? 0 : Math.Round((double)AsPredicted / Runs, 4);
}

/// <summary>What a soak found: written as soak.json and printed.</summary>
public sealed record SoakReport
{
    public int RunsWanted { get; init; }
    public int Runs { get; init; }
    public Verdict Expected { get; init; }
    /// <summary>Runs whose verdict was not <see cref="Expected"/> (infra-error included): must be 0.</summary>
    public int WrongVerdicts { get; init; }
    public IReadOnlyDictionary<string, int> Verdicts { get; init; } = new Dictionary<string, int>();
    /// <summary>QEMUs still running after the run that started them returned: must be 0.</summary>
    public int Orphans { get; init; }
    public IReadOnlyList<SoakCell> Cells { get; init; } = [];
    public double WallSeconds { get; init; }
    public IReadOnlyList<double> RunSeconds { get; init; } = [];
    /// <summary>The harness's peak working set over the soak (VmHWM), MiB.</summary>
    public double PeakWorkingSetMiB { get; init; }
    /// <summary>The managed heap after the last run, MiB: flat across runs means nothing accumulates.</summary>
    public IReadOnlyList<double> HeapAfterRunMiB { get; init; } = [];
    public bool Interrupted { get; init; }
}

/// <summary>
/// N full default matrices back to back (warm caches): wrong verdicts, orphaned QEMUs, per-cell reproduction
/// rates, wall time and peak memory. Each run is an ordinary reproduction in its own folder (run-001, ...).
/// </summary>
public sealed class Soak(Reproducer reproducer)
{
    /// <summary>The default matrix's verdict when every cell is observed as predicted.</summary>
    public const Verdict Expected = Verdict.PatchFixes;

    public async Task<SoakReport> RunAsync(IReadOnlyList<Cell> matrix, int runs, string artifacts, RunOptions options, Action<string>? progress, CancellationToken ct)
    {
        var started = new ConcurrentBag<int>();
        void OnStarted(int pid) => started.Add(pid);
        var summaries = new List<Summary>();
        var times = new List<double>();
        var heap = new List<double>();
        var orphans = 0;
        var interrupted = false;
        var wall = Stopwatch.StartNew();
        QemuProcess.AnyStarted += OnStarted;
        try
        {
            for (var i = 1; i <= runs; i++)
            {
                var watch = Stopwatch.StartNew();
                started.Clear();
                var work = Reproducer.Plan(Matrix.Shard(matrix, 1, null), caseFolders: matrix.Select(c => c.Case).Distinct().Count() > 1);
                var summary = await reproducer.RunAsync(work, Path.Combine(artifacts, $"run-{i:000}"), options, null, null, ct);
                summaries.Add(summary);
                times.Add(Math.Round(watch.Elapsed.TotalSeconds, 1));
                orphans += started.Count(Running);
                heap.Add(Math.Round(GC.GetTotalMemory(forceFullCollection: true) / 1048576.0, 1));
                progress?.Invoke($"soak run {i}/{runs}: {summary.Verdict.Kebab()} in {times[^1]:F0} s; orphans so far {orphans}");
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            interrupted = true;
        }
        finally
        {
            QemuProcess.AnyStarted -= OnStarted;
        }
        var report = Report(matrix, runs, summaries, times, heap, orphans, wall.Elapsed, interrupted);
        await ArtifactFiles.WriteAsync(Path.Combine(artifacts, "soak.json"), HarnessJson.Serialize(report), CancellationToken.None);
        if (interrupted) throw new OperationCanceledException($"interrupted after {summaries.Count} of {runs} soak runs; soak.json written to {artifacts}");
        return report;
    }

    private static SoakReport Report(IReadOnlyList<Cell> matrix, int wanted, List<Summary> summaries, List<double> times, List<double> heap, int orphans, TimeSpan wall, bool interrupted) => new()
    {
        RunsWanted = wanted, Runs = summaries.Count, Expected = Expected,
        WrongVerdicts = summaries.Count(s => s.Verdict != Expected),
        Verdicts = summaries.GroupBy(s => s.Verdict.Kebab()).ToDictionary(g => g.Key, g => g.Count()),
        Orphans = orphans,
        Cells = matrix.Select(c => CellOf(c.Name, summaries)).ToList(),
        WallSeconds = Math.Round(wall.TotalSeconds, 1), RunSeconds = times, HeapAfterRunMiB = heap,
        PeakWorkingSetMiB = Math.Round(PeakWorkingSetBytes() / 1048576.0, 1), Interrupted = interrupted,
    };

    private static SoakCell CellOf(string name, List<Summary> summaries)
    {
        var cells = summaries.SelectMany(s => s.Cells).Where(c => c.Name == name).ToList();
        var predicted = cells.Select(c => Describe(c.Prediction.Outcome, c.Prediction.OopsIteration)).FirstOrDefault() ?? "";
        var observed = cells.GroupBy(c => Describe(c.Observation.Outcome, c.Observation.OopsIteration)).ToDictionary(g => g.Key, g => g.Count());
        return new SoakCell(name, predicted, cells.Count, cells.Count(c => c.Match), observed);
    }

    private static string Describe(Outcome outcome, int? iteration) => outcome.Kebab() + (iteration is { } i ? "@" + i : "");

    /// <summary>A QEMU that is still running (not a zombie waiting to be reaped).</summary>
    private static bool Running(int pid)
    {
        try
        {
            var status = $"/proc/{pid}/status";
            return File.Exists(status) && !File.ReadLines(status).Any(l => l.StartsWith("State:", StringComparison.Ordinal) && l.Contains("zombie", StringComparison.Ordinal));
        }
        catch (IOException) { return false; }
    }

    /// <summary>The kernel's high-water mark of this process's resident set (VmHWM), which .NET's PeakWorkingSet64 reads too.</summary>
    private static long PeakWorkingSetBytes()
    {
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return self.PeakWorkingSet64;
    }
}
