using System.Globalization;
using System.Text;

namespace QemuHotplugHarness.Orchestration;

/// <summary>Renders a <see cref="CompareResult"/> as plain text (the terminal) or Markdown (a CI job summary). Pure.</summary>
public static class CompareText
{
    public static string Plain(CompareResult r)
    {
        var text = new StringBuilder();
        text.AppendLine($"before: {r.Before} (verdict {r.BeforeVerdict})").AppendLine($"after:  {r.After} (verdict {r.AfterVerdict})");
        Section(text, "verdicts", r.Verdicts.Select(v => $"{v.Subject}: {v.Before} → {v.After}{(v.Worse ? " (worse)" : "")}"));
        Section(text, "new oops titles", r.NewOopsTitles.Select(t => $"{t.Title} (in {string.Join(", ", t.Cells)})"));
        Section(text, "vanished oops titles", r.VanishedOopsTitles.Select(t => $"{t.Title} (was in {string.Join(", ", t.Cells)})"));
        Section(text, "cells", r.Cells.Select(c => $"{c.Cell} {c.What}: {c.Before} → {c.After}{(c.Regression ? " (regression)" : "")}"));
        Section(text, "reproduction rates", r.Rates.Select(x => $"{x.Cell}: oops {x.BeforeOopses}/{x.BeforeRuns} → {x.AfterOopses}/{x.AfterRuns}"));
        Section(text, $"timing (beyond noise: > {Percent} and > {Seconds(RunCompare.NoiseSeconds)})",
            r.Timings.Select(t => $"{t.Subject}: {Seconds(t.Before)} → {Seconds(t.After)} ({Delta(t)})"));
        Section(text, "could not judge (not regressions)", r.Unjudged);
        Section(text, "known intermittent issues (not counted)", r.Known);
        text.AppendLine(r.Regressed ? $"regressed: {r.Regressions.Count} regression(s)" : "no regression");
        foreach (var line in r.Regressions) text.AppendLine("  " + line);
        return text.ToString();
    }

    public static string Markdown(CompareResult r)
    {
        var md = new StringBuilder();
        md.AppendLine(r.Regressed ? "## qhh compare: regressed" : "## qhh compare: no regression").AppendLine();
        md.AppendLine($"Verdict: `{r.BeforeVerdict}` → `{r.AfterVerdict}`").AppendLine();
        if (r.Regressed) md.AppendLine("**Regressions**").AppendLine().AppendJoin("", r.Regressions.Select(l => $"- {Escape(l)}\n")).AppendLine();
        if (r.Unjudged.Count > 0)
            md.AppendLine("**Could not judge** (not regressions)").AppendLine().AppendJoin("", r.Unjudged.Select(l => $"- {Escape(l)}\n")).AppendLine();
        if (r.Known.Count > 0)
            md.AppendLine("**Known intermittent issues** (not counted)").AppendLine().AppendJoin("", r.Known.Select(l => $"- {Escape(l)}\n")).AppendLine();
        Table(md, "Verdict changes", ["subject", "before", "after", "worse"],
            r.Verdicts.Select(v => new[] { v.Subject, v.Before, v.After, v.Worse ? "yes" : "" }));
        Table(md, "New oops titles", ["title", "cells"], r.NewOopsTitles.Select(t => new[] { t.Title, string.Join(", ", t.Cells) }));
        Table(md, "Vanished oops titles", ["title", "cells"], r.VanishedOopsTitles.Select(t => new[] { t.Title, string.Join(", ", t.Cells) }));
        Table(md, "Cells", ["cell", "what", "before", "after", "regression"],
            r.Cells.Select(c => new[] { c.Cell, c.What, c.Before, c.After, c.Regression ? "yes" : "" }));
        Table(md, "Reproduction rates", ["cell", "before", "after"],
            r.Rates.Select(x => new[] { x.Cell, $"{x.BeforeOopses}/{x.BeforeRuns}", $"{x.AfterOopses}/{x.AfterRuns}" }));
        Table(md, $"Timing (beyond noise: > {Percent} and > {Seconds(RunCompare.NoiseSeconds)})", ["subject", "before", "after", "change"],
            r.Timings.Select(t => new[] { t.Subject, Seconds(t.Before), Seconds(t.After), Delta(t) }));
        md.AppendLine($"<sub>before: {Escape(r.Before)} · after: {Escape(r.After)}</sub>");
        return md.ToString();
    }

    private static string Percent => (RunCompare.NoiseFraction * 100).ToString("0", CultureInfo.InvariantCulture) + " %";

    private static void Section(StringBuilder text, string title, IEnumerable<string> lines)
    {
        var list = lines.ToList();
        if (list.Count == 0) return;
        text.AppendLine(title + ":");
        foreach (var line in list) text.AppendLine("  " + line);
    }

    private static void Table(StringBuilder md, string title, string[] header, IEnumerable<string[]> rows)
    {
        var list = rows.ToList();
        if (list.Count == 0) return;
        md.AppendLine($"### {title}").AppendLine();
        md.AppendLine("| " + string.Join(" | ", header) + " |").AppendLine("|" + string.Concat(header.Select(_ => "---|")));
        foreach (var row in list) md.AppendLine("| " + string.Join(" | ", row.Select(Escape)) + " |");
        md.AppendLine();
    }

    /// <summary>Oops titles hold |, *, _, &lt; and backticks; a table cell must show them as they are.</summary>
    private static string Escape(string s)
    {
        var text = new StringBuilder();
        foreach (var ch in s)
            text.Append(ch switch { '|' or '*' or '_' or '`' or '[' or ']' or '\\' => "\\" + ch, '<' => "&lt;", '>' => "&gt;", _ => ch.ToString() });
        return text.ToString();
    }

    private static string Seconds(double s) => s.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    private static string Delta(TimingChange t) =>
        (t.After >= t.Before ? "+" : "−") + Seconds(Math.Abs(t.After - t.Before)) +
        (t.Before > 0 ? $", {(t.After - t.Before) / t.Before * 100:+0;−0} %" : "");
}
