using System.Diagnostics;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>
/// One kernel given as distro packages (<c>--kernel-deb [NAME=]FILE|DIR</c>, repeatable; equal NAMEs make one set):
/// a single <c>linux-image-*.deb</c> (Debian 12, Ubuntu's old layout) or the set a kernel is split into now
/// (Debian: <c>linux-image</c> + <c>linux-binary</c> + <c>linux-modules</c> [+ <c>linux-base</c>]; Ubuntu:
/// <c>linux-image</c> + <c>linux-modules</c> [+ <c>linux-modules-extra</c>]), as files or a folder of them.
/// </summary>
public sealed record KernelDebSet(string Name, IReadOnlyList<string> Files, string Spec)
{
    /// <summary>NAME=… or … (then the name is <see cref="KernelPackage.DefaultName"/>).</summary>
    public static (string Name, string Value) ParseSpec(string spec)
    {
        var eq = spec.IndexOf('=');
        return eq > 0 ? (spec[..eq], spec[(eq + 1)..]) : (KernelPackage.DefaultName, spec);
    }

    /// <summary>The specs grouped by name into sets; a folder stands for its .deb files, a comma separates files.</summary>
    public static IReadOnlyList<KernelDebSet> Group(IEnumerable<string> specs)
    {
        var problems = new List<InputProblem>();
        var sets = new List<KernelDebSet>();
        foreach (var group in specs.Select(s => (Spec: s, Parsed: ParseSpec(s))).GroupBy(s => s.Parsed.Name))
        {
            var files = new List<string>();
            foreach (var (spec, parsed) in group)
                foreach (var item in parsed.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    files.AddRange(Expand(spec, item, problems));
            sets.Add(new KernelDebSet(group.Key, files.Distinct().ToList(), string.Join(" ", group.Select(g => g.Spec))));
        }
        return problems.Count > 0 ? throw new BadInputException(problems) : sets;
    }

    private static IEnumerable<string> Expand(string spec, string item, List<InputProblem> problems)
    {
        if (File.Exists(item)) return [Path.GetFullPath(item)];
        if (!Directory.Exists(item)) { problems.Add(new(InputKind.KernelDeb, spec, $"{item}: no such file or folder")); return []; }
        var debs = Directory.GetFiles(item, "*.deb").Where(f => !Path.GetFileName(f).Contains("-dbg", StringComparison.Ordinal))
            .Select(Path.GetFullPath).Order(StringComparer.Ordinal).ToList();
        if (debs.Count == 0) problems.Add(new(InputKind.KernelDeb, spec, $"{item}: no .deb files in the folder"));
        return debs;
    }
}

/// <summary>
/// Unpacks a <see cref="KernelDebSet"/> with dpkg-deb into one root in the cache, once, keyed by the files' hashes.
/// The entry keeps the image, its config and System.map and only the modules the guest needs (with their
/// dependencies), not the whole 400 MB tree. The image may be /boot/vmlinuz-RELEASE or
/// /usr/lib/modules/RELEASE/vmlinuz (Debian's split packages), the config and System.map beside it.
/// </summary>
public sealed class KernelPackage(BuildContext ctx)
{
    public const string DefaultName = "deb";

    private sealed record Package(string File, string Name, string Version);

    public Task<KernelBuild> RegisterAsync(string spec, CancellationToken ct) => RegisterAsync(KernelDebSet.Group([spec])[0], ct);

    public async Task<KernelBuild> RegisterAsync(KernelDebSet set, CancellationToken ct)
    {
        var input = new PrebuiltInput(InputKind.KernelDeb, set.Spec);
        var runner = ctx.Runner("kernel-deb");
        var packages = new List<Package>();
        foreach (var deb in set.Files) packages.Add(await FieldsAsync(runner, deb, input, ct));
        var key = HarnessCache.Key(set.Files.Select(HarnessCache.FileKey).Order(StringComparer.Ordinal));
        var entry = ctx.Cache.TryGet("kernel-deb", key) ?? await UnpackAsync(runner, packages, key, input, ct);
        var modules = Path.Combine(entry, "modules");
        var map = Path.Combine(entry, "System.map");
        return PrebuiltKernels.Register(new PrebuiltKernel(set.Name, Path.Combine(entry, "bzImage"), input,
            Directory.Exists(modules) ? modules : null, null, Path.Combine(entry, "config"), File.Exists(map) ? map : null,
            "debian-package " + string.Join(" ", packages.Select(p => $"{p.Name} {p.Version}"))), ctx.Cache);
    }

