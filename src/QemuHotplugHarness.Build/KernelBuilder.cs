using System.Diagnostics;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>A guest kernel: bzImage plus what symbolization needs.</summary>
/// <remarks>Positional with more than six fields: a record of what one build produced, one parameter per fact.</remarks>
public sealed partial record KernelBuild(string Name, string BzImage, string? Vmlinux, string? SystemMap, string? ModulesDir, string Release, string Source, string Key);

/// <summary>
/// Builds the unpatched and patched kernels from Debian's linux-source-6.1 (or the user's kernel tree) on tinyconfig plus
/// images/kernel/hotplug.config. Both variants share one tree, so the second only rebuilds what the patch touches.
/// </summary>
public sealed class KernelBuilder(BuildContext ctx)
{
    public const string DebianSourcePackage = "linux-source-6.1";
    public const string DebianTarball = "/usr/src/linux-source-6.1.tar.xz";

    public async Task<KernelBuild> GetAsync(KernelVariant variant, string? userSource, string? patchFile, CancellationToken ct)
    {
        var runner = ctx.Runner("kernel");
        var patch = patchFile ?? Directory.GetFiles(ctx.Repo.KernelPatches, "*.patch").OrderBy(p => p, StringComparer.Ordinal).FirstOrDefault()
            ?? throw new InfrastructureException($"{ctx.Repo.KernelPatches}: no patch under test");
        if (!File.Exists(patch)) throw new BadInputException(InputKind.Patch, patch, "no such file");
        var fragment = ctx.Repo.KernelConfigFragment;
        string sourceId;
        if (userSource is null)
        {
            sourceId = $"debian {DebianSourcePackage} " + await DebianPackages.RequireInstalledAsync(runner, DebianSourcePackage, ct);
            if (!File.Exists(DebianTarball)) throw new InfrastructureException($"{DebianTarball} is missing (reinstall {DebianSourcePackage})");
        }
        else if (Directory.Exists(userSource) && File.Exists(Path.Combine(userSource, "Makefile")))
        {
            sourceId = "user " + Path.GetFullPath(userSource) + " " + await TreeIdAsync(runner, userSource, ct);
        }
        else
        {
            throw new BadInputException(InputKind.KernelSource, userSource, "not a kernel tree (no Makefile)");
        }

        var treeKey = HarnessCache.Key(["kernel-tree", sourceId, File.ReadAllText(fragment)]);
        var key = HarnessCache.Key(["kernel", treeKey, variant.ToString(), File.ReadAllText(patch)]);
        var name = variant.ToString().ToLowerInvariant();
        if (ctx.Cache.TryGet("kernel", key) is { } hit) return Load(name, hit, key, sourceId);

        using var treeLock = await ctx.Cache.LockAsync("kernel-tree-" + treeKey, TimeSpan.FromMinutes(90), ct);
        if (ctx.Cache.TryGet("kernel", key) is { } hit2) return Load(name, hit2, key, sourceId);

        var watch = Stopwatch.StartNew();
        var tree = await PrepareTreeAsync(runner, treeKey, sourceId, userSource, fragment, ct);
        var state = await PatchSeries.ProbeAsync(runner, tree, patch, ct);
        var hasFix = state == PatchState.AlreadyApplied;
        var wantFix = variant == KernelVariant.Patched;
        ctx.Log.Information("build kernel {Variant}: the tree {Has} {Patch}", name, hasFix ? "contains" : "lacks", Path.GetFileName(patch));
        if (hasFix != wantFix) await PatchSeries.ApplyAsync(runner, tree, patch, reverse: hasFix, ct);

        await runner.RunAsync(new ToolCall($"make bzImage ({name})", "make", ["-j" + ctx.Jobs, "bzImage"], tree, TimeSpan.FromMinutes(75)), ct);
        var release = (await runner.RunAsync(new ToolCall("kernelrelease", "make", ["-s", "kernelrelease"], tree, TimeSpan.FromMinutes(2)).Quietly(), ct)).Trim();
        var output = ctx.Cache.NewTempDir("kernel-" + name);
        File.Copy(Path.Combine(tree, "arch/x86/boot/bzImage"), Path.Combine(output, "bzImage"));
        File.Copy(Path.Combine(tree, "vmlinux"), Path.Combine(output, "vmlinux"));
        File.Copy(Path.Combine(tree, "System.map"), Path.Combine(output, "System.map"));
        File.Copy(Path.Combine(tree, ".config"), Path.Combine(output, "config"));
        Manifest.Write(output, new { kind = "kernel", key, variant = name, release, source = sourceId, patch = Path.GetFileName(patch), treeHadFix = hasFix, builtAt = DateTimeOffset.UtcNow, seconds = watch.Elapsed.TotalSeconds });
        var final = ctx.Cache.Commit("kernel", key, output);
        ctx.Log.Information("build kernel {Variant}: done in {Seconds:F0} s ({Release})", name, watch.Elapsed.TotalSeconds, release);
        return Load(name, final, key, sourceId);
    }

