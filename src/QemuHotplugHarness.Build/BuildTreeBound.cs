using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Build;

/// <summary>
/// Kernel build trees ($QHH_CACHE/kernel-build/KEY, 1.8-2.2 GB each) are kept for incremental builds; every new
/// configuration or kernel version is a new one. Beyond <see cref="Keep"/>, the least recently used go, each only when
/// its lock is free (no build is in it). A tree's last use is its folder's time, set when a build starts there.
/// </summary>
public sealed class BuildTreeBound(HarnessCache cache, ILogger log)
{
    public int Keep { get; init; } = CacheBounds.BuildTrees.Default;

    private string Root => Path.Combine(cache.Root, "kernel-build");

    /// <summary>Removes the least recently used trees beyond <see cref="Keep"/>, never <paramref name="current"/>; returns their keys.</summary>
    public async Task<IReadOnlyList<string>> PruneAsync(string? current, CancellationToken ct)
    {
        if (!Directory.Exists(Root)) return [];
        var trees = Directory.EnumerateDirectories(Root).Select(d => (Key: Path.GetFileName(d), LastUsed: Directory.GetLastWriteTimeUtc(d))).ToList();
        var gone = new List<string>();
        foreach (var key in CacheBounds.LeastRecentlyUsed(trees, Keep, current))
        {
            try
            {
                using var busy = await cache.LockAsync("kernel-build-" + key, TimeSpan.Zero, ct);
                Directory.Delete(Path.Combine(Root, key), recursive: true);
                gone.Add(key);
            }
            catch (Exception e) when (e is InfrastructureException or IOException or UnauthorizedAccessException)
            {
                log.Debug("kernel build tree {Key} kept: {Message}", key, e.Message); // a build is in it, or it cannot be removed
            }
        }
        if (gone.Count > 0)
            log.Information("kernel build trees: removed {Count} least recently used, keeping {Keep} ({Variable})", gone.Count, Keep, CacheBounds.BuildTrees.Variable);
        return gone;
    }
}
