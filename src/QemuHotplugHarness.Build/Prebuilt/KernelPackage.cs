using System.Diagnostics;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>
/// A distro kernel package (<c>--kernel-deb [NAME=]FILE</c>: Debian's or Ubuntu's linux-image-*.deb), unpacked once
/// with dpkg-deb into the cache, keyed by the file's hash. The entry keeps the image, its config and System.map
/// and only the modules the guest needs (with their dependencies), not the whole 400 MB tree.
/// </summary>
public sealed class KernelPackage(BuildContext ctx)
{
    /// <summary>NAME=FILE or FILE (then the name is <see cref="DefaultName"/>).</summary>
    public const string DefaultName = "deb";

    public static (string Name, string File) ParseSpec(string spec)
    {
        var eq = spec.IndexOf('=');
        return eq > 0 ? (spec[..eq], spec[(eq + 1)..]) : (DefaultName, spec);
    }

    public async Task<KernelBuild> RegisterAsync(string spec, CancellationToken ct)
    {
        var (name, deb) = ParseSpec(spec);
        var input = new PrebuiltInput(InputKind.KernelDeb, spec);
        if (!File.Exists(deb)) throw input.Bad("no such file");
        var runner = ctx.Runner("kernel-deb");
        var (package, version) = await FieldsAsync(runner, deb, input, ct);
        var key = HarnessCache.FileKey(deb);
        var entry = ctx.Cache.TryGet("kernel-deb", key) ?? await UnpackAsync(runner, deb, key, package, version, input, ct);
        var modules = Path.Combine(entry, "modules");
        return PrebuiltKernels.Register(new PrebuiltKernel(name, Path.Combine(entry, "bzImage"), input,
            Directory.Exists(modules) ? modules : null, null, Path.Combine(entry, "config"), Path.Combine(entry, "System.map"),
            $"debian-package {package} {version}"), ctx.Cache);
    }

    private static async Task<(string Package, string Version)> FieldsAsync(ToolRunner runner, string deb, PrebuiltInput input, CancellationToken ct)
    {
        string fields;
        try
        {
            fields = await runner.RunAsync(new ToolCall("dpkg-deb -f", "dpkg-deb", ["-f", Path.GetFullPath(deb), "Package", "Version"], "/", TimeSpan.FromMinutes(1)).Quietly(), ct);
        }
        catch (ToolFailedException e)
        {
            throw input.Bad($"not a Debian package ({e.Message.Split('\n')[0]})");
        }
        var values = fields.Split('\n').Select(l => l.Split(": ", 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1].Trim());
        var package = values.GetValueOrDefault("Package", "");
        if (!package.StartsWith("linux-image-", StringComparison.Ordinal))
            throw input.Bad($"package {package} is not a kernel image (want linux-image-RELEASE, e.g. linux-image-6.1.0-26-amd64)");
        return (package, values.GetValueOrDefault("Version", "?"));
    }

    private async Task<string> UnpackAsync(ToolRunner runner, string deb, string key, string package, string version, PrebuiltInput input, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        ctx.Log.Information("kernel package {Package} {Version}: unpacking into the cache ({Key})", package, version, key);
        var work = ctx.Cache.NewTempDir("kernel-deb");
        try
        {
            var root = Path.Combine(work, "root");
            Directory.CreateDirectory(root);
            await runner.RunAsync(new ToolCall("dpkg-deb -x", "dpkg-deb", ["-x", Path.GetFullPath(deb), root], work, TimeSpan.FromMinutes(10)).Quietly(), ct);
            var vmlinuz = Directory.Exists(Path.Combine(root, "boot")) ? Directory.GetFiles(Path.Combine(root, "boot"), "vmlinuz-*").Order(StringComparer.Ordinal).FirstOrDefault() : null;
            if (vmlinuz is null) throw input.Bad($"package {package} has no boot/vmlinuz-* (a meta package? give the linux-image-RELEASE package it depends on)");
            var release = Path.GetFileName(vmlinuz)["vmlinuz-".Length..];
            var output = Path.Combine(work, "out");
            Directory.CreateDirectory(output);
            File.Copy(vmlinuz, Path.Combine(output, "bzImage"));
            CopyIfExists(Path.Combine(root, "boot", "config-" + release), Path.Combine(output, "config"));
            CopyIfExists(Path.Combine(root, "boot", "System.map-" + release), Path.Combine(output, "System.map"));
            var tree = new[] { "lib/modules", "usr/lib/modules" }.Select(d => Path.Combine(root, d, release)).FirstOrDefault(Directory.Exists);
            var kept = tree is null ? [] : KeepNeededModules(tree, Path.Combine(output, "modules"), input);
            Manifest.Write(output, new { kind = "kernel-deb", key, package, version, release, file = Path.GetFileName(deb), modules = kept, seconds = watch.Elapsed.TotalSeconds });
            var final = ctx.Cache.Commit("kernel-deb", key, output);
            ctx.Log.Information("kernel package {Package}: release {Release}, {Modules} module(s) kept, unpacked in {Seconds:F0} s", package, release, kept.Count, watch.Elapsed.TotalSeconds);
            return final;
        }
        finally
        {
            QemuBuilder.TryDelete(work);
        }
    }

    /// <summary>Copies the driver modules the package has (and what they depend on) with the tree's index files.</summary>
    private static IReadOnlyList<string> KeepNeededModules(string tree, string into, PrebuiltInput input)
    {
        var modules = ModuleTree.Open(tree);
        IReadOnlyList<ModuleFile> order;
        try
        {
            order = modules.LoadOrder(KernelRequirements.DriverModules.Where(m => modules.Find(m) is not null));
        }
        catch (ModuleTreeException e)
        {
            throw input.Bad(e.Message);
        }
        Directory.CreateDirectory(into);
        foreach (var index in new[] { "modules.builtin", "modules.order", "modules.dep" })
            CopyIfExists(Path.Combine(tree, index), Path.Combine(into, index));
        foreach (var m in order)
        {
            var target = Path.Combine(into, Path.GetRelativePath(tree, m.Path));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(m.Path, target);
        }
        return order.Select(m => m.Name).ToList();
    }

    private static void CopyIfExists(string from, string to)
    {
        if (File.Exists(from)) File.Copy(from, to);
    }
}
