using System.Text;
using QemuHotplugHarness.Oops;

namespace QemuHotplugHarness.Tests.Oops;

/// <summary>
/// One file of syzkaller's Linux report corpus: header lines (TITLE, ALT, FRAME, CORRUPTED, ...) until the first
/// empty line, then the console log; an empty line followed by "REPORT:" starts syzkaller's expected report text,
/// which is not part of the log. A file whose first line is empty is a log without a crash.
/// </summary>
public sealed record SyzkallerCase(string Name, string? Title, IReadOnlyList<string> Alts, string? Frame, bool Corrupted, string Log)
{
    public bool IsCrash => Title is not null;

    /// <summary>The crashing frame syzkaller names: FRAME, else the identifier after the last " in " of the title.</summary>
    public string? ExpectedFrame
    {
        get
        {
            if (Frame is not null) return Frame;
            if (Title is null) return null;
            var at = Title.LastIndexOf(" in ", StringComparison.Ordinal);
            if (at < 0) return null;
            var rest = Title[(at + 4)..];
            var end = 0;
            while (end < rest.Length && (char.IsAsciiLetterOrDigit(rest[end]) || rest[end] is '_' or ':')) end++;
            return end == 0 ? null : rest[..end];
        }
    }

    public static SyzkallerCase Parse(string name, string text)
    {
        string? title = null, frame = null;
        var alts = new List<string>();
        var corrupted = false;
        var pos = 0;
        while (pos < text.Length)
        {
            var nl = text.IndexOf('\n', pos);
            var line = (nl < 0 ? text[pos..] : text[pos..nl]).TrimEnd('\r');
            pos = nl < 0 ? text.Length : nl + 1;
            if (line.Length == 0) break;
            var colon = line.IndexOf(':');
            if (colon < 0 || line.StartsWith('#')) continue;
            var value = line[(colon + 1)..].Trim();
            switch (line[..colon])
            {
                case "TITLE": title = value.Length > 0 ? value : null; break;
                case "ALT": alts.Add(value); break;
                case "FRAME": frame = value; break;
                case "CORRUPTED": corrupted = value == "Y"; break;
            }
        }
        var log = text[pos..];
        var report = log.IndexOf("\n\nREPORT:\n", StringComparison.Ordinal);
        if (report >= 0) log = log[..(report + 1)];
        else if (log.StartsWith("\nREPORT:\n", StringComparison.Ordinal) || log.StartsWith("REPORT:\n", StringComparison.Ordinal)) log = "";
        return new SyzkallerCase(name, title, alts, frame, corrupted, log);
    }

    public static IReadOnlyList<SyzkallerCase> LoadAll(string dir) =>
        Directory.GetFiles(dir)
            .Where(f => !Path.GetFileName(f).Contains('.'))
            .OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => Parse(Path.GetFileName(f), Encoding.UTF8.GetString(File.ReadAllBytes(f))))
            .ToList();

    /// <summary>Where ../shared/syzkaller-linux-reports is: $QHH_SHARED, else a "shared" folder beside the checkout or one of its parents.</summary>
    public static string? FindDirectory()
    {
        if (Environment.GetEnvironmentVariable("QHH_SHARED") is { Length: > 0 } env)
            return Directory.Exists(Path.Combine(env, "syzkaller-linux-reports")) ? Path.Combine(env, "syzkaller-linux-reports") : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "syzkaller-linux-reports");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}

/// <summary>The scanner's figures on the corpus, and every miss with what was expected and what was found.</summary>
public sealed class SyzkallerFigures
{
    public int Crashes, Detected, Clean, CleanFlagged, FrameCases, FrameEqual, TitleEqual, CorruptedCases, CorruptedFound, CleanCalledCorrupted;
    public List<string> Misses { get; } = [];

    public static double Percent(int n, int of) => of == 0 ? 100 : 100.0 * n / of;
    public double DetectedPercent => Percent(Detected, Crashes);
    public double FramePercent => Percent(FrameEqual, FrameCases);
    public double TitlePercent => Percent(TitleEqual, Crashes);
    public double CorruptedPercent => Percent(CorruptedFound, CorruptedCases);

    public static SyzkallerFigures Measure(IEnumerable<SyzkallerCase> cases)
    {
        var f = new SyzkallerFigures();
        foreach (var c in cases) f.Add(c, OopsScanner.Scan(c.Log));
        return f;
    }

    private void Add(SyzkallerCase c, IReadOnlyList<OopsReport> reports)
    {
        var first = reports.Count > 0 ? reports[0] : null;
        if (!c.IsCrash)
        {
            Clean++;
            if (first is not null) { CleanFlagged++; Misses.Add($"{c.Name}: clean log flagged: {first.Title}"); }
            return;
        }
        Crashes++;
        if (first is null) { Misses.Add($"{c.Name}: not detected (expected {c.Title})"); }
        else Detected++;
        if (first is not null && (first.Title == c.Title || c.Alts.Contains(first.Title))) TitleEqual++;
        else if (first is not null) Misses.Add($"{c.Name}: title '{first.Title}' expected '{c.Title}'");
        if (c.ExpectedFrame is { } frame && frame != "corrupted")
        {
            FrameCases++;
            if (first?.Function == frame) FrameEqual++;
            else if (first is not null) Misses.Add($"{c.Name}: frame '{first.Function}' expected '{frame}'");
        }
        if (c.Corrupted)
        {
            CorruptedCases++;
            if (first?.Corrupted == true) CorruptedFound++;
            else if (first is not null) Misses.Add($"{c.Name}: not called corrupted");
        }
        else if (first?.Corrupted == true)
        {
            CleanCalledCorrupted++;
            Misses.Add($"{c.Name}: called corrupted, syzkaller does not");
        }
    }

    public override string ToString() =>
        $"crash logs detected {DetectedPercent:F1} % ({Detected}/{Crashes}); clean logs flagged {CleanFlagged}/{Clean}; " +
        $"crashing frame equal {FramePercent:F1} % ({FrameEqual}/{FrameCases}); title equal {TitlePercent:F1} % ({TitleEqual}/{Crashes}); " +
        $"CORRUPTED: Y reported corrupted {CorruptedPercent:F1} % ({CorruptedFound}/{CorruptedCases}), uncorrupted reports called corrupted {CleanCalledCorrupted}";
}
