using System.Text;
using System.Text.RegularExpressions;

namespace QemuHotplugHarness.Oops;

/// <summary>What a report's text says about its crash: title, crashing frame, kind, and whether the text is corrupted.</summary>
public sealed record Extraction(string Title, string? Frame, string Kind, bool Corrupted, string? CorruptedReason);

/// <summary>
/// Names a crash from the text of its report (the lines the detector kept, bounded): the earliest format of the family
/// that matches gives the title; its <see cref="StackRule"/> gives the frame; the corrupted rules judge the text. Pure.
/// </summary>
public static class OopsExtractor
{
    private static readonly Regex TimestampInTitle = new(@"\[ *[0-9]+\.[0-9]+\]", StackSyntax.Options);
    private static readonly Regex FrameInTitle = new(@".* in ((?:<[a-zA-Z0-9_: ]+>)?[a-zA-Z0-9_:]+)", StackSyntax.Options);
    private static readonly Regex Arg = new(@"\{(\d+)\}", StackSyntax.Options);

    public static Extraction Extract(OopsFamily family, IReadOnlyList<string> lines)
    {
        var sb = new StringBuilder();
        foreach (var l in lines) sb.Append(l).Append('\n');
        var text = sb.ToString();
        var (title, reason, format) = Describe(family, text);
        if (reason is null) reason = CorruptionOf(title, text, format);
        title = TitleCanon.Canonical(title);
        var frame = FrameInTitle.Match(title) is { Success: true } m && m.Groups[1].Value != "corrupted" ? m.Groups[1].Value : null;
        return new Extraction(title, frame, format?.Kind ?? family.Formats[0].Kind, reason is not null, reason);
    }

    private static (string Title, string? Reason, OopsFormat? Format) Describe(OopsFamily family, string text)
    {
        var start = text.Length;
        var title = "";
        string? reason = null;
        OopsFormat? format = null;
        var matchedTitle = false;
        foreach (var f in family.Formats)
        {
            var m = f.Title.Match(text);
            if (!m.Success || m.Index > start || (m.Index == start && title.Length > 0)) continue;
            if (m.Index < start)
            {
                title = "";
                format = null;
                start = m.Index;
            }
            matchedTitle = true;
            if (f.Report is not null)
            {
                m = f.Report.Match(text);
                if (!m.Success) continue;
            }
            var args = new List<string>();
            for (var g = 1; g < m.Groups.Count; g++) args.Add(m.Groups[g].Value);
            reason = null;
            if (f.Stack is { } stack)
            {
                var (frames, ok) = StackFrames(stack, text, m.Index);
                args.AddRange(frames);
                if (!ok) reason = "extracted no frames";
            }
            title = Arg.Replace(f.Template, a => int.Parse(a.Groups[1].Value) is var i && i <= args.Count ? args[i - 1] : "");
            format = f;
        }
        if (title.Length == 0)
        {
            if (matchedTitle) reason = "matched title but not report regexp";
            var pos = text.IndexOf(family.Header, StringComparison.Ordinal);
            if (pos < 0) pos = 0;
            var end = text.IndexOf('\n', pos);
            title = text[pos..(end < 0 ? text.Length : end)];
        }
        if (reason is null && format is { Corrupted: true }) reason = "report format is marked as corrupted";
        return (title, reason, format);
    }

    private static (List<string> Frames, bool Ok) StackFrames(StackRule rule, string text, int from)
    {
        var lines = text[from..].Split('\n');
        var result = StackFrames(rule, lines, rule.Parts);
        if (!result.Ok && rule.Fallback is not null) result = StackFrames(rule, lines, rule.Fallback);
        return result;
    }

    private static (List<string> Frames, bool Ok) StackFrames(StackRule rule, string[] lines, IReadOnlyList<Regex> parts)
    {
        var skip = rule.SkipRegex;
        var raw = new List<string>();
        var results = new List<string>();
        var ok = true;
        var traces = 0;
        var li = 0;
        for (var part = 0; ; part++)
        {
            if (part == parts.Count || (parts[part] == StackSyntax.Trace && traces > 0))
            {
                var key = Choose(raw, rule.Choice);
                if (key is null) { key = "corrupted"; ok = false; }
                results.Add(key);
                raw.Clear();
            }
            if (part == parts.Count) break;
            if (parts[part] == StackSyntax.Trace)
            {
                traces++;
                while (li < lines.Length)
                {
                    var ln = lines[li++];
                    if (AnyMatch(StackSyntax.CorruptedLines, ln)) { ok = false; break; }
                    if (AnyMatch(StackSyntax.StackStarts, ln)) break;
                    if (part != parts.Count - 1 && parts[part + 1].Match(ln) is { Success: true } next)
                    {
                        Append(raw, next, skip);
                        part++;
                        break;
                    }
                    foreach (var re in StackSyntax.FrameLines)
                        if (re.Match(ln) is { Success: true } fm) { Append(raw, fm, skip); break; }
                }
            }
            else
            {
                while (li < lines.Length)
                {
                    var ln = lines[li++];
                    if (AnyMatch(StackSyntax.CorruptedLines, ln)) { ok = false; break; }
                    if (parts[part].Match(ln) is not { Success: true } m) continue;
                    Append(raw, m, skip);
                    break;
                }
            }
        }
        return (results, ok);
    }

