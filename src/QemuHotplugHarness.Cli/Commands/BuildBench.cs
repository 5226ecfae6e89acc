using System.Diagnostics;
using System.Globalization;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Cli.Commands;

/// <summary>One measured build step of <c>bench build</c>: wall and CPU time, the load around it, what came out.</summary>
/// <remarks>Positional with more than six fields: one row of the benchmark's table, one parameter per column.</remarks>
public sealed record BuildBenchStep(string Name, string Built, double Seconds, double CpuSeconds, double LoadBefore, double LoadAfter, IReadOnlyList<BuildBenchTool> Tools);

/// <summary>A tool step inside a build step (unpack, configure, make bzImage, ninja …) and its wall time.</summary>
public sealed record BuildBenchTool(string Step, double Seconds);

/// <summary>The machine every figure was taken on.</summary>
public sealed record BuildBenchHost(int Cores, double MemoryGiB, int Jobs, string Accel, string ScratchCache);

public sealed record BuildBenchResult(BuildBenchHost Host, IReadOnlyList<BuildBenchStep> Steps);

/// <summary>
/// <c>qhh bench build</c>: cold, incremental and cached kernel and QEMU builds in a scratch cache (never the user's), each
/// timed in wall seconds and in CPU seconds of the build tools (children's user + system time, so a busy machine shows as
/// a wall/CPU gap rather than hiding in the figure), with the 1-minute load average before and after.
/// </summary>
public sealed class BuildBench(ILogger log, string scratch, string logDir)
{
    /// <summary>The default case's fix for its first line: what the bench builds (the kernels reproduce builds by default).</summary>
    private string SeedPatch => Seed.PatchFor(Line);

    private static QemuHotplugHarness.Scenarios.Cases.Case Seed =>
        QemuHotplugHarness.Orchestration.SuiteCases.Catalog(RepoLayout.Discover(), []).Load(HarnessDefaults.Repo.Case);

    /// <summary>The kernel line whose Debian source the kernel steps build.</summary>
    public string Line { get; init; } = HarnessDefaults.Repo.Line;

    /// <summary>After the cold build, every case's variants on the line (each an incremental build of the one configuration).</summary>
    public bool Suite { get; init; }

    /// <summary>A builder of the suite's one configuration (what reproduce builds every case on) on the bench's line.</summary>
    private KernelBuilder Builder(BuildContext ctx) => new(ctx) { ExtraConfig = Seed.KernelConfig, Line = RepoLayout.Discover().Lines().Get(Line) };

    /// <summary>Each case of the suite with a fix on the line, and the variants reproduce --suite builds for it.</summary>
    private IEnumerable<(string Case, string Patch)> SuiteFixes() =>
        QemuHotplugHarness.Orchestration.SuiteCases.Catalog(RepoLayout.Discover(), []).LoadAll().Cases
            .Where(c => c.NotApplicableOn(Line) is null).Select(c => (c.Name, c.PatchFor(Line)));

    public async Task<BuildBenchResult> RunAsync(bool kernel, bool qemu, bool sideBySide, CancellationToken ct)
    {
        var steps = new List<BuildBenchStep>();
        if (kernel)
        {
            var ctx = Context("seq");
            steps.Add(await MeasureAsync("kernel cold (unpatched)", ctx,
                async () => Describe(await Builder(ctx).GetAsync(KernelVariant.Unpatched, null, SeedPatch, ct))));
            steps.Add(await MeasureAsync("kernel incremental (patched)", ctx,
                async () => Describe(await Builder(ctx).GetAsync(KernelVariant.Patched, null, SeedPatch, ct))));
            steps.Add(await MeasureAsync("kernel cached", ctx,
                async () => Describe(await Builder(ctx).GetAsync(KernelVariant.Unpatched, null, SeedPatch, ct))));
            if (Suite)
                foreach (var (name, patch) in SuiteFixes().Where(f => f.Patch != SeedPatch))
                    foreach (var variant in new[] { KernelVariant.Unpatched, KernelVariant.Patched })
                        steps.Add(await MeasureAsync($"kernel incremental ({name}, {variant.ToString().ToLowerInvariant()})", ctx,
                            async () => Describe(await Builder(ctx).GetAsync(variant, null, patch, ct))));
        }
        if (qemu)
        {
            var ctx = Context("seq");
            steps.Add(await MeasureAsync("qemu cold (patched)", ctx, async () => Describe(await new QemuBuilder(ctx).GetAsync(QemuFlavour.Patched, null, ct))));
            steps.Add(await MeasureAsync("qemu cached", ctx, async () => Describe(await new QemuBuilder(ctx).GetAsync(QemuFlavour.Patched, null, ct))));
        }
        if (sideBySide)
        {
            var ctx = Context("side-by-side");
            steps.Add(await MeasureAsync("kernel + qemu side by side (cold)", ctx, async () =>
            {
                var k = Builder(ctx).GetAsync(KernelVariant.Unpatched, null, SeedPatch, ct);
                var q = new QemuBuilder(ctx).GetAsync(QemuFlavour.Patched, null, ct);
                await Task.WhenAll(k, q);
                return Describe(await k) + "; " + Describe(await q);
            }));
        }
        return new BuildBenchResult(new BuildBenchHost(Environment.ProcessorCount, HostFacts.MemoryGiB(), Environment.ProcessorCount, "none (builds)", scratch), steps);
    }

