using System.Text.Json;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

/// <summary>Combines the artifact folders of several shards into one summary and junit.xml.</summary>
public static class Merge
{
    public static Summary Run(IReadOnlyList<string> shardDirs, string output)
    {
        if (shardDirs.Count == 0) throw new BadInputException("merge: name at least one shard folder");
        var summaries = shardDirs.Select(Load).ToList();
        Directory.CreateDirectory(output);
        var cells = new List<SummaryCell>();
        foreach (var (dir, summary) in shardDirs.Zip(summaries))
            foreach (var c in summary.Cells)
                cells.Add(c with { Folder = Path.GetRelativePath(output, Path.Combine(dir, c.Folder)) });
        cells = cells.OrderBy(c => c.Name, StringComparer.Ordinal).ThenBy(c => c.Repeat).ToList();
        var dupes = cells.GroupBy(c => (c.Name, c.Repeat)).Where(g => g.Count() > 1).Select(g => g.Key.Name).ToList();
        if (dupes.Count > 0) throw new BadInputException($"merge: cell {dupes[0]} appears in more than one shard");
        var verdict = summaries.Any(s => s.Interrupted) ? Verdicts.InfraError
            : Verdicts.Decide(cells.Select(c => new CellResult(c.Name, c.Repeat, c.Scenario, c.Prediction, c.Observation, c.Mismatches)).ToList());
        var merged = new Summary
        {
            Verdict = verdict, Cells = cells, Interrupted = summaries.Any(s => s.Interrupted),
            StartedAt = summaries.Min(s => s.StartedAt), Seconds = summaries.Max(s => s.Seconds),
            Accel = string.Join(",", summaries.Select(s => s.Accel).Where(a => a is not null).Distinct()),
        };
        Reports.Write(output, merged);
        return merged;
    }

    public static Summary Load(string dir)
    {
        var path = Path.Combine(dir, "summary.json");
        if (!File.Exists(path)) throw new BadInputException($"merge: {dir} has no summary.json");
        try
        {
            return JsonSerializer.Deserialize<Summary>(File.ReadAllText(path), HarnessJson.Options)
                   ?? throw new BadInputException($"merge: {path} is empty");
        }
        catch (JsonException e)
        {
            throw new BadInputException($"merge: {path} is not a summary: {e.Message.Split('\n')[0]}", e);
        }
    }
}
