using System.Diagnostics;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using Serilog;

namespace QemuHotplugHarness.Orchestration;

/// <summary>One cell × repeat of a reproduction, and the folder its files go in.</summary>
public sealed record WorkItem(Cell Cell, int Repeat, string Folder);

/// <summary>Runs the matrix: builds what is missing, then each cell on a real guest, then the verdict and reports.</summary>
public sealed class Reproducer(BuildContext ctx, InputsResolver inputs, ILogger log) : ICellObserver
{
    /// <summary>Cells run at once (--jobs), bounded by cores and memory.</summary>
    public int Jobs { get; init; } = 1;

    /// <summary>
    /// reproduce's default: a guest per core (memory permitting). A TCG guest is busy mostly while it boots, on one
    /// vCPU thread, so two side by side on 2 cores ran the default matrix in 19.5 s with nothing but the builds cached
    /// and 7.6 s warm, against 27.3 s and 10.0 s one at a time.
    /// </summary>
    public static int DefaultJobs => Environment.ProcessorCount;

    /// <summary>What reports say about the change under test.</summary>
    public ChangeUnderTest Change { get; init; } = ChangeUnderTest.FromPatches([], DefaultTree);

    /// <summary>The cases the cells belong to (empty: cells outside any case); summary.json and the reports name each with its verdict.</summary>
    public IReadOnlyList<CaseInfo> Cases { get; init; } = [];

    /// <summary>The plan's cases that do not run here, with why (reported in summary.json, never a failure).</summary>
    public IReadOnlyList<SkippedCase> Skipped { get; init; } = [];

    /// <summary>The whole plan the run is a shard of (its shard and every cell × repeat), for merge to check; null = the work is the plan.</summary>
    public ShardPlan? WholePlan { get; init; }

    /// <summary>kcidb.json's origin and artifact URLs (null: the defaults).</summary>
    public KcidbOptions? Kcidb { get; init; }

    /// <summary>The tree the kernel variants are built from when the user names none (Debian's linux-source package).</summary>
    public static string DefaultTree => RepoLayout.Discover().Lines().Default is var l ? l.Debian.Package ?? l.Debian.PackagePrefix + l.Name : "";

