using System.Globalization;

namespace QemuHotplugHarness.Scenarios;

/// <summary>
/// How many entries of a growing cache kind stay on disk (snapshots, kernel build trees): every new kernel build is a
/// new key, so a nightly run would otherwise fill the disk. The least recently used go first. Pure.
/// </summary>
public static class CacheBounds
{
    /// <summary>Snapshots kept (QHH_SNAPSHOT_KEEP): about 115-190 MB of disk each, so 100 is 12-19 GB.</summary>
    public static readonly CacheBound Snapshots = new("QHH_SNAPSHOT_KEEP", "snapshots", 100);

    /// <summary>Kernel build trees kept (QHH_BUILD_TREES_KEEP): 1.8-2.2 GB each; one per line and configuration in use.</summary>
    public static readonly CacheBound BuildTrees = new("QHH_BUILD_TREES_KEEP", "kernel build trees", 6);

    public static IReadOnlyList<CacheBound> All { get; } = [Snapshots, BuildTrees];

    /// <summary>
    /// The entries to remove so that <paramref name="keep"/> stay: the least recently used first, never
    /// <paramref name="current"/> (the one just made or used).
    /// </summary>
    public static IReadOnlyList<string> LeastRecentlyUsed(IEnumerable<(string Key, DateTime LastUsed)> entries, int keep, string? current) =>
        entries.Where(s => s.Key != current).OrderByDescending(s => s.LastUsed).ThenBy(s => s.Key, StringComparer.Ordinal)
            .Skip(Math.Max(0, keep - (current is null ? 0 : 1))).Select(s => s.Key).ToList();
}

/// <summary>One bounded cache kind: its environment variable and default.</summary>
public sealed record CacheBound(string Variable, string What, int Default)
{
    /// <summary>The variable's value as the number to keep (null or empty: the default); bad input otherwise.</summary>
    public int Parse(string? value)
    {
        if (string.IsNullOrEmpty(value)) return Default;
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1) return n;
        throw new BadInputException($"{Variable}={value}: not a whole number of {What} to keep (at least 1)");
    }

    /// <summary>The number to keep, from the environment.</summary>
    public int FromEnvironment() => Parse(Environment.GetEnvironmentVariable(Variable));
}
