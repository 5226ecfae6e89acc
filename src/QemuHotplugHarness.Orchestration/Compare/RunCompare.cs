using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

/// <summary>An oops title seen on one side only, with the cells that showed it.</summary>
public sealed record TitleChange(string Title, IReadOnlyList<string> Cells);

/// <summary>A cell whose outcome or match changed, or that is new or gone. Outcomes of repeats read "oops×2, clean×1".</summary>
public sealed record CellChange(string Cell, string What, string Before, string After, bool Regression);

/// <summary>How often a repeated cell oopsed, before and after.</summary>
public sealed record RateChange(string Cell, int BeforeOopses, int BeforeRuns, int AfterOopses, int AfterRuns);

/// <summary>A duration (a cell's mean over its repeats, or the whole run) that moved beyond <see cref="RunCompare.BeyondNoise"/>.</summary>
public sealed record TimingChange(string Subject, double Before, double After);

/// <summary>The run's or a case's verdict before and after; <see cref="Worse"/> by <see cref="RunCompare.Rank"/>.</summary>
public sealed record VerdictChange(string Subject, string Before, string After, bool Worse);

/// <summary>
/// What changed between two nights. <see cref="Regressions"/> names each thing that makes compare exit 1;
/// <see cref="Unjudged"/> what tonight could not judge (infra cells, missing shards: exit 0 on their own);
/// <see cref="Known"/> the regressions a known intermittent issue explains (reported, not counted).
/// </summary>
public sealed record CompareResult(string Before, string After, string BeforeVerdict, string AfterVerdict,
    IReadOnlyList<VerdictChange> Verdicts, IReadOnlyList<TitleChange> NewOopsTitles, IReadOnlyList<TitleChange> VanishedOopsTitles,
    IReadOnlyList<CellChange> Cells, IReadOnlyList<RateChange> Rates, IReadOnlyList<TimingChange> Timings, IReadOnlyList<string> Regressions)
{
    public IReadOnlyList<string> Unjudged { get; init; } = [];
    public IReadOnlyList<string> Known { get; init; } = [];
    public bool Regressed => Regressions.Count > 0;
}

/// <summary>
/// Pure comparison of two runs (<c>qhh compare</c>). Regressions: an oops title not seen before, a cell that matched its
/// prediction in every judged repeat before and not after, a run's or case's verdict that became a worse finding
/// (patch-does-not-fix, not-reproduced, mismatch, model-disagrees). A cell or a run that could not be judged
/// (infra-error, incomplete) is reported apart and is never a regression. Timing changes count only beyond noise:
/// more than 20 % and more than 2 s either way.
/// </summary>
public static class RunCompare
{
    public const double NoiseFraction = 0.20;
    public const double NoiseSeconds = 2.0;

    /// <summary>The subject of the run's own duration among the timing changes.</summary>
    public const string WholeRun = "(whole run)";

    public static CompareResult Compare(RunDigest before, RunDigest after, IReadOnlyList<KnownIssue>? known = null)
    {
        known ??= [];
        var verdicts = VerdictChanges(before, after);
        var (newTitles, vanished) = Titles(before.Cells, after.Cells);
        var cells = CellChanges(before.Cells, after.Cells);
        var titlesOf = after.Cells.GroupBy(c => c.Key).ToDictionary(g => g.Key, g => (IReadOnlyCollection<string>)g.SelectMany(c => c.OopsTitles).Distinct().ToList());
        // Each cell-level regression with the known intermittent issue that explains it (null: none does).
        var found = newTitles.Select(t => (Text: $"new oops title: {t.Title} (in {string.Join(", ", t.Cells)})", Cells: t.Cells,
                Issue: Explained(known, t.Cells, _ => [t.Title])))
            .Concat(cells.Where(c => c.Regression).Select(c => (Text: $"{c.Cell}: {c.Before} → {c.After}", Cells: (IReadOnlyList<string>)[c.Cell],
                Issue: Explained(known, [c.Cell], k => titlesOf.GetValueOrDefault(k, [])))))
            .ToList();
        // A verdict that got worse only through cells a known intermittent issue explains is that issue too.
        KnownIssue? VerdictIssue(string? caseName)
        {
            var mine = found.Where(f => caseName is null || f.Cells.Any(c => c.StartsWith(caseName + "/", StringComparison.Ordinal))).ToList();
            return mine.Count > 0 && mine.All(f => f.Issue is not null) ? mine[0].Issue : null;
        }
        var verdictFound = verdicts.Where(v => v.Worse)
            .Select(v => (Text: $"{v.Subject}: {v.Before} → {v.After}", Issue: VerdictIssue(v.Subject.StartsWith("case ", StringComparison.Ordinal)
                ? v.Subject["case ".Length..v.Subject.IndexOf(" verdict", StringComparison.Ordinal)] : null)));
        var all = verdictFound.Concat(found.Select(f => (f.Text, f.Issue))).ToList();
        return new CompareResult(before.Source, after.Source, before.Verdict.Kebab(), after.Verdict.Kebab(), verdicts, newTitles, vanished, cells,
            Rates(before.Cells, after.Cells), Timings(before, after), all.Where(x => x.Issue is null).Select(x => x.Text).ToList())
        {
            Known = all.Where(x => x.Issue is not null).Select(x => $"{x.Text} (known intermittent: {x.Issue!.Title ?? x.Issue.Cell}" +
                                                                       $"{(x.Issue.Link is null ? "" : ", " + x.Issue.Link)})").ToList(),
            Unjudged = Unjudged(after),
        };
    }

