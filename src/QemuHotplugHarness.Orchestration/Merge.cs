using System.Text.Json;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

/// <summary>Combines the artifact folders of several shards into one summary and junit.xml.</summary>
public static class Merge
{
    public static Summary Run(IReadOnlyList<string> shardDirs, string output, KcidbOptions? kcidb = null)
    {
        if (shardDirs.Count == 0) throw new BadInputException("name at least one shard folder to merge");
        var summaries = shardDirs.Select(Load).ToList();
        Directory.CreateDirectory(output);
        var cells = new List<SummaryCell>();
        foreach (var (dir, summary) in shardDirs.Zip(summaries))
            foreach (var c in summary.Cells)
                cells.Add(c with { Folder = Path.GetRelativePath(output, Path.Combine(dir, c.Folder)) });
        cells = cells.OrderBy(c => c.Case ?? "", StringComparer.Ordinal).ThenBy(c => c.Name, StringComparer.Ordinal).ThenBy(c => c.Repeat).ToList();
        var interrupted = summaries.Any(s => s.Interrupted);
        var kind = summaries[0].Kind;
        if (summaries.Any(s => s.Kind != kind)) throw new BadInputException("the folders hold both reproduce and validate runs; merge one kind at a time");
        var validation = summaries[0].Validation;
        if (summaries.Any(s => s.Validation?.Seed != validation?.Seed || s.Validation?.Sample != validation?.Sample))
            throw new BadInputException("the validate shards drew different samples (--seed or --sample differ); merge shards of one draw");
        var (plan, missing) = Completeness(shardDirs, summaries, cells);
        var dupes = cells.GroupBy(c => (c.Label, c.Repeat)).Where(g => g.Count() > 1).Select(g => g.Key.Label).ToList();
        if (dupes.Count > 0) throw new BadInputException($"cell {dupes[0]} appears in more than one shard folder");
        var missingCells = plan is null ? [] : plan.Cells.Where(p => missing.Cells.Contains(p.ToString())).ToList();
        var caseInfos = summaries.SelectMany(s => s.Cases ?? []).DistinctBy(c => c.Name)
            .Select(c => new CaseInfo(c.Name, c.Fix, c.Commit, c.Modelled)).ToList();
        var cases = caseInfos.Count == 0 ? null : RunState.CaseSummaries(caseInfos, cells, kind, shard: false, missingCells);
        var judged = cases is { Count: > 1 } ? Verdicts.Suite(cases.Select(c => c.Verdict).ToList())
            : Verdicts.Decide(kind, cells.Select(c => c.Result).ToList(), shard: false);
        var merged = new Summary
        {
            Verdict = Verdicts.OfRun(judged, interrupted, missing.Any),
            Plan = plan, Missing = missing.Any ? missing : null, Unjudged = Summary.UnjudgedOf(cells),
            Cases = cases,
            Skipped = summaries.SelectMany(s => s.Skipped ?? []).Distinct().ToList() is { Count: > 0 } skipped ? skipped : null,
            Kind = kind, Validation = validation,
            Cells = cells, Interrupted = interrupted,
            StartedAt = summaries.Min(s => s.StartedAt), Seconds = summaries.Max(s => s.Seconds),
            Accel = summaries.Select(s => s.Accel).FirstOrDefault(a => a is not null),
            Change = summaries.Select(s => s.Change).FirstOrDefault(c => c is not null),
        };
        Reports.WriteAll(new RunArtifacts(output), merged, merged.Change ?? ChangeUnderTest.FromPatches([], "unknown"), kcidb);
        return merged;
    }

