using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

/// <summary>Benchmarks that measure and print (performance is never asserted in tests).</summary>
public sealed class BenchCommand : Command<BenchCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<WHAT>")]
        [Description("scan (oops scanner throughput), predict (seed matrix and sweep), build (kernel and QEMU builds in a scratch cache), guest (boots, restores, cells, matrix, plain baseline) or all (scan, predict, guest).")]
        public string What { get; init; } = "";

        [CommandOption("--megabytes <N>")]
        [Description("Size of the generated console log for 'scan' (default 100).")]
        public int Megabytes { get; init; } = 100;

        [CommandOption("--json")] [Description("build, guest: print the figures as JSON on stdout.")]
        public bool Json { get; init; }

        [CommandOption("--only <WHAT>")]
        [Description("build: kernel or qemu (default both). guest: comma-separated figures: cold, restore, iteration, cell, cold-cell, matrix, baseline (default all).")]
        public string? Only { get; init; }

        [CommandOption("--side-by-side")] [Description("build: also time a cold kernel and a cold QEMU built at the same time.")]
        public bool SideBySide { get; init; }

        [CommandOption("--kernel-line <LINE>")] [Description("build: the kernel line whose Debian source is built (default: defaults.json's line).")]
        public string? KernelLine { get; init; }

        [CommandOption("--suite")]
        [Description("build: after the line's cold build, every case's unpatched and patched kernels on the suite's one configuration, each timed (what a cold reproduce --suite builds).")]
        public bool Suite { get; init; }

        [CommandOption("--scratch <DIR>")] [Description("build: the scratch cache (must not exist yet; default a temp folder, deleted afterwards).")]
        public string? Scratch { get; init; }

        [CommandOption("--keep")] [Description("build: keep the scratch cache (usable as QHH_CACHE).")]
        public bool Keep { get; init; }

        [CommandOption("--runs <N>")]
        [Description("Runs of each guest figure for 'guest' (default 5; min/median/max over them).")]
        public int Runs { get; init; } = 5;

        [CommandOption("--accel <MODE>")]
        [Description("auto, kvm or tcg for 'guest' (default auto).")]
        public string Accel { get; init; } = "auto";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        switch (settings.What)
        {
            case "scan" when settings.Megabytes < 1:
                throw new BadInputException($"bench scan --megabytes {settings.Megabytes}: at least 1");
            case "scan": BenchScan(settings.Megabytes, cancellationToken); return 0;
            case "predict": BenchPredict(); return 0;
            case "build": return BenchBuild(settings, cancellationToken).GetAwaiter().GetResult();
            case "guest": return BenchGuest.RunAsync(settings, cancellationToken).GetAwaiter().GetResult();
            case "all":
                BenchScan(settings.Megabytes, cancellationToken);
                BenchPredict();
                return BenchGuest.RunAsync(settings, cancellationToken).GetAwaiter().GetResult();
            default: throw new BadInputException($"bench {settings.What}: unknown benchmark (use scan, predict, build, guest or all)");
        }
    }

    private static async Task<int> BenchBuild(Settings s, CancellationToken ct)
    {
        var (kernel, qemu) = s.Only?.ToLowerInvariant() switch
        {
            null => (true, true),
            "kernel" => (true, false),
            "qemu" => (false, true),
            _ => throw new BadInputException($"--only {s.Only}: unknown build (use kernel or qemu)"),
        };
        var scratch = s.Scratch ?? Path.Combine(Path.GetTempPath(), $"qhh-bench-build-{Environment.ProcessId}");
        if (Directory.Exists(scratch) || File.Exists(scratch)) throw new BadInputException($"--scratch {scratch}: already exists (the scratch cache starts empty)");
        var kernelLine = RepoLayout.Discover().Lines().Get(s.KernelLine ?? HarnessDefaults.Repo.Line).Name; // an unknown line: exit 2 before anything
        var artifacts = HarnessLog.DefaultArtifacts("bench-build-");
        using var log = (Serilog.Core.Logger)HarnessLog.Create(artifacts);
        try
        {
            var result = await new BuildBench(log, Path.GetFullPath(scratch), Path.GetFullPath(artifacts))
            {
                Line = kernelLine, Suite = s.Suite,
            }.RunAsync(kernel, qemu, s.SideBySide, ct);
            if (s.Json) Console.WriteLine(HarnessJson.Serialize(result));
            else foreach (var line in BuildBench.Table(result)) Console.WriteLine(line);
            return 0;
        }
        finally
        {
            if (!s.Keep && Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
            else if (Directory.Exists(scratch)) log.Information("bench build: scratch cache kept at {Scratch}", scratch);
        }
    }

    /// <summary>Streams a generated console log (boot noise, sshd lines, an oops every ~10 MB) through the detector.</summary>
    private static void BenchScan(int megabytes, CancellationToken ct)
    {
        var path = Path.Combine(Path.GetTempPath(), $"qhh-bench-{Environment.ProcessId}.log");
        try
        {
            var oops = string.Join('\n', new[]
            {
                "BUG: unable to handle page fault for address: ffd40000051000b4", "#PF: supervisor write access in kernel mode",
                "Oops: 0002 [#1] PREEMPT SMP NOPTI", "CPU: 1 PID: 98 Comm: ndctl Not tainted 6.1.192 #1",
                "RIP: 0010:__init_single_page+0x6/0x47", "RAX: 0000000000000000 RBX: 0000000000144002 RCX: 0000000000000000",
                "Call Trace:", " <TASK>", " memmap_init_range+0xb5/0x117", " move_pfn_range_to_zone+0x8d/0xb0", " </TASK>",
                "---[ end trace 0000000000000000 ]---",
            }.Select(l => "[   18.073813] " + l)) + "\n";
            string[] noise =
            [
                "[   12.345678] pmem0: detected capacity change from 0 to 16777216",
                "[   12.345999] nd_pmem namespace0.0: unable to guarantee persistence of writes",
                "dropbear[201]: Child connection from 10.0.2.2:52122",
                "[   13.000001] e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: RX",
                "[   13.100002] dax0.0: memmap_init_zone_device initialised 3584 pages in 0ms",
            ];
            long target = (long)megabytes << 20, written = 0, oopses = 0;
            using (var w = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20))
            {
                var i = 0;
                while (written < target)
                {
                    var line = noise[i++ % noise.Length] + "\n";
                    w.Write(line);
                    written += line.Length;
                    if (i % 150_000 == 0) { w.Write(oops); written += oops.Length; oopses++; }
                }
            }
            OopsScanner.Scan(string.Join('\n', noise) + "\n" + oops); // warm-up: regexes built and jitted before the clock starts
            var self = Process.GetCurrentProcess();
            var before = self.PeakWorkingSet64;
            var cpuBefore = self.TotalProcessorTime;
            var allocatedBefore = GC.GetTotalAllocatedBytes();
            var watch = Stopwatch.StartNew();
            var found = 0;
            using (var reader = new StreamReader(path, Encoding.UTF8, false, 1 << 16))
                foreach (var _ in OopsScanner.Scan(reader)) { found++; ct.ThrowIfCancellationRequested(); }
            watch.Stop();
            self.Refresh();
            var cpu = (self.TotalProcessorTime - cpuBefore).TotalSeconds;
            var allocated = GC.GetTotalAllocatedBytes() - allocatedBefore;
            var peak = self.PeakWorkingSet64;
            // CPU time is what the scanner costs; wall time also counts waiting for a busy machine's cores.
            Console.WriteLine($"scan: {written / 1e6:F1} MB in {watch.Elapsed.TotalSeconds:F2} s = {written / 1e6 / watch.Elapsed.TotalSeconds:F1} MB/s wall, " +
                $"{cpu:F2} CPU-s = {written / 1e6 / cpu:F1} MB/s per core; {found} of {oopses} oopses found; allocated {allocated / 1e6:F0} MB in total; " +
                $"peak working set {peak / 1e6:F0} MB (before scan {before / 1e6:F0} MB)");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void BenchPredict()
    {
        Scenario[] matrix =
        [
            Scenario.Seed.WithQemu(QemuFlavour.Stock), Scenario.Seed, Scenario.Seed.WithPse(true),
            Scenario.Seed.WithKernel(KernelVariant.Patched), Scenario.Seed.WithKernel(KernelVariant.Patched).WithPse(true),
        ];
        foreach (var s in matrix) Predictor.Predict(s); // warm up
        const int rounds = 200;
        var watch = Stopwatch.StartNew();
        for (var r = 0; r < rounds; r++)
            foreach (var s in matrix) Predictor.Predict(s);
        watch.Stop();
        Console.WriteLine($"predict: seed matrix (5 cells) in {watch.Elapsed.TotalMilliseconds / rounds:F3} ms (mean of {rounds})");
        SweepEveryCase();
    }

    /// <summary>predict --sweep over every case's layout space: wall and CPU seconds per case and in all (printed, never asserted).</summary>
    private static void SweepEveryCase()
    {
        var cases = QemuHotplugHarness.Orchestration.SuiteCases.Catalog(QemuHotplugHarness.Build.RepoLayout.Discover(), []).LoadAll().Cases;
        var (wall, cpu) = (Stopwatch.StartNew(), Cpu());
        var layouts = 0;
        foreach (var c in cases)
        {
            var (caseWall, caseCpu) = (Stopwatch.StartNew(), Cpu());
            var results = Sweep.Run(Sweep.Layouts(c.Scenario), c.Model).ToList();
            layouts += results.Count;
            Console.WriteLine($"predict: sweep of {c.Name}: {results.Count} layouts x 2 variants in {caseWall.Elapsed.TotalSeconds:F2} s " +
                              $"({(Cpu() - caseCpu).TotalSeconds:F2} s CPU); {results.Count(r => r.Reproduces)} reproduce");
        }
        Console.WriteLine($"predict: sweep of every case ({cases.Count} cases, {layouts} layouts x 2 variants) in {wall.Elapsed.TotalSeconds:F2} s " +
                          $"({(Cpu() - cpu).TotalSeconds:F2} s CPU on {Environment.ProcessorCount} cores; load average {LoadAverage()})");
    }

    private static TimeSpan Cpu()
    {
        using var p = Process.GetCurrentProcess();
        return p.TotalProcessorTime;
    }

    /// <summary>The 1-minute load average (Linux), so a slow figure on a busy machine says so; "unknown" elsewhere.</summary>
    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "unknown";
}
