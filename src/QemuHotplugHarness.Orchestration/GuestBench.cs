using System.Diagnostics;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using Serilog;

namespace QemuHotplugHarness.Orchestration;

/// <summary>One measured figure: every sample in seconds, and the accelerator and cores it was measured on.</summary>
public sealed record BenchFigure(string Name, string Accel, int Cores, IReadOnlyList<double> Samples)
{
    public double Min => Samples.Count == 0 ? double.NaN : Samples.Min();
    public double Median => Samples.Count == 0 ? double.NaN : Sorted[Sorted.Count / 2] / 2 + Sorted[(Sorted.Count - 1) / 2] / 2;
    public double Max => Samples.Count == 0 ? double.NaN : Samples.Max();
    private List<double> Sorted => Samples.Order().ToList();
}

/// <summary>What <c>bench guest</c> measured, and the harness/baseline ratio (median cold cell over median plain run).</summary>
/// <remarks>Positional with seven fields: one parameter per JSON field.</remarks>
public sealed record GuestBenchResult(string Accel, int Cores, int Runs, string Scenario, IReadOnlyList<BenchFigure> Figures, double? Ratio, string Load);

/// <summary>Which figures <see cref="GuestBench"/> takes (all by default).</summary>
public enum GuestBenchPart { Cold, Restore, Iteration, Cell, ColdCell, Matrix, Baseline }

/// <summary>
/// Measures guests as a user meets them, each figure over <see cref="Runs"/> runs: a cold boot and a restore to
/// SSH-ready, one reconfiguration, one whole cell (from its snapshot and cold), the warm default matrix, and the same
/// guest and workload driven by <see cref="PlainBaseline"/> (plain QEMU + OpenSSH).
/// </summary>
public sealed class GuestBench(BuildContext ctx, InputsResolver inputs, ILogger log)
{
    public int Runs { get; init; } = 5;
    public AccelChoice Accel { get; init; } = AccelChoice.Auto;
    public IReadOnlySet<GuestBenchPart> Parts { get; init; } = Enum.GetValues<GuestBenchPart>().ToHashSet();

    /// <summary>A clean workload on the seed's machine: the patched kernel, PSE off.</summary>
    public static Scenario Workload { get; } = Scenario.Seed.WithKernel(KernelVariant.Patched);

