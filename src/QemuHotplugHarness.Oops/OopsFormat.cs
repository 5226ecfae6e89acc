using System.Text.RegularExpressions;

namespace QemuHotplugHarness.Oops;

/// <summary>How the crashing frame is chosen among the frames that survive the skip lists.</summary>
public enum FrameChoice
{
    /// <summary>The first surviving frame.</summary>
    First,
    /// <summary>Stalls and lockups: the frame just before the first dispatch anchor (syscall entry, vfs_write, process_one_work, ...).</summary>
    BeforeAnchor,
    /// <summary>Hung tasks: a known waiting point (rtnl_lock, synchronize_rcu), else the first frame that is not scheduler, lock or wait code.</summary>
    HungTask,
}

/// <summary>
/// Where a format takes its frame from: <see cref="Parts"/> are matched in order, each a line regex that advances
/// through the report (and yields a frame when it captures one), or <see cref="StackSyntax.Trace"/>, which reads frames
/// until the next stack starts. <see cref="Fallback"/> is tried when <see cref="Parts"/> yields no frame.
/// <see cref="Skip"/> adds to the skip list every candidate frame runs through (substrings or regexes).
/// </summary>
public sealed record StackRule(IReadOnlyList<Regex> Parts, IReadOnlyList<Regex>? Fallback = null, IReadOnlyList<string>? Skip = null, FrameChoice Choice = FrameChoice.First)
{
    private Regex? _skip;

    /// <summary>The global skip list plus this rule's own, as one regex.</summary>
    internal Regex SkipRegex => _skip ??= new Regex(string.Join('|', StackSyntax.SkipPatterns.Concat(Skip ?? [])), RegexOptions.CultureInvariant);
}

/// <summary>
/// One crash format of a <see cref="OopsFamily"/>. <see cref="Title"/> finds it in the report; when <see cref="Report"/>
/// is set it must match too (else the report is corrupted) and its groups are the arguments. <see cref="Template"/>
/// and <see cref="Alts"/> name the crash: {1}, {2}, ... are the regex groups, then the frames of <see cref="Stack"/>.
/// </summary>
public sealed record OopsFormat
{
    public required string Kind { get; init; }
    public required Regex Title { get; init; }
    public Regex? Report { get; init; }
    public required string Template { get; init; }
    public IReadOnlyList<string> Alts { get; init; } = [];
    public StackRule? Stack { get; init; }
    /// <summary>The report has no call trace by nature: its absence is not corruption.</summary>
    public bool NoStackTrace { get; init; }
    /// <summary>Matching this format means the report lost its real header.</summary>
    public bool Corrupted { get; init; }
}

/// <summary>
/// A family of crash formats that share a header substring (the cheap test every console line goes through).
/// <see cref="Suppressions"/> are lines that contain the header but are not crashes.
/// </summary>
public sealed record OopsFamily(string Header, IReadOnlyList<OopsFormat> Formats, IReadOnlyList<Regex> Suppressions)
{
    /// <summary>For headers that are common words: the line must also match this.</summary>
    public Regex? Require { get; init; }

    public bool Matches(string line) =>
        line.Contains(Header, StringComparison.Ordinal) && (Require is null || Require.IsMatch(line)) && !Suppressions.Any(s => s.IsMatch(line));
}
