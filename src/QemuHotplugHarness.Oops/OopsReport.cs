namespace QemuHotplugHarness.Oops;

/// <summary>One kernel crash report found in a log.</summary>
public sealed record OopsReport
{
    /// <summary>Deduplicating title in syzkaller's convention, e.g. "general protection fault in stable_page_flags".</summary>
    public required string Title { get; init; }
    public required string Kind { get; init; }
    public string? Function { get; init; }
    public string? FaultAddress { get; init; }
    public string? Rip { get; init; }
    public IReadOnlyList<string> CallTrace { get; init; } = [];
    public IReadOnlyDictionary<string, string> Registers { get; init; } = new Dictionary<string, string>();
    public string? Comm { get; init; }
    public int? Pid { get; init; }
    public string? KernelVersion { get; init; }
    public string? Taint { get; init; }
    /// <summary>1-based line numbers of the report in the scanned file (inclusive).</summary>
    public int StartLine { get; init; }
    public int EndLine { get; init; }
    /// <summary>The report cannot be trusted: its stack trace is missing or empty, its header was lost, or other output got into it.</summary>
    public bool Corrupted { get; init; }
    public string? CorruptedReason { get; init; }
    /// <summary>The report's kernel lines, prefixes stripped.</summary>
    public required string Text { get; init; }
}

/// <summary>Reports with the same title are one crash: the first keeps the full text.</summary>
public sealed record OopsGroup(string Title, int Count, OopsReport First);

public static class OopsDedup
{
    public static IReadOnlyList<OopsGroup> Group(IEnumerable<OopsReport> reports) =>
        reports.GroupBy(r => r.Title)
            .Select(g => new OopsGroup(g.Key, g.Count(), g.First()))
            .OrderBy(g => g.First.StartLine)
            .ToList();
}