    public async Task<GuestBenchResult> RunAsync(string scratch, Action<string> progress, CancellationToken ct)
    {
        var load = File.Exists("/proc/loadavg") ? (await File.ReadAllTextAsync("/proc/loadavg", ct)).Trim() : "";
        var gi = await inputs.ResolveAsync(Workload, ct);
        var accel = (await new AccelChooser(ctx.Cache, log).ChooseAsync(Accel, gi, ct)).Accel;
        var options = new RunOptions { Accel = accel == Guest.Accel.Kvm ? AccelChoice.Kvm : AccelChoice.Tcg };
        var figures = new List<BenchFigure>();
        var name = accel.Kebab();
        async Task Figure(GuestBenchPart part, string title, Func<int, Task<double>> sample)
        {
            if (!Parts.Contains(part)) return;
            var samples = new List<double>();
            for (var i = 0; i < Runs; i++)
            {
                progress($"{title}: run {i + 1} of {Runs}");
                samples.Add(Math.Round(await sample(i), 3));
            }
            figures.Add(new BenchFigure(title, name, Environment.ProcessorCount, samples));
        }
        GuestConfiguration Config(string console) => CellRunner.Configure(gi, Workload, accel, Path.Combine(scratch, console), options);
        var store = Reproducer.Snapshots(ctx, log);

        await Figure(GuestBenchPart.Cold, "cold boot to SSH-ready", async i => await ReadyAsync(QemuGuest.StartAsync(Config($"cold-{i}.log"), log, ct), ct));
        var snapshot = Parts.Overlaps([GuestBenchPart.Restore, GuestBenchPart.Iteration])
            ? await store.GetOrMakeAsync(Config("snapshot.log"), CellRunner.Prologue(Workload), ct) ?? throw new InfrastructureException("bench: the snapshot could not be made (see the log)")
            : null;
        await Figure(GuestBenchPart.Restore, "restore to SSH-ready", async i => await ReadyAsync(QemuGuest.RestoreAsync(Config($"restore-{i}.log"), snapshot!, log, ct), ct));
        if (Parts.Contains(GuestBenchPart.Iteration))
        {
            await using var guest = await QemuGuest.RestoreAsync(Config("iterations.log"), snapshot!, log, ct);
            await guest.WaitReadyAsync(ct);
            await Figure(GuestBenchPart.Iteration, "one iteration (reconfigure over SSH)", async _ =>
            {
                var r = await guest.RunAsync(Workload.Workload.ReconfigureArguments(), guest.Configuration.Timeouts.Command, ct);
                return r.ExitCode == 0 ? r.Seconds : throw new InfrastructureException($"bench: reconfigure failed: {r.Stderr.Trim()}");
            });
        }
        await Figure(GuestBenchPart.Cell, "one cell, from its snapshot", i => CellAsync(gi, options, Path.Combine(scratch, $"cell-{i}"), ct));
        await Figure(GuestBenchPart.ColdCell, "one cell, cold (--no-snapshot)", i => CellAsync(gi, options with { Snapshots = false }, Path.Combine(scratch, $"cold-cell-{i}"), ct));
        await Figure(GuestBenchPart.Matrix, "warm default matrix (5 cells, default --jobs)", i => MatrixAsync(options, Path.Combine(scratch, $"matrix-{i}"), ct));
        await Figure(GuestBenchPart.Baseline, "baseline: plain qemu + ssh, cold, same workload",
            i => new PlainBaseline(Config($"baseline-{i}.log"), log).RunAsync(Workload.Workload.Steps(), Path.Combine(scratch, $"baseline-{i}.log"), ct));

        var cold = figures.FirstOrDefault(f => f.Name.StartsWith("one cell, cold", StringComparison.Ordinal));
        var baseline = figures.FirstOrDefault(f => f.Name.StartsWith("baseline", StringComparison.Ordinal));
        var ratio = cold is null || baseline is null ? (double?)null : Math.Round(cold.Median / baseline.Median, 3);
        var loadAfter = File.Exists("/proc/loadavg") ? (await File.ReadAllTextAsync("/proc/loadavg", ct)).Trim() : "";
        return new GuestBenchResult(name, Environment.ProcessorCount, Runs, Workload.Describe(), figures, ratio, $"before {load}; after {loadAfter}");
    }

    private static async Task<double> ReadyAsync(Task<QemuGuest> starting, CancellationToken ct)
    {
        await using var guest = await starting;
        await guest.WaitReadyAsync(ct);
        return guest.ReadyTime!.Value.TotalSeconds;
    }

    private async Task<double> CellAsync(GuestInputs gi, RunOptions options, string dir, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var runner = new CellRunner(new AccelChooser(ctx.Cache, log), options, log, Reproducer.Snapshots(ctx, log));
        var o = await runner.RunAsync(new CellPlan(Workload, Predictor.Predict(Workload), gi, new CellArtifacts(dir)), ct);
        if (o.Outcome != Outcome.Clean) throw new InfrastructureException($"bench: the cell ended {o.Outcome.Kebab()}: {o.Error}");
        return watch.Elapsed.TotalSeconds;
    }

    private async Task<double> MatrixAsync(RunOptions options, string dir, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var seed = SuiteCases.Catalog(ctx.Repo, []).Load(Build.HarnessDefaults.Repo.Case); // the default case's own cells
        var work = Reproducer.Plan(Matrix.Shard(SuiteCases.Cells(seed, seed.Scenario, KernelRecipe.Of(seed, KernelSources.Default)), 1, null));
        var summary = await new Reproducer(ctx, inputs, log) { Jobs = Reproducer.DefaultJobs }.RunAsync(work, dir, options, null, null, ct);
        if (summary.Verdict != Verdict.PatchFixes) throw new InfrastructureException($"bench: the matrix said {summary.Verdict.Kebab()}, not patch-fixes");
        return watch.Elapsed.TotalSeconds;
    }
}