    /// <summary>
    /// The plan the shards ran and what of it did not arrive. Shards name themselves k/n: every k of 1..n must be there.
    /// Summaries that carry the plan must carry the same one; its cells × repeats must all be among the merged cells.
    /// </summary>
    private static (ShardPlan? Plan, MissingWork Missing) Completeness(IReadOnlyList<string> dirs, IReadOnlyList<Summary> summaries,
        IReadOnlyList<SummaryCell> cells)
    {
        var problems = new List<InputProblem>();
        var shards = new List<(string Dir, int K, int N)>();
        foreach (var (dir, s) in dirs.Zip(summaries))
        {
            var shard = s.Shard ?? s.Plan?.Shard;
            if (shard is null) continue;
            if (ShardPlan.Parse(shard) is { } kn) shards.Add((dir, kn.K, kn.N));
            else problems.Add(new InputProblem(InputKind.ShardFolder, dir, $"its summary.json names shard '{shard}', not k/n"));
        }
        if (shards.Select(x => x.N).Distinct().Count() > 1)
            problems.Add(InputProblem.General("the folders are shards of different splits (" +
                string.Join(", ", shards.Select(x => $"{x.K}/{x.N}").Distinct()) + "); merge the shards of one run"));
        foreach (var twice in shards.GroupBy(x => x.K).Where(g => g.Count() > 1))
            problems.Add(new InputProblem(InputKind.ShardFolder, twice.Last().Dir, $"shard {twice.Key}/{twice.First().N} is also {twice.First().Dir}"));
        var plans = summaries.Select(s => s.Plan).OfType<ShardPlan>().ToList();
        var planned = plans.Select(p => p.Cells.Select(c => c.ToString()).ToList()).ToList();
        if (planned.Skip(1).Any(p => !p.SequenceEqual(planned[0])))
            problems.Add(InputProblem.General("the shards ran different plans (their summaries list different cells); merge the shards of one run"));
        if (problems.Count > 0) throw new BadInputException(problems);

        var missingShards = shards.Count == 0 ? [] :
            Enumerable.Range(1, shards[0].N).Except(shards.Select(x => x.K)).Select(k => $"{k}/{shards[0].N}").ToList();
        if (plans.Count == 0) return (null, new MissingWork(missingShards, []));
        var arrived = cells.Select(c => new PlannedCell(c.Case, c.Name, c.Repeat).ToString()).ToHashSet(StringComparer.Ordinal);
        var missingCells = planned[0].Where(p => !arrived.Contains(p)).ToList();
        return (plans[0] with { Shard = null }, new MissingWork(missingShards, missingCells));
    }

    /// <summary>A shard's summary.json, read by <see cref="SummaryFile"/>; a folder that is not a shard is bad input naming it.</summary>
    public static Summary Load(string dir) => SummaryFile.Read(dir, InputKind.ShardFolder);
}

/// <summary>
/// The one reader of summary.json (merge, compare): the typed <see cref="Summary"/> the harness writes, from a file or
/// the artifact folder that holds it. What is not such a summary is bad input naming <paramref name="kind"/>.
/// </summary>
public static class SummaryFile
{
    public static Summary Read(string path, InputKind kind)
    {
        var file = Directory.Exists(path) ? new RunArtifacts(path).Summary : path;
        if (Directory.Exists(path) && !File.Exists(file)) throw new BadInputException(kind, path, "has no summary.json");
        if (!File.Exists(file)) throw new BadInputException(kind, path, "no such file or folder");
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException(kind, path, "cannot read its summary.json: " + e.Message, e);
        }
        return Parse(text, path, kind);
    }

    /// <summary>A summary's text; <paramref name="source"/> names it in errors.</summary>
    public static Summary Parse(string json, string source, InputKind kind)
    {
        Summary? summary;
        try
        {
            // What every summary has, checked first so that another JSON file is named for what it lacks.
            using (var doc = JsonDocument.Parse(json))
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new BadInputException(kind, source, "its summary.json is not a summary (not a JSON object)");
                foreach (var field in new[] { "verdict", "cells", "startedAt" })
                    if (!doc.RootElement.TryGetProperty(field, out _))
                        throw new BadInputException(kind, source, $"its summary.json is not a summary (no {field})");
            }
            summary = JsonSerializer.Deserialize<Summary>(json, HarnessJson.Options);
        }
        catch (JsonException e)
        {
            throw new BadInputException(kind, source, $"its summary.json is not a summary: {e.Message.Split('\n')[0]}", e);
        }
        if (summary is null) throw new BadInputException(kind, source, "its summary.json is empty");
        if (summary.Cells is null) throw new BadInputException(kind, source, "its summary.json is not a summary (no cells)");
        foreach (var (c, i) in summary.Cells.Select((c, i) => (c, i + 1)))
        {
            if (c is null || string.IsNullOrEmpty(c.Name)) throw new BadInputException(kind, source, $"its summary.json is not a summary (cell {i} has no name)");
            if (c.Scenario is null || c.Prediction is null || c.Observation is null)
                throw new BadInputException(kind, source, $"its summary.json is not a summary (cell {c.Name} lacks its scenario, prediction or observation)");
        }
        return summary;
    }
}