    private static async Task<Package> FieldsAsync(ToolRunner runner, string deb, PrebuiltInput input, CancellationToken ct)
    {
        string fields;
        try
        {
            var call = new ToolCall("dpkg-deb -f", "dpkg-deb", ["-f", deb, "Package", "Version"], "/", TimeSpan.FromMinutes(1));
            fields = await runner.RunAsync(call.Quietly(), ct);
        }
        catch (ToolFailedException e)
        {
            throw input.Bad($"{Path.GetFileName(deb)}: not a Debian package ({e.Message.Split('\n')[0]})");
        }
        var values = fields.Split('\n').Select(l => l.Split(": ", 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1].Trim());
        var package = values.GetValueOrDefault("Package", "");
        if (!package.StartsWith("linux-", StringComparison.Ordinal))
            throw input.Bad($"package {package} is not part of a kernel "
                + "(want linux-image-RELEASE, and linux-binary-/linux-modules- where the kernel is split)");
        return new Package(deb, package, values.GetValueOrDefault("Version", "?"));
    }

    private async Task<string> UnpackAsync(ToolRunner runner, IReadOnlyList<Package> packages, string key, PrebuiltInput input, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var names = string.Join(", ", packages.Select(p => p.Name));
        ctx.Log.Information("kernel packages {Packages}: unpacking into the cache ({Key})", names, key);
        var work = ctx.Cache.NewTempDir("kernel-deb");
        try
        {
            var root = Path.Combine(work, "root");
            Directory.CreateDirectory(root);
            foreach (var p in packages)
                await runner.RunAsync(new ToolCall("dpkg-deb -x", "dpkg-deb", ["-x", p.File, root], work, TimeSpan.FromMinutes(10)).Quietly(), ct);
            var (image, release) = FindImage(root) ?? throw input.Bad(NoImage(packages));
            var output = Path.Combine(work, "out");
            Directory.CreateDirectory(output);
            File.Copy(image, Path.Combine(output, "bzImage"));
            CopyFirst(Beside(root, release, "config"), Path.Combine(output, "config"));
            CopyFirst(Beside(root, release, "System.map").Where(f => new FileInfo(f).Length > 4096), Path.Combine(output, "System.map"));
            var tree = new[] { "lib/modules", "usr/lib/modules" }.Select(d => Path.Combine(root, d, release))
                .FirstOrDefault(d => Directory.Exists(Path.Combine(d, "kernel")));
            var kept = tree is null ? [] : KeepNeededModules(tree, Path.Combine(output, "modules"), input);
            Manifest.Write(output, new { kind = "kernel-deb", key, packages = packages.Select(p => new { p.Name, p.Version, file = Path.GetFileName(p.File) }),
                release, modules = kept, seconds = watch.Elapsed.TotalSeconds });
            var final = ctx.Cache.Commit("kernel-deb", key, output);
            ctx.Log.Information("kernel packages {Packages}: release {Release}, {Modules} module(s) kept, unpacked in {Seconds:F0} s",
                names, release, kept.Count, watch.Elapsed.TotalSeconds);
            return final;
        }
        finally
        {
            QemuBuilder.TryDelete(work);
        }
    }

    /// <summary>/boot/vmlinuz-RELEASE, else /usr/lib/modules/RELEASE/vmlinuz (or /lib/modules/…): the image and its release.</summary>
    private static (string Image, string Release)? FindImage(string root)
    {
        var boot = Path.Combine(root, "boot");
        if (Directory.Exists(boot) && Directory.GetFiles(boot, "vmlinuz-*").Order(StringComparer.Ordinal).FirstOrDefault() is { } vmlinuz)
            return (vmlinuz, Path.GetFileName(vmlinuz)["vmlinuz-".Length..]);
        var inModules = new[] { "usr/lib/modules", "lib/modules" }.Select(d => Path.Combine(root, d)).Where(Directory.Exists)
            .SelectMany(d => Directory.GetDirectories(d)).Select(d => Path.Combine(d, "vmlinuz")).Where(File.Exists)
            .Order(StringComparer.Ordinal).FirstOrDefault();
        return inModules is null ? null : (inModules, Path.GetFileName(Path.GetDirectoryName(inModules))!);
    }

    private static string NoImage(IReadOnlyList<Package> packages) =>
        $"no kernel image in {string.Join(", ", packages.Select(p => p.Name))} (neither boot/vmlinuz-* nor usr/lib/modules/*/vmlinuz): "
        + "newer kernels are split into linux-image-RELEASE (dependencies only), linux-binary-RELEASE (the image) and linux-modules-RELEASE; "
        + "give the whole set (several --kernel-deb NAME=FILE, or a folder)";

    private static IEnumerable<string> Beside(string root, string release, string name) =>
        new[]
        {
            Path.Combine(root, "boot", name + "-" + release), Path.Combine(root, "usr/lib/modules", release, name),
            Path.Combine(root, "lib/modules", release, name),
        }
            .Where(File.Exists);

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
            CopyFirst(new[] { Path.Combine(tree, index) }.Where(File.Exists), Path.Combine(into, index));
        foreach (var m in order)
        {
            var target = Path.Combine(into, Path.GetRelativePath(tree, m.Path));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(m.Path, target);
        }
        return order.Select(m => m.Name).ToList();
    }

    private static void CopyFirst(IEnumerable<string> from, string to)
    {
        if (from.FirstOrDefault() is { } file) File.Copy(file, to);
    }
}
