using System.Diagnostics;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Simulator;
using Serilog;

namespace QemuHotplugHarness.Orchestration;

/// <summary>Runs the matrix: builds what is missing, then each cell on a real guest, then the verdict and reports.</summary>
public sealed class Reproducer(BuildContext ctx, InputsResolver inputs, ILogger log)
{
    /// <summary>Cells run at once (--jobs), bounded by cores and memory.</summary>
    public int Jobs { get; init; } = 1;

    /// <summary>Each guest wants about two cores under TCG and up to its RAM (4 GiB) plus what it touches of the NVDIMM.</summary>
    public static int EffectiveJobs(int wanted, ILogger log)
    {
        var memGiB = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30);
        var bound = (int)Math.Max(1, Math.Min(Environment.ProcessorCount, memGiB / 6));
        if (wanted > bound) log.Information("--jobs {Wanted}: limited to {Bound} ({Cores} cores, {Mem} GiB)", wanted, bound, Environment.ProcessorCount, memGiB);
        return Math.Clamp(wanted, 1, bound);
    }

    /// <summary>The patch under test, listed in kcidb.json.</summary>
    public IReadOnlyList<string> PatchFiles { get; init; } = Directory.Exists(ctx.Repo.KernelPatches)
        ? Directory.GetFiles(ctx.Repo.KernelPatches, "*.patch").OrderBy(p => p, StringComparer.Ordinal).ToList()
        : [];

    public async Task<Summary> RunAsync(IReadOnlyList<(Cell Cell, int Repeat)> work, string artifacts, RunOptions options, string? shard,
        Action<string, string>? progress, CancellationToken ct)
    {
        var started = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        var results = new List<SummaryCell>();
        var interrupted = false;
        string? accel = null;
        try
        {
            // Build first (cached), so cell times are guest times.
            foreach (var (cell, _) in work.DistinctBy(w => w.Cell.Name))
            {
                progress?.Invoke(cell.Name, "building");
                await inputs.ResolveAsync(cell.Scenario, ct);
            }
            foreach (var (cell, _) in work.DistinctBy(w => w.Cell.Name)) progress?.Invoke(cell.Name, "queued");
            var gate = new object();
            var order = work.Select((w, i) => (w.Cell.Name, w.Repeat, i)).ToDictionary(x => (x.Name, x.Repeat), x => x.i);
            await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = EffectiveJobs(Jobs, log), CancellationToken = ct }, async (w, token) =>
            {
                var (cell, repeat) = w;
                var folder = work.Count(x => x.Cell.Name == cell.Name) > 1 || repeat > 1 ? $"{cell.Name}-{repeat}" : cell.Name;
                var dir = Path.Combine(artifacts, folder);
                progress?.Invoke(cell.Name, "starting");
                var prediction = Predictor.Predict(cell.Scenario);
                Observation observation;
                try
                {
                    var guestInputs = await inputs.ResolveAsync(cell.Scenario, token);
                    observation = await new GuestRunner(ctx.Cache, log).RunAsync(cell.Scenario, guestInputs, dir,
                        options with { Progress = p => progress?.Invoke(cell.Name, p) }, token);
                }
                catch (Exception e) when (e is Scenarios.InfrastructureException or GuestFailedException or IOException or TimeoutException or Renci.SshNet.Common.SshException)
                {
                    log.Error("{Cell}: infrastructure error: {Message}", cell.Name, e.Message);
                    Directory.CreateDirectory(dir);
                    observation = new Observation { Outcome = Outcomes.InfraError, Accel = accel ?? "unknown", Error = e.Message };
                    File.WriteAllText(Path.Combine(dir, "observation.json"), Scenarios.HarnessJson.Serialize(observation));
                }
                var mismatches = Comparison.Mismatches(prediction, observation);
                progress?.Invoke(cell.Name, mismatches.Count == 0 ? $"done: {observation.Outcome} (match)" : $"done: {observation.Outcome} MISMATCH");
                log.Information("{Cell}: predicted {Predicted}, observed {Observed}{Match}", cell.Name, prediction.Outcome, observation.Outcome,
                    mismatches.Count == 0 ? " - match" : " - MISMATCH: " + string.Join("; ", mismatches));
                lock (gate)
                {
                    if (observation.Outcome != Outcomes.InfraError) accel ??= observation.Accel;
                    results.Add(new SummaryCell(cell.Name, repeat, cell.Scenario, prediction, observation, mismatches.Count == 0, mismatches, folder));
                    results.Sort((a, b) => order[(a.Name, a.Repeat)].CompareTo(order[(b.Name, b.Repeat)]));
                    WriteSummary(artifacts, results, started, watch, interrupted: false, accel, shard); // nothing lost on a crash
                }
            });
        }
        catch (OperationCanceledException)
        {
            interrupted = true;
        }
        var summary = WriteSummary(artifacts, results, started, watch, interrupted, accel, shard);
        if (interrupted) throw new OperationCanceledException("interrupted; partial summary written to " + artifacts);
        return summary;
    }

    private Summary WriteSummary(string artifacts, List<SummaryCell> results, DateTimeOffset started, Stopwatch watch, bool interrupted, string? accel, string? shard)
    {
        var verdict = interrupted ? Verdicts.InfraError : Verdicts.Decide(results.Select(r => new CellResult(r.Name, r.Repeat, r.Scenario, r.Prediction, r.Observation, r.Mismatches)).ToList());
        var summary = new Summary { Verdict = verdict, Cells = results.ToList(), Interrupted = interrupted, StartedAt = started, Seconds = Math.Round(watch.Elapsed.TotalSeconds, 1), Accel = accel, Shard = shard };
        Reports.Write(artifacts, summary, PatchFiles);
        return summary;
    }
}
