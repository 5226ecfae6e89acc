using System.Text.RegularExpressions;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>Debian's source of a kernel line on disk: the package, its version and the tarball it ships.</summary>
public sealed record DebianTarball(string Package, string Version, string Tarball)
{
    /// <summary>"debian linux-source-6.12 6.12.118-1~deb12u1": what keys the line's builds and names them in reports.</summary>
    public string SourceId => $"debian {Package} {Version}";

    /// <summary>The folder the tarball unpacks into (linux-source-6.12).</summary>
    public string TopFolder => Package;
}

/// <summary>
/// Finds a kernel line's Debian source: the installed package when the system has it (run.ps1 installs
/// linux-source-6.1), else the package downloaded from the line's suite through <see cref="PrivateApt"/> into the
/// cache (<c>debian-source/KEY</c>), once per version.
/// </summary>
public sealed partial class LineSources(BuildContext ctx)
{
    public async Task<DebianTarball> GetAsync(KernelLine line, CancellationToken ct)
    {
        var runner = ctx.Runner("kernel-source");
        if (await InstalledAsync(runner, line, ct) is { } installed) return installed;
        var apt = new PrivateApt(runner, ctx.Cache, line.Debian.Suite, line.Debian.Mirror, ctx.Log);
        await apt.UpdateAsync(ct);
        var (package, version) = await PickAsync(apt, line, ct);
        var key = HarnessCache.Key(["debian-source", package, version]);
        var entry = ctx.Cache.TryGet("debian-source", key) ?? await FetchAsync(apt, package, version, key, ct);
        return new DebianTarball(package, version, Path.Combine(entry, "usr", "src", package + ".tar.xz"));
    }

    /// <summary>The line's tarball when it is already on this machine (installed, or fetched into the cache); never downloads.</summary>
    public async Task<DebianTarball?> LocalAsync(KernelLine line, CancellationToken ct)
    {
        var runner = ctx.Runner("kernel-source");
        if (await InstalledAsync(runner, line, ct) is { } installed) return installed;
        var fetched = Directory.Exists(Path.Combine(ctx.Cache.Root, "debian-source"))
            ? Directory.GetFiles(Path.Combine(ctx.Cache.Root, "debian-source"), "*.tar.xz", SearchOption.AllDirectories) : [];
        return fetched.Where(f => Matches(line, Path.GetFileName(f)[..^".tar.xz".Length]))
            .Select(f => new DebianTarball(Path.GetFileName(f)[..^".tar.xz".Length], "(cached)", f))
            .OrderByDescending(t => File.GetLastWriteTimeUtc(t.Tarball)).FirstOrDefault();
    }

    private static async Task<DebianTarball?> InstalledAsync(ToolRunner runner, KernelLine line, CancellationToken ct)
    {
        if (line.Debian.Package is not { } package) return null;
        var tarball = $"/usr/src/{package}.tar.xz";
        return File.Exists(tarball) && await DebianPackages.InstalledVersionAsync(runner, package, ct) is { } version
            ? new DebianTarball(package, version, tarball)
            : null;
    }

    private static bool Matches(KernelLine line, string package) =>
        line.Debian.Package is { } p ? p == package : package.StartsWith(line.Debian.PackagePrefix!, StringComparison.Ordinal);

    /// <summary>The line's package, or the newest linux-source-X.Y of the suite for a prefix, and its version.</summary>
    private static async Task<(string Package, string Version)> PickAsync(PrivateApt apt, KernelLine line, CancellationToken ct)
    {
        var package = line.Debian.Package;
        if (package is null)
        {
            var names = await apt.NamesAsync(line.Debian.PackagePrefix!, ct);
            package = names.Select(n => (Name: n, Version: LinuxVersion.TryParse(SourceVersion().Match(n).Groups[1].Value)))
                .Where(n => n.Version is not null).OrderBy(n => n.Version!.Value).Select(n => n.Name).LastOrDefault()
                ?? throw new InfrastructureException(
                    $"kernel line {line.Name}: Debian's {line.Debian.Suite} has no {line.Debian.PackagePrefix}X.Y package (of {names.Count} named so)");
        }
        var version = await apt.VersionAsync(package, ct)
            ?? throw new InfrastructureException($"kernel line {line.Name}: Debian's {line.Debian.Suite} has no package {package}");
        return (package, version);
    }

    private async Task<string> FetchAsync(PrivateApt apt, string package, string version, string key, CancellationToken ct)
    {
        using var gate = await ctx.Cache.LockAsync("debian-source-" + key, TimeSpan.FromMinutes(30), ct);
        if (ctx.Cache.TryGet("debian-source", key) is { } hit) return hit;
        var work = ctx.Cache.NewTempDir("debian-source");
        try
        {
            var deb = await apt.DownloadAsync(package, version, Path.Combine(work, "deb"), ct);
            var output = Path.Combine(work, "out");
            Directory.CreateDirectory(output);
            await ctx.Runner("kernel-source").RunAsync(new ToolCall("dpkg-deb -x", "dpkg-deb", ["-x", deb, output], work, TimeSpan.FromMinutes(10)), ct);
            Manifest.Write(output, new { kind = "debian-source", key, package, version, fetchedAt = DateTimeOffset.UtcNow });
            return ctx.Cache.Commit("debian-source", key, output);
        }
        finally
        {
            QemuBuilder.TryDelete(work);
        }
    }

    [GeneratedRegex(@"^linux-source-(\d+\.\d+)$")]
    private static partial Regex SourceVersion();
}