    /// <summary>The known intermittent issue that explains every one of <paramref name="cells"/> with its titles, or null.</summary>
    private static KnownIssue? Explained(IReadOnlyList<KnownIssue> known, IReadOnlyList<string> cells, Func<string, IReadOnlyCollection<string>> titles) =>
        known.Where(k => k.Intermittent).FirstOrDefault(k => cells.Count > 0 && cells.All(c => k.Explains(c, titles(c))));

    /// <summary>What tonight could not judge: its verdict when it is infra-error or incomplete, each unjudged cell, what never arrived.</summary>
    private static List<string> Unjudged(RunDigest after)
    {
        var lines = new List<string>();
        if (Orchestration.Verdicts.IsUnjudged(after.Verdict)) lines.Add($"verdict {after.Verdict.Kebab()}");
        lines.AddRange(after.Cells.Where(c => c.Unjudged)
            .Select(c => $"{c.Key}{(c.Repeat > 1 ? "#" + c.Repeat : "")}: {c.Outcome}{(string.IsNullOrEmpty(c.Error) ? "" : ": " + c.Error.Split('\n')[0])}"));
        if (after.Missing is { Any: true } m) lines.Add(m.Describe());
        return lines;
    }

    /// <summary>The noise rule: a duration changed when it moved by more than 20 % of the earlier one and more than 2 s.</summary>
    public static bool BeyondNoise(double before, double after)
    {
        var delta = Math.Abs(after - before);
        return delta > NoiseSeconds && delta > NoiseFraction * before;
    }

    /// <summary>
    /// A verdict change is a regression when tonight's verdict is a finding about the kernel or the model and worse, by
    /// <see cref="Orchestration.Verdicts.Order"/>, than last night's. A night that could not judge is never one.
    /// </summary>
    public static bool Worse(Verdict before, Verdict after) =>
        Orchestration.Verdicts.IsFinding(after) && (!Orchestration.Verdicts.IsFinding(before) ||
                                                    Orchestration.Verdicts.Severity(after) > Orchestration.Verdicts.Severity(before));

    private static List<VerdictChange> VerdictChanges(RunDigest before, RunDigest after)
    {
        var changes = new List<VerdictChange>();
        if (before.Verdict != after.Verdict) changes.Add(Change("verdict", before.Verdict, after.Verdict));
        var earlier = before.Cases.DistinctBy(c => c.Case).ToDictionary(c => c.Case, c => c.Verdict);
        foreach (var c in after.Cases)
            if (earlier.TryGetValue(c.Case, out var was) && was != c.Verdict) changes.Add(Change($"case {c.Case} verdict", was, c.Verdict));
        return changes;
    }

    private static VerdictChange Change(string subject, Verdict before, Verdict after) => new(subject, before.Kebab(), after.Kebab(), Worse(before, after));

    private static (List<TitleChange> New, List<TitleChange> Vanished) Titles(IReadOnlyList<CellRun> before, IReadOnlyList<CellRun> after)
    {
        var was = TitleCells(before);
        var now = TitleCells(after);
        return (Only(now, was), Only(was, now));
    }

    private static List<TitleChange> Only(Dictionary<string, List<string>> side, Dictionary<string, List<string>> other) =>
        side.Where(t => !other.ContainsKey(t.Key)).OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => new TitleChange(t.Key, t.Value)).ToList();

    private static Dictionary<string, List<string>> TitleCells(IReadOnlyList<CellRun> cells) =>
        cells.SelectMany(c => c.OopsTitles.Select(t => (Title: t, c.Key))).GroupBy(x => x.Title, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(x => x.Key).Distinct().Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal);

    private static List<CellChange> CellChanges(IReadOnlyList<CellRun> before, IReadOnlyList<CellRun> after)
    {
        var was = ByKey(before);
        var now = ByKey(after);
        var changes = new List<CellChange>();
        foreach (var key in was.Keys.Union(now.Keys).Order(StringComparer.Ordinal))
        {
            if (!now.TryGetValue(key, out var a)) changes.Add(new CellChange(key, "vanished", Outcomes(was[key]), "-", false));
            else if (!was.TryGetValue(key, out var b)) changes.Add(new CellChange(key, "new", "-", Outcomes(a), false));
            else changes.AddRange(Changed(key, b, a));
        }
        return changes;
    }

    private static IEnumerable<CellChange> Changed(string key, List<CellRun> before, List<CellRun> after)
    {
        if (Outcomes(before) != Outcomes(after)) yield return new CellChange(key, "outcome", Outcomes(before), Outcomes(after), false);
        if (Matches(before) != Matches(after))
        {
            // Only judged repeats count: an infra cell is reported apart, never as a cell that stopped matching.
            var (was, now) = (before.Where(c => !c.Unjudged).ToList(), after.Where(c => !c.Unjudged).ToList());
            yield return new CellChange(key, "match", Matches(before), Matches(after), was.Count > 0 && was.All(c => c.Match) && now.Any(c => !c.Match));
        }
        if (CellTitles(before) != CellTitles(after)) yield return new CellChange(key, "oops titles", CellTitles(before), CellTitles(after), false);
    }

    /// <summary>The distinct oops titles of a cell's repeats, "none" without any (a title new to the whole run is a regression of its own).</summary>
    private static string CellTitles(IReadOnlyList<CellRun> runs)
    {
        var titles = runs.SelectMany(r => r.OopsTitles).Distinct().Order(StringComparer.Ordinal).ToList();
        return titles.Count == 0 ? "none" : string.Join("; ", titles);
    }

    private static Dictionary<string, List<CellRun>> ByKey(IReadOnlyList<CellRun> cells) =>
        cells.GroupBy(c => c.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);

    /// <summary>"oops" when every repeat agrees, else "oops×2, clean×1" (most frequent first, then by name).</summary>
    public static string Outcomes(IReadOnlyList<CellRun> runs)
    {
        var groups = runs.GroupBy(r => r.Outcome).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
        return groups.Count == 1 ? groups[0].Key : string.Join(", ", groups.Select(g => $"{g.Key}×{g.Count()}"));
    }

    private static string Matches(IReadOnlyList<CellRun> runs)
    {
        var matched = runs.Count(r => r.Match);
        return matched == runs.Count ? "match" : matched == 0 ? "mismatch" : $"match {matched}/{runs.Count}";
    }

    private static List<RateChange> Rates(IReadOnlyList<CellRun> before, IReadOnlyList<CellRun> after)
    {
        var was = ByKey(before);
        return ByKey(after).Where(a => was.ContainsKey(a.Key) && (a.Value.Count > 1 || was[a.Key].Count > 1))
            .Select(a => new RateChange(a.Key, Oopses(was[a.Key]), was[a.Key].Count, Oopses(a.Value), a.Value.Count))
            .Where(r => (double)r.BeforeOopses / r.BeforeRuns != (double)r.AfterOopses / r.AfterRuns)
            .OrderBy(r => r.Cell, StringComparer.Ordinal).ToList();
    }

    private static int Oopses(List<CellRun> runs) => runs.Count(r => r.Outcome == "oops");

    private static List<TimingChange> Timings(RunDigest before, RunDigest after)
    {
        var was = ByKey(before.Cells);
        var cells = ByKey(after.Cells).Where(a => was.ContainsKey(a.Key))
            .Select(a => new TimingChange(a.Key, Mean(was[a.Key]), Mean(a.Value)));
        var run = new TimingChange(WholeRun, before.Seconds, after.Seconds);
        return cells.Prepend(run).Where(t => BeyondNoise(t.Before, t.After)).OrderBy(t => t.Subject == WholeRun ? 0 : 1)
            .ThenBy(t => t.Subject, StringComparer.Ordinal).ToList();
    }

    private static double Mean(List<CellRun> runs) => Math.Round(runs.Average(r => r.Seconds), 2);
}