    /// <summary>Each guest wants about two cores under TCG and up to its RAM (4 GiB) plus what it touches of the NVDIMM.</summary>
    public static int EffectiveJobs(int wanted, ILogger log)
    {
        var memGiB = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30);
        var bound = (int)Math.Max(1, Math.Min(Environment.ProcessorCount, memGiB / 6));
        if (wanted > bound) log.Information("jobs {Wanted}: limited to {Bound} ({Cores} cores, {Mem} GiB)", wanted, bound, Environment.ProcessorCount, memGiB);
        return Math.Clamp(wanted, 1, bound);
    }

    /// <summary>Each cell × repeat and its folder; with <paramref name="caseFolders"/> (a suite) under a folder per case.</summary>
    public static IReadOnlyList<WorkItem> Plan(IReadOnlyList<(Cell Cell, int Repeat)> work, bool caseFolders = false) =>
        work.Select(w => new WorkItem(w.Cell, w.Repeat, Folder(w, work, caseFolders))).ToList();

    private static string Folder((Cell Cell, int Repeat) w, IReadOnlyList<(Cell Cell, int Repeat)> work, bool caseFolders)
    {
        var name = work.Count(x => x.Cell.Label == w.Cell.Label) > 1 || w.Repeat > 1 ? $"{w.Cell.Name}-{w.Repeat}" : w.Cell.Name;
        return caseFolders && w.Cell.Case is { } c ? $"{c}/{name}" : name;
    }

    public async Task<Summary> RunAsync(IReadOnlyList<WorkItem> work, string artifacts, RunOptions options, string? shard,
        Action<string, string>? progress, CancellationToken ct)
    {
        var run = new RunArtifacts(artifacts);
        var state = new RunState(run, shard, Change, work) { Cases = Cases, Skipped = Skipped, Plan = WholePlan, Kcidb = Kcidb };
        return await RunEngine.ExecuteAsync(state, work, EffectiveJobs(Jobs, log), token => BuildAllAsync(work, progress, token),
            (item, token) => RunCellAsync(item, run, options, progress, token), artifacts, ct);
    }

    /// <summary>Builds first (cached), so cell times are guest times.</summary>
    private async Task BuildAllAsync(IReadOnlyList<WorkItem> work, Action<string, string>? progress, CancellationToken ct)
    {
        foreach (var item in work.DistinctBy(w => w.Cell.Label))
        {
            progress?.Invoke(item.Cell.Label, "building");
            await inputs.ResolveAsync(item.Cell.Scenario, item.Cell.Kernel, ct);
        }
        foreach (var item in work.DistinctBy(w => w.Cell.Label)) progress?.Invoke(item.Cell.Label, "queued");
    }

    private async Task<SummaryCell> RunCellAsync(WorkItem item, RunArtifacts run, RunOptions options, Action<string, string>? progress, CancellationToken ct)
    {
        var (cell, repeat, folder) = item;
        progress?.Invoke(cell.Label, "starting");
        var prediction = cell.Predict();
        var files = run.Cell(folder);
        var cellOptions = options with { Progress = p => progress?.Invoke(cell.Label, p) };
        var request = new CellRequest(cell.Scenario, prediction, files) { Kernel = cell.Kernel };
        var observation = await ObserveAsync(request, cellOptions, ct);
        if (observation.Outcome == Outcome.InfraError && RetryInfraErrors && !ct.IsCancellationRequested)
            observation = await RetryAsync(cell, request, observation, cellOptions, progress, ct);
        var mismatches = cell.Judge.Mismatches(prediction, observation);
        progress?.Invoke(cell.Label, $"done: {observation.Outcome.Kebab()}{(mismatches.Count == 0 ? " (match)" : " MISMATCH")}");
        log.Information("{Cell}: predicted {Predicted}, observed {Observed}{Match}", cell.Label, prediction.Outcome.Kebab(), observation.Outcome.Kebab(),
            mismatches.Count == 0 ? " - match" : " - MISMATCH: " + string.Join("; ", mismatches));
        return new SummaryCell(cell.Name, repeat, cell.Scenario, prediction, observation, mismatches.Count == 0, mismatches, folder) { Case = cell.Case, Judge = cell.Judge.Kind };
    }

    /// <summary>
    /// A cell that could not be observed runs once more before it is judged: a lab glitch (a killed QEMU, a lost
    /// connection) should not decide a night. Both attempts stay in the artifacts (the first in attempt-1/).
    /// </summary>
    public bool RetryInfraErrors { get; init; } = true;

    private async Task<Observation> RetryAsync(Cell cell, CellRequest request, Observation first, RunOptions options,
        Action<string, string>? progress, CancellationToken ct)
    {
        log.Warning("{Cell}: infra-error ({Error}); running it once more", cell.Label, first.Error);
        progress?.Invoke(cell.Label, "retrying after infra-error");
        var kept = request.Artifacts.KeepAsAttempt(1);
        var second = await ObserveAsync(request, options, ct);
        var earlier = new EarlierAttempt(1, first.Outcome, first.Error, Path.GetFileName(kept.Dir));
        var observation = second with { EarlierAttempts = [earlier] };
        await ArtifactFiles.WriteAsync(request.Artifacts.Observation, HarnessJson.Serialize(observation), CancellationToken.None);
        return observation;
    }

    /// <summary>Builds (or takes from the cache) what a scenario boots.</summary>
    public Task PrepareAsync(Scenario scenario, KernelRecipe? kernel, CancellationToken ct) => inputs.ResolveAsync(scenario, kernel, ct);

    /// <summary>Snapshots of booted guests live in the cache beside the builds they are keyed on.</summary>
    public static SnapshotStore Snapshots(BuildContext ctx, ILogger log) =>
        new(Path.Combine(ctx.Cache.Root, "snapshot"), log) { Keep = CacheBounds.Snapshots.FromEnvironment() };

    /// <summary>Resolves the cell's inputs and runs it; a build that fails for this cell is its infra-error, not the run's end.</summary>
    public async Task<Observation> ObserveAsync(CellRequest request, RunOptions options, CancellationToken ct)
    {
        try
        {
            var guestInputs = await inputs.ResolveAsync(request.Scenario, request.Kernel, ct);
            var runner = new CellRunner(new AccelChooser(ctx.Cache, log), options, log, Snapshots(ctx, log));
            return await runner.RunAsync(new CellPlan(request.Scenario, request.Prediction, guestInputs, request.Artifacts), ct);
        }
        catch (Exception e) when (CellRunner.IsInfrastructure(e, ct))
        {
            log.Error("{Cell}: infrastructure error: {Message}", request.Scenario.Name, e.Message);
            var observation = new Observation { Outcome = Outcome.InfraError, Error = e.Message };
            try
            {
                request.Artifacts.Create();
                await ArtifactFiles.WriteAsync(request.Artifacts.Observation, HarnessJson.Serialize(observation), CancellationToken.None);
            }
            catch (Exception unsaved) when (unsaved is InfrastructureException or IOException or UnauthorizedAccessException)
            {
                log.Error("{Cell}: {Unsaved}", request.Scenario.Name, unsaved.Message);
            }
            return observation;
        }
    }
}

/// <summary>A cell to observe: its scenario, its one prediction and its folder.</summary>
public sealed record CellRequest(Scenario Scenario, Prediction Prediction, CellArtifacts Artifacts)
{
    /// <summary>The case's kernel recipe; null = the sources' default.</summary>
    public KernelRecipe? Kernel { get; init; }
}