    private BuildContext Context(string name) =>
        new(new HarnessCache(Path.Combine(scratch, name)) { Log = log }, RepoLayout.Discover(), log, Path.Combine(logDir, name)) { Timings = new ToolTimings() };

    private async Task<BuildBenchStep> MeasureAsync(string name, BuildContext ctx, Func<Task<string>> build)
    {
        var before = ctx.Timings!.Snapshot().Count;
        var load = HostFacts.Load1();
        var cpu = HostFacts.ChildCpuSeconds();
        var watch = Stopwatch.StartNew();
        log.Information("bench build: {Step}", name);
        var built = await build();
        watch.Stop();
        var tools = ctx.Timings.Snapshot().Skip(before).Select(t => new BuildBenchTool(t.Step, Math.Round(t.Elapsed.TotalSeconds, 1))).ToList();
        return new BuildBenchStep(name, built, Math.Round(watch.Elapsed.TotalSeconds, 1), Math.Round(HostFacts.ChildCpuSeconds() - cpu, 1), load, HostFacts.Load1(), tools);
    }

    private static readonly string[] Compressions = ["GZIP", "BZIP2", "LZMA", "XZ", "LZO", "LZ4", "ZSTD"];

    private static string Describe(KernelBuild k)
    {
        var dir = Path.GetDirectoryName(k.BzImage)!;
        var config = KernelConfig.Parse(File.ReadAllText(Path.Combine(dir, "config")));
        var compression = Compressions.FirstOrDefault(c => config.GetValueOrDefault("CONFIG_KERNEL_" + c) == "y")?.ToLowerInvariant() ?? "?";
        var dwarf = config.GetValueOrDefault("CONFIG_DEBUG_INFO") == "y" ? (config.GetValueOrDefault("CONFIG_DEBUG_INFO_REDUCED") == "y" ? "reduced DWARF" : "DWARF") : "no DWARF";
        return string.Create(CultureInfo.InvariantCulture,
            $"kernel {k.Name} {k.Release} ({k.Key}): {config.Values.Count(v => v == "y")} options =y, {dwarf}, {compression}, bzImage {new FileInfo(k.BzImage).Length / 1024} KiB, vmlinux {new FileInfo(k.Vmlinux!).Length / 1048576} MiB");
    }

    private static string Describe(QemuBuild q) =>
        string.Create(CultureInfo.InvariantCulture, $"qemu-system-x86_64 ({q.Key}): {new FileInfo(q.Binary).Length / 1048576} MiB, {QemuBuilder.ConfigureFlags.Length} configure flags");

    /// <summary>The table: one row per step, then its tool steps indented (the slowest first).</summary>
    public static IEnumerable<string> Table(BuildBenchResult r)
    {
        yield return string.Create(CultureInfo.InvariantCulture, $"bench build: {r.Host.Cores} cores, {r.Host.MemoryGiB:F0} GiB, make/ninja -j{r.Host.Jobs}, accel {r.Host.Accel}, scratch cache {r.Host.ScratchCache}");
        yield return string.Create(CultureInfo.InvariantCulture, $"{"step",-36} {"wall s",8} {"cpu s",8} {"load",11}  built");
        foreach (var s in r.Steps)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"{s.Name,-36} {s.Seconds,8:F1} {s.CpuSeconds,8:F1} {s.LoadBefore,5:F1}→{s.LoadAfter,-5:F1}  {s.Built}");
            foreach (var t in s.Tools.Where(t => t.Seconds >= 1).OrderByDescending(t => t.Seconds))
                yield return string.Create(CultureInfo.InvariantCulture, $"  {t.Step,-34} {t.Seconds,8:F1}");
        }
        yield return "wall s: elapsed; cpu s: user+system seconds of the build tools; load: 1-minute load average before→after (other work on the machine shows here).";
    }
}

/// <summary>Facts about this machine from /proc (Linux only; zeros elsewhere).</summary>
public static class HostFacts
{
    public static double Load1() =>
        File.Exists("/proc/loadavg") ? double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture) : 0;

    public static double MemoryGiB()
    {
        if (!File.Exists("/proc/meminfo")) return 0;
        var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1048576.0;
    }

    /// <summary>User + system seconds of this process's finished children and their children (cutime + cstime).</summary>
    public static double ChildCpuSeconds()
    {
        if (!File.Exists("/proc/self/stat")) return 0;
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // Fields from "state" (field 3): cutime is field 16, cstime field 17, in clock ticks (USER_HZ = 100 on Linux).
        return (long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) / 100.0;
    }
}
