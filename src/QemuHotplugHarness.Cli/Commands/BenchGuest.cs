using System.Globalization;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Cli.Commands;

/// <summary><c>bench guest</c>: real guests measured (see <see cref="GuestBench"/>), printed as a table or JSON.</summary>
public static class BenchGuest
{
    public const double RatioTarget = 1.10;

    public static async Task<int> RunAsync(BenchCommand.Settings s, CancellationToken ct)
    {
        if (s.Runs is < 1 or > 100) throw new BadInputException("bench guest --runs " + s.Runs.ToString(CultureInfo.InvariantCulture) + ": must be between 1 and 100");
        var parts = ParseParts(s.Only);
        var accel = Enum.TryParse<AccelChoice>(s.Accel, ignoreCase: true, out var a) && Enum.IsDefined(a) && !int.TryParse(s.Accel, out _)
            ? a : throw new BadInputException(InputKind.Accel, s.Accel, "unknown value (use auto, kvm or tcg)");
        var scratch = Directory.CreateTempSubdirectory("qhh-bench-guest-").FullName;
        try
        {
            using var log = (Serilog.Core.Logger)HarnessLog.Create(Path.Combine(scratch, "log"), quietConsole: true);
            var ctx = BuildContext.Create(log, scratch);
            var bench = new GuestBench(ctx, new InputsResolver(ctx, KernelSources.Default), log) { Runs = s.Runs, Accel = accel, Parts = parts };
            var result = await bench.RunAsync(scratch, p => Console.Error.WriteLine("bench guest: " + p), ct);
            Console.WriteLine(s.Json ? HarnessJson.Serialize(result) : Table(result));
            return 0;
        }
        finally
        {
            try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
        }
    }

    private static IReadOnlySet<GuestBenchPart> ParseParts(string? only)
    {
        if (only is null) return Enum.GetValues<GuestBenchPart>().ToHashSet();
        var parts = new HashSet<GuestBenchPart>();
        foreach (var word in only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var part = Enum.GetValues<GuestBenchPart>().FirstOrDefault(p => p.Kebab() == word, (GuestBenchPart)(-1));
            if (part < 0) throw new BadInputException($"bench guest --only {word}: unknown figure (use cold, restore, iteration, cell, cold-cell, matrix, baseline)");
            parts.Add(part);
        }
        return parts;
    }

    public static string Table(GuestBenchResult r)
    {
        var lines = new List<string>
        {
            $"bench guest: {r.Scenario}, {r.Runs} run(s) each; load average {r.Load}",
            $"{"figure",-50} {"accel",-5} {"cores",5} {"min s",8} {"median s",9} {"max s",8}",
        };
        foreach (var f in r.Figures)
            lines.Add($"{f.Name,-50} {f.Accel,-5} {f.Cores,5} {f.Min,8:F2} {f.Median,9:F2} {f.Max,8:F2}");
        if (r.Ratio is { } ratio)
            lines.Add($"harness/baseline (median cold cell / median baseline; {r.Accel}, {r.Cores} cores): {ratio:F2} (target <= {RatioTarget:F2}{(ratio <= RatioTarget ? ", met" : ", NOT met")})");
        return string.Join('\n', lines);
    }
}