    /// <summary>A prebuilt kernel image registered under NAME (with an optional modules tree): checked and registered, not built.</summary>
    public static KernelBuild Prebuilt(string name, string image, string? modules, HarnessCache? cache = null) =>
        PrebuiltKernels.Register(new PrebuiltKernel(name, image, new PrebuiltInput(InputKind.KernelImage, $"{name}={image}"), modules,
            modules is null ? null : new PrebuiltInput(InputKind.Modules, modules), null, null, "user " + image), cache);

    private static KernelBuild Load(string name, string dir, string key, string source)
    {
        var release = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json"))).RootElement.GetProperty("release").GetString() ?? "";
        return new KernelBuild(name, Path.Combine(dir, "bzImage"), Path.Combine(dir, "vmlinux"), Path.Combine(dir, "System.map"), null, release, source, key);
    }

    private async Task<string> PrepareTreeAsync(ToolRunner runner, string treeKey, string sourceId, string? userSource, string fragment, CancellationToken ct)
    {
        var root = ctx.Cache.EntryPath("kernel-tree", treeKey);
        var tree = Path.Combine(root, "linux");
        var stamp = Path.Combine(root, "configured");
        if (File.Exists(stamp)) return tree;

        QemuBuilder.TryDelete(root);
        Directory.CreateDirectory(root);
        if (userSource is null)
        {
            await runner.RunAsync(new ToolCall("unpack linux-source-6.1", "tar", ["-xaf", DebianTarball, "-C", root], root, TimeSpan.FromMinutes(15)), ct);
            Directory.Move(Path.Combine(root, "linux-source-6.1"), tree);
        }
        else
        {
            await runner.RunAsync(new ToolCall("copy kernel tree", "cp", ["-a", Path.GetFullPath(userSource), tree], root, TimeSpan.FromMinutes(30)), ct);
            await runner.RunAsync(new ToolCall("make mrproper", "make", ["mrproper"], tree, TimeSpan.FromMinutes(10)), ct);
        }
        await runner.RunAsync(new ToolCall("make tinyconfig", "make", ["tinyconfig"], tree, TimeSpan.FromMinutes(10)), ct);
        await runner.RunAsync(new ToolCall("merge hotplug.config", Path.Combine(tree, "scripts/kconfig/merge_config.sh"), ["-m", ".config", fragment], tree, TimeSpan.FromMinutes(5)), ct);
        await runner.RunAsync(new ToolCall("make olddefconfig", "make", ["olddefconfig"], tree, TimeSpan.FromMinutes(10)), ct);
        var notStuck = KernelConfig.NotStuck(File.ReadAllText(fragment), File.ReadAllText(Path.Combine(tree, ".config")));
        if (notStuck.Count > 0)
            throw new BadInputException($"{fragment}: options did not stick after olddefconfig: {string.Join(", ", notStuck)}");
        await File.WriteAllTextAsync(stamp, sourceId, ct);
        return tree;
    }

    private static async Task<string> TreeIdAsync(ToolRunner runner, string dir, CancellationToken ct)
    {
        if (Directory.Exists(Path.Combine(dir, ".git")))
        {
            var head = await runner.RunAsync(new ToolCall("git rev-parse", "git", ["-C", dir, "rev-parse", "HEAD"], dir, TimeSpan.FromMinutes(1)).Quietly(), ct);
            var dirty = await runner.RunAsync(new ToolCall("git status", "git", ["-C", dir, "status", "--porcelain", "--untracked-files=no"], dir, TimeSpan.FromMinutes(5)).Quietly(), ct);
            return head.Trim() + (dirty.Trim().Length > 0 ? "-dirty-" + HarnessCache.Key([dirty]) : "");
        }
        return Directory.GetLastWriteTimeUtc(dir).Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