    private static void Append(List<string> frames, Match m, Regex skip)
    {
        for (var g = 1; g < m.Groups.Count; g++)
        {
            if (!m.Groups[g].Success || m.Groups[g].Length == 0) continue;
            var frame = m.Groups[g].Value;
            if (!skip.IsMatch(frame)) frames.Add(frame);
        }
    }

    private static string? Choose(List<string> raw, FrameChoice choice)
    {
        if (raw.Count == 0) return null;
        var frames = raw.Select(Strip).ToList();
        return choice switch
        {
            FrameChoice.BeforeAnchor => BeforeAnchor(frames),
            FrameChoice.HungTask => HungTask(frames),
            _ => frames[0],
        };
    }

    /// <summary>The shortest name any syscall-wrapper prefix strips the frame to.</summary>
    public static string Strip(string frame)
    {
        var best = frame;
        foreach (var p in StackSyntax.StripPrefixes)
            if (frame.StartsWith(p, StringComparison.Ordinal) && frame.Length - p.Length < best.Length) best = frame[p.Length..];
        return best;
    }

    private static string? BeforeAnchor(List<string> frames)
    {
        var prev = frames[0];
        foreach (var frame in frames)
        {
            if (AnyMatch(StackSyntax.StallAnchors, frame))
                return frame.Contains("smp_call_function", StringComparison.Ordinal) ? "smp_call_function" : prev;
            prev = frame;
        }
        return null;
    }

    private static string? HungTask(List<string> frames)
    {
        foreach (var frame in frames)
            foreach (var (anchor, name) in StackSyntax.HungTaskAnchors)
                if (frame.Contains(anchor, StringComparison.Ordinal)) return name.Length > 0 ? name : frame;
        return frames.FirstOrDefault(f => !StackSyntax.HungTaskSkips.Any(s => f.Contains(s, StringComparison.Ordinal)));
    }

    /// <summary>Why the report text cannot be trusted, or null: a timestamp inside the title, or a missing or empty stack trace.</summary>
    private static string? CorruptionOf(string title, string text, OopsFormat? format)
    {
        if (TimestampInTitle.IsMatch(title)) return "title matches corrupted regexp";
        if (format is null || format.NoStackTrace) return null;
        var hasStack = false;
        foreach (var key in StackSyntax.StackStarts)
        {
            var m = key.Match(text);
            if (!m.Success) continue;
            var lines = text[m.Index..].Split('\n');
            if (lines.Length < 4) return "call trace is missed";
            var corrupted = true;
            for (var i = 1; i <= StackSyntax.FrameWindow && i < lines.Length; i++)
            {
                if (AnyMatch(StackSyntax.StackStarts, lines[i])) break;
                if (lines[i].Contains("(stack is not available)", StringComparison.Ordinal) || AnyMatch(StackSyntax.FrameLines, lines[i]))
                {
                    hasStack = true;
                    corrupted = false;
                    break;
                }
            }
            if (corrupted) return "no frames in a stack trace";
        }
        return hasStack ? null : "no stack trace in report";
    }

    private static bool AnyMatch(IReadOnlyList<Regex> res, string s)
    {
        foreach (var re in res)
            if (re.IsMatch(s)) return true;
        return false;
    }
}

/// <summary>Titles without what changes between runs: addresses, numbers, file lines, pids of the fuzzer's processes.</summary>
public static class TitleCanon
{
    private const int MaxLength = 120;

    private static readonly (Regex Match, string With)[] Replacements =
    [
        (new(@"syz-executor\.?[0-9]+((/|:)[0-9]+)?"), "syz-executor"),
        (new(@"syzkaller[0-9]+((/|:)[0-9]+)?"), "syzkaller"),
        (new(@"([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}"), "${1}ADDR"),
        (new(@"([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})"), "IP"),
        (new(@"(\.\w+)(:[0-9]+)+"), "${1}:LINE"),
        (new(@"([a-zA-Z][a-zA-Z0-9_.]+)\+0x[0-9a-z]+/0x[0-9a-z]+"), "${1}"),
        (new(@"CPU#[0-9]+"), "CPU"),
        (new(@"(\W)(\d+)(\W|$)"), "${1}NUM${3}"),
        (new(@"\d{7,}"), "NUM"),
    ];

    public static string Canonical(string title)
    {
        foreach (var (match, with) in Replacements)
        {
            for (var i = 0; i < 16; i++)
            {
                var next = match.Replace(title, with);
                if (next == title) break;
                title = next;
            }
        }
        return Sanitize(title);
    }

    private static string Sanitize(string title)
    {
        var sb = new StringBuilder(title.Length);
        var prev = ' ';
        for (var i = 0; i < title.Length && i < MaxLength; i++)
        {
            var c = title[i] == '\t' ? ' ' : title[i];
            if (c < 0x20 || c >= 0x7f) continue;
            if (c == ' ' && prev == ' ') continue;
            sb.Append(c);
            prev = c;
        }
        return sb.ToString().Trim();
    }
}
