using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>Small queries of dpkg/apt used to key the cache on what Debian serves.</summary>
public static class DebianPackages
{
    public static async Task<string?> InstalledVersionAsync(ToolRunner runner, string package, CancellationToken ct)
    {
        try
        {
            var v = await runner.RunAsync(new ToolCall($"dpkg-query {package}", "dpkg-query", ["-W", "-f=${Version}", package], "/", TimeSpan.FromSeconds(30)).Quietly(), ct);
            return v.Trim().Length == 0 ? null : v.Trim();
        }
        catch (ToolFailedException)
        {
            return null;
        }
    }

    public static async Task<string> RequireInstalledAsync(ToolRunner runner, string package, CancellationToken ct) =>
        await InstalledVersionAsync(runner, package, ct)
        ?? throw new InfrastructureException($"Debian package {package} is not installed (run: dotnet pwsh ./run.ps1 setup)");

    /// <summary>
    /// The candidate versions apt would download, one line per package ("name version"); remembered in the cache
    /// until apt's lists change (apt-get update), so a warm build asks apt nothing.
    /// </summary>
    public static async Task<IReadOnlyList<string>> CandidateVersionsAsync(ToolRunner runner, IReadOnlyList<string> packages, CancellationToken ct, HarnessCache? cache = null)
    {
        var lists = "/var/lib/apt/lists";
        string? memo = null;
        if (cache is not null && Directory.Exists(lists))
        {
            memo = Path.Combine(cache.Root, "probes", "apt-" + HarnessCache.Key(packages.Append(Directory.GetLastWriteTimeUtc(lists).Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture))) + ".txt");
            if (File.Exists(memo)) return File.ReadAllLines(memo);
        }
        var versions = await AskAptAsync(runner, packages, ct);
        if (memo is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(memo)!);
            File.WriteAllLines(memo, versions);
        }
        return versions;
    }

    private static async Task<IReadOnlyList<string>> AskAptAsync(ToolRunner runner, IReadOnlyList<string> packages, CancellationToken ct)
    {
        var output = await runner.RunAsync(new ToolCall("apt-cache show", "apt-cache", new[] { "show", "--no-all-versions" }.Concat(packages), "/", TimeSpan.FromMinutes(1)).Quietly(), ct);
        var result = new List<string>();
        string? name = null;
        foreach (var line in output.Split('\n'))
        {
            if (line.StartsWith("Package: ", StringComparison.Ordinal)) name = line[9..].Trim();
            else if (line.StartsWith("Version: ", StringComparison.Ordinal) && name is not null) result.Add($"{name} {line[9..].Trim()}");
        }
        var missing = packages.Where(p => !result.Any(r => r.StartsWith(p + " ", StringComparison.Ordinal))).ToList();
        if (missing.Count > 0) throw new InfrastructureException($"apt knows no package {string.Join(", ", missing)} (apt-get update?)");
        return result;
    }
}
