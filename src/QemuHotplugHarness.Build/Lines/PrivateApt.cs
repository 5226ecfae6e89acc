using System.Globalization;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>
/// apt on a suite of a mirror through the harness's own lists in the cache (<c>apt/SUITE-KEY/</c>): the system's
/// sources, lists and dpkg database are never read or written (Dir::Etc::sourcelist, Dir::State::Lists, Dir::Cache
/// point into the cache). The lists are refreshed when older than a day; a failed refresh with lists on disk goes on
/// with them (a warning), so a warm cache works offline.
/// </summary>
public sealed class PrivateApt(ToolRunner runner, HarnessCache cache, string suite, string mirror, Serilog.ILogger log)
{
    private static readonly TimeSpan MaxListAge = TimeSpan.FromDays(1);
    private const string Keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";

    private string Dir => cache.EntryPath("apt", suite + "-" + HarnessCache.Key(["apt", suite, mirror]));
    private string Lists => Path.Combine(Dir, "lists");
    private string Stamp => Path.Combine(Dir, "updated");

    /// <summary>The options that make apt-get and apt-cache read only this suite.</summary>
    private IReadOnlyList<string> Options =>
    [
        "-o", "Dir::Etc::sourcelist=" + Path.Combine(Dir, "sources.list"), "-o", "Dir::Etc::sourceparts=/dev/null",
        "-o", "Dir::State::Lists=" + Lists, "-o", "Dir::Cache=" + Path.Combine(Dir, "cache"),
        "-o", "Dir::State::status=/dev/null", "-o", "APT::Sandbox::User=root", "-q",
    ];

    /// <summary>Makes sure the lists exist and are at most a day old.</summary>
    public async Task UpdateAsync(CancellationToken ct)
    {
        using var gate = await cache.LockAsync("apt-" + Path.GetFileName(Dir), TimeSpan.FromMinutes(10), ct);
        if (File.Exists(Stamp) && DateTime.UtcNow - File.GetLastWriteTimeUtc(Stamp) < MaxListAge) return;
        Directory.CreateDirectory(Path.Combine(Lists, "partial"));
        Directory.CreateDirectory(Path.Combine(Dir, "cache", "archives", "partial"));
        var signedBy = File.Exists(Keyring) ? $"[signed-by={Keyring}] " : "";
        await File.WriteAllTextAsync(Path.Combine(Dir, "sources.list"), $"deb {signedBy}{mirror} {suite} main\n", ct);
        try
        {
            await runner.RunAsync(new ToolCall($"apt-get update ({suite})", "apt-get", [.. Options, "update"], Dir, TimeSpan.FromMinutes(5)), ct);
            await File.WriteAllTextAsync(Stamp, DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture), ct);
        }
        catch (ToolFailedException e) when (File.Exists(Stamp))
        {
            log.Warning("apt-get update of {Suite} failed ({Error}); going on with the lists of {When}", suite, e.Message.Split('\n')[0],
                File.GetLastWriteTimeUtc(Stamp));
        }
    }

    /// <summary>The candidate version of <paramref name="package"/>, or null when the suite does not have it.</summary>
    public async Task<string?> VersionAsync(string package, CancellationToken ct)
    {
        var output = await runner.RunAsync(new ToolCall("apt-cache show", "apt-cache", [.. Options, "show", "--no-all-versions", package], Dir,
            TimeSpan.FromMinutes(1)).Quietly(), ct).ConfigureAwait(false);
        return output.Split('\n').FirstOrDefault(l => l.StartsWith("Version: ", StringComparison.Ordinal))?[9..].Trim();
    }

    /// <summary>Package names of the suite that start with <paramref name="prefix"/>.</summary>
    public async Task<IReadOnlyList<string>> NamesAsync(string prefix, CancellationToken ct)
    {
        var output = await runner.RunAsync(new ToolCall("apt-cache pkgnames", "apt-cache", [.. Options, "pkgnames", prefix], Dir,
            TimeSpan.FromMinutes(1)).Quietly(), ct);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The packages <paramref name="package"/> depends on directly (alternatives and virtual packages left out).</summary>
    public async Task<IReadOnlyList<string>> DependsAsync(string package, CancellationToken ct)
    {
        var output = await runner.RunAsync(new ToolCall("apt-cache show", "apt-cache", [.. Options, "show", "--no-all-versions", package], Dir,
            TimeSpan.FromMinutes(1)).Quietly(), ct);
        var depends = output.Split('\n').FirstOrDefault(l => l.StartsWith("Depends: ", StringComparison.Ordinal))?[9..] ?? "";
        return depends.Split(',', StringSplitOptions.TrimEntries).Where(d => !d.Contains('|')).Select(d => d.Split(' ')[0]).Where(d => d.Length > 0).ToList();
    }

    /// <summary>Downloads PACKAGE=VERSION into <paramref name="into"/>; the .deb's path.</summary>
    public async Task<string> DownloadAsync(string package, string version, string into, CancellationToken ct)
    {
        Directory.CreateDirectory(into);
        await runner.RunAsync(new ToolCall($"apt-get download {package}", "apt-get", [.. Options, "download", $"{package}={version}"], into,
            TimeSpan.FromMinutes(20)), ct);
        return Directory.GetFiles(into, package + "_*.deb").SingleOrDefault()
            ?? throw new InfrastructureException($"apt-get download {package}={version} left no {package}_*.deb in {into}");
    }
}
