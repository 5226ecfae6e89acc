using System.Text.Json;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

/// <summary>Combines the artifact folders of several shards into one summary and junit.xml.</summary>
public static class Merge
{
    public static Summary Run(IReadOnlyList<string> shardDirs, string output)
    {
        if (shardDirs.Count == 0) throw new BadInputException("name at least one shard folder to merge");
        var summaries = shardDirs.Select(Load).ToList();
        Directory.CreateDirectory(output);
        var cells = new List<SummaryCell>();
        foreach (var (dir, summary) in shardDirs.Zip(summaries))
            foreach (var c in summary.Cells)
                cells.Add(c with { Folder = Path.GetRelativePath(output, Path.Combine(dir, c.Folder)) });
        cells = cells.OrderBy(c => c.Case ?? "", StringComparer.Ordinal).ThenBy(c => c.Name, StringComparer.Ordinal).ThenBy(c => c.Repeat).ToList();
        var dupes = cells.GroupBy(c => (c.Label, c.Repeat)).Where(g => g.Count() > 1).Select(g => g.Key.Label).ToList();
        if (dupes.Count > 0) throw new BadInputException($"cell {dupes[0]} appears in more than one shard folder");
        var interrupted = summaries.Any(s => s.Interrupted);
        var kind = summaries[0].Kind;
        if (summaries.Any(s => s.Kind != kind)) throw new BadInputException("the folders hold both reproduce and validate runs; merge one kind at a time");
        var validation = summaries[0].Validation;
        if (summaries.Any(s => s.Validation?.Seed != validation?.Seed || s.Validation?.Sample != validation?.Sample))
            throw new BadInputException("the validate shards drew different samples (--seed or --sample differ); merge shards of one draw");
        var caseInfos = summaries.SelectMany(s => s.Cases ?? []).DistinctBy(c => c.Name)
            .Select(c => new CaseInfo(c.Name, c.Fix, c.Commit, c.Modelled)).ToList();
        var cases = caseInfos.Count == 0 ? null : RunState.CaseSummaries(caseInfos, cells, kind, shard: false);
        var merged = new Summary
        {
            Verdict = interrupted ? Verdict.InfraError
                : cases is { Count: > 1 } ? Verdicts.Suite(cases.Select(c => c.Verdict).ToList())
                : Verdicts.Decide(kind, cells.Select(c => c.Result).ToList(), shard: false),
            Cases = cases,
            Skipped = summaries.SelectMany(s => s.Skipped ?? []).Distinct().ToList() is { Count: > 0 } skipped ? skipped : null,
            Kind = kind, Validation = validation,
            Cells = cells, Interrupted = interrupted,
            StartedAt = summaries.Min(s => s.StartedAt), Seconds = summaries.Max(s => s.Seconds),
            Accel = summaries.Select(s => s.Accel).FirstOrDefault(a => a is not null),
            Change = summaries.Select(s => s.Change).FirstOrDefault(c => c is not null),
        };
        Reports.WriteAll(new RunArtifacts(output), merged, merged.Change ?? ChangeUnderTest.FromPatches([], "unknown"));
        return merged;
    }

    public static Summary Load(string dir)
    {
        var path = new RunArtifacts(dir).Summary;
        if (!File.Exists(path)) throw new BadInputException(InputKind.ShardFolder, dir, "has no summary.json");
        try
        {
            return JsonSerializer.Deserialize<Summary>(File.ReadAllText(path), HarnessJson.Options)
                   ?? throw new BadInputException(InputKind.ShardFolder, dir, "its summary.json is empty");
        }
        catch (JsonException e)
        {
            throw new BadInputException(InputKind.ShardFolder, dir, $"its summary.json is not a summary: {e.Message.Split('\n')[0]}", e);
        }
    }
}
