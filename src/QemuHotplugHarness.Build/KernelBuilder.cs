using System.Diagnostics;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>A guest kernel: bzImage plus what symbolization needs.</summary>
/// <remarks>Positional with more than six fields: a record of what one build produced, one parameter per fact.</remarks>
public sealed partial record KernelBuild(string Name, string BzImage, string? Vmlinux, string? SystemMap, string? ModulesDir, string Release, string Source, string Key);

/// <summary>
/// Builds the unpatched and patched kernels on tinyconfig plus images/kernel/hotplug.config: from Debian's
/// linux-source-6.1 (unpacked once into the cache, built in tree), or from the user's tree (<see cref="KernelTree"/>:
/// snapshotted, never touched, built out of tree). Both variants share one tree, so the second only rebuilds what the
/// patch touches.
/// </summary>
public sealed class KernelBuilder(BuildContext ctx)
{
    public const string DebianSourcePackage = "linux-source-6.1";
    public const string DebianTarball = "/usr/src/linux-source-6.1.tar.xz";

    /// <summary>
    /// Build the user's tree as it is: the patch under test is neither applied nor reverted (bisecting asks whether
    /// each commit holds the fix). The variant then only names the build.
    /// </summary>
    public bool TreeAsIs { get; init; }

    public async Task<KernelBuild> GetAsync(KernelVariant variant, string? userSource, string? patchFile, CancellationToken ct)
    {
        var patch = PatchUnderTest(patchFile);
        if (userSource is not null)
        {
            KernelTree.Validate(userSource);
            return await GetFromTreeAsync(variant, userSource, patch, ct);
        }
        var runner = ctx.Runner("kernel");
        var fragment = ctx.Repo.KernelConfigFragment;
        var sourceId = $"debian {DebianSourcePackage} " + await DebianPackages.RequireInstalledAsync(runner, DebianSourcePackage, ct);
        if (!File.Exists(DebianTarball)) throw new InfrastructureException($"{DebianTarball} is missing (reinstall {DebianSourcePackage})");

        var treeKey = HarnessCache.Key(["kernel-tree", sourceId, File.ReadAllText(fragment)]);
        var key = HarnessCache.Key(["kernel", treeKey, variant.ToString(), File.ReadAllText(patch)]);
        var name = variant.ToString().ToLowerInvariant();
        if (ctx.Cache.TryGet("kernel", key) is { } hit) return Load(name, hit, key, sourceId);

        using var treeLock = await ctx.Cache.LockAsync("kernel-tree-" + treeKey, TimeSpan.FromMinutes(90), ct);
        if (ctx.Cache.TryGet("kernel", key) is { } hit2) return Load(name, hit2, key, sourceId);

        var watch = Stopwatch.StartNew();
        var tree = await PrepareTreeAsync(runner, treeKey, sourceId, fragment, ct);
        var hasFix = await MatchVariantAsync(runner, tree, patch, variant, ct);
        var (release, buildId) = await MakeAsync(runner, name, tree, [], ct);
        var output = ctx.Cache.NewTempDir("kernel-" + name);
        CopyOutputs(tree, output);
        Manifest.Write(output, new { kind = "kernel", key, variant = name, release, buildId, source = sourceId, patch = Path.GetFileName(patch), treeHadFix = hasFix, builtAt = DateTimeOffset.UtcNow, seconds = watch.Elapsed.TotalSeconds });
        var final = ctx.Cache.Commit("kernel", key, output);
        ctx.Log.Information("build kernel {Variant}: done in {Seconds:F0} s ({Release})", name, watch.Elapsed.TotalSeconds, release);
        return Load(name, final, key, sourceId);
    }

    /// <summary>
    /// A kernel from the user's tree: snapshot it (never touching it), key by commit + full content + fragment +
    /// patch + variant, check the snapshot out into the cache's source folder and build out of tree into the build
    /// folder the tree keeps between runs, so a one-line change rebuilds one object and relinks.
    /// </summary>
    private async Task<KernelBuild> GetFromTreeAsync(KernelVariant variant, string userSource, string patch, CancellationToken ct)
    {
        var runner = ctx.Runner("kernel");
        var trees = new KernelTree(runner, ctx.Cache);
        var ws = trees.WorkspaceOf(userSource);
        var fragmentText = File.ReadAllText(ctx.Repo.KernelConfigFragment);
        var name = variant.ToString().ToLowerInvariant();
        // One build at a time per user tree: the snapshot index, the source folder and the build folder are shared.
        using var treeLock = await ctx.Cache.LockAsync("kernel-src-" + Path.GetFileName(ws.Root), TimeSpan.FromMinutes(90), ct);
        var snapshot = await trees.SnapshotAsync(userSource, ws, ct);
        var patching = TreeAsIs ? "as-is" : variant + "\n" + File.ReadAllText(patch);
        var key = HarnessCache.Key(["kernel-src", snapshot.Commit ?? "no commit", snapshot.ContentTree, fragmentText, patching]);
        var sourceId = snapshot.Identity.Describe();
        if (ctx.Cache.TryGet("kernel", key) is { } hit)
        {
            ctx.Log.Information("kernel {Variant}: {Tree} already built ({Key})", name, sourceId, key);
            return Load(name, hit, key, sourceId);
        }

        var watch = Stopwatch.StartNew();
        await trees.CheckoutAsync(ws, snapshot, ct);
        var build = Path.Combine(ws.Root, "build");
        await ConfigureOutOfTreeAsync(runner, ws, build, ct);
        bool? hasFix = TreeAsIs ? null : await MatchVariantAsync(runner, ws.Source, patch, variant, ct);
        var (release, buildId) = await MakeAsync(runner, name, ws.Source, ["O=" + build], ct);
        var output = ctx.Cache.NewTempDir("kernel-" + name);
        CopyOutputs(build, output);
        Manifest.Write(output, new
        {
            kind = "kernel", key, variant = name, release, buildId, source = sourceId, commit = snapshot.Commit, contentTree = snapshot.ContentTree,
            dirty = snapshot.Identity.Dirty, patch = TreeAsIs ? null : Path.GetFileName(patch), treeAsIs = TreeAsIs, treeHadFix = hasFix,
            builtAt = DateTimeOffset.UtcNow, seconds = watch.Elapsed.TotalSeconds,
        });
        var final = ctx.Cache.Commit("kernel", key, output);
        ctx.Log.Information("build kernel {Variant}: {Tree} done in {Seconds:F0} s ({Release}, build id {BuildId})", name, sourceId, watch.Elapsed.TotalSeconds, release, buildId);
        return Load(name, final, key, sourceId);
    }

    private string PatchUnderTest(string? patchFile)
    {
        var patch = patchFile ?? Directory.GetFiles(ctx.Repo.KernelPatches, "*.patch").OrderBy(p => p, StringComparer.Ordinal).FirstOrDefault()
            ?? throw new InfrastructureException($"{ctx.Repo.KernelPatches}: no patch under test");
        return File.Exists(patch) ? patch : throw new BadInputException(InputKind.Patch, patch, "no such file");
    }

    /// <summary>Applies or reverts the patch so the tree is the variant asked for; says whether the tree held the fix.</summary>
    private async Task<bool> MatchVariantAsync(ToolRunner runner, string tree, string patch, KernelVariant variant, CancellationToken ct)
    {
        var hasFix = await PatchSeries.ProbeAsync(runner, tree, patch, ct) == PatchState.AlreadyApplied;
        var wantFix = variant == KernelVariant.Patched;
        ctx.Log.Information("build kernel {Variant}: the tree {Has} {Patch}", variant.ToString().ToLowerInvariant(), hasFix ? "contains" : "lacks", Path.GetFileName(patch));
        if (hasFix != wantFix) await PatchSeries.ApplyAsync(runner, tree, patch, reverse: hasFix, ct);
        return hasFix;
    }

    /// <summary>make bzImage, then the release and the GNU build id of vmlinux (what tells two kernels apart).</summary>
    private async Task<(string Release, string? BuildId)> MakeAsync(ToolRunner runner, string name, string source, IReadOnlyList<string> outOfTree, CancellationToken ct)
    {
        await runner.RunAsync(new ToolCall($"make bzImage ({name})", "make", ["-j" + ctx.Jobs, .. outOfTree, "bzImage"], source, TimeSpan.FromMinutes(75)), ct);
        var release = (await runner.RunAsync(new ToolCall("kernelrelease", "make", ["-s", .. outOfTree, "kernelrelease"], source, TimeSpan.FromMinutes(2)).Quietly(), ct)).Trim();
        var output = outOfTree.Count == 0 ? source : outOfTree[0]["O=".Length..];
        var notes = await runner.RunAsync(new ToolCall("readelf -n vmlinux", "readelf", ["-n", Path.Combine(output, "vmlinux")], source, TimeSpan.FromMinutes(1)).Quietly(), ct);
        return (release, BuildId(notes));
    }

    /// <summary>The hex of "Build ID: …" in readelf -n's output, or null.</summary>
    public static string? BuildId(string readelfNotes) =>
        readelfNotes.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("Build ID:", StringComparison.Ordinal))?["Build ID:".Length..].Trim();

    private static void CopyOutputs(string built, string output)
    {
        File.Copy(Path.Combine(built, "arch/x86/boot/bzImage"), Path.Combine(output, "bzImage"));
        File.Copy(Path.Combine(built, "vmlinux"), Path.Combine(output, "vmlinux"));
        File.Copy(Path.Combine(built, "System.map"), Path.Combine(output, "System.map"));
        File.Copy(Path.Combine(built, ".config"), Path.Combine(output, "config"));
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

    private async Task<string> PrepareTreeAsync(ToolRunner runner, string treeKey, string sourceId, string fragment, CancellationToken ct)
    {
        var root = ctx.Cache.EntryPath("kernel-tree", treeKey);
        var tree = Path.Combine(root, "linux");
        var stamp = Path.Combine(root, "configured");
        if (File.Exists(stamp)) return tree;

        QemuBuilder.TryDelete(root);
        Directory.CreateDirectory(root);
        await runner.RunAsync(new ToolCall("unpack linux-source-6.1", "tar", ["-xaf", DebianTarball, "-C", root], root, TimeSpan.FromMinutes(15)), ct);
        Directory.Move(Path.Combine(root, "linux-source-6.1"), tree);
        await ConfigureAsync(runner, tree, [], Path.Combine(tree, ".config"), fragment, ct);
        await File.WriteAllTextAsync(stamp, sourceId, ct);
        return tree;
    }

    /// <summary>The build folder of a user tree gets its .config once (tinyconfig + fragment); later runs only rebuild.</summary>
    private async Task ConfigureOutOfTreeAsync(ToolRunner runner, KernelTree.Workspace ws, string build, CancellationToken ct)
    {
        var stamp = Path.Combine(build, ".qhh-configured");
        if (File.Exists(stamp)) return;
        Directory.CreateDirectory(build);
        await ConfigureAsync(runner, ws.Source, ["O=" + build], Path.Combine(build, ".config"), ctx.Repo.KernelConfigFragment, ct);
        await File.WriteAllTextAsync(stamp, "configured\n", ct);
    }

    /// <summary>tinyconfig, the fragment merged in, olddefconfig; every option of the fragment must stick.</summary>
    private static async Task ConfigureAsync(ToolRunner runner, string source, IReadOnlyList<string> outOfTree, string config, string fragment, CancellationToken ct)
    {
        await runner.RunAsync(new ToolCall("make tinyconfig", "make", [.. outOfTree, "tinyconfig"], source, TimeSpan.FromMinutes(10)), ct);
        string[] outDir = outOfTree.Count == 0 ? [] : ["-O", Path.GetDirectoryName(config)!];
        await runner.RunAsync(new ToolCall("merge hotplug.config", Path.Combine(source, "scripts/kconfig/merge_config.sh"), ["-m", .. outDir, config, fragment], Path.GetDirectoryName(config)!, TimeSpan.FromMinutes(5)), ct);
        await runner.RunAsync(new ToolCall("make olddefconfig", "make", [.. outOfTree, "olddefconfig"], source, TimeSpan.FromMinutes(10)), ct);
        var notStuck = KernelConfig.NotStuck(File.ReadAllText(fragment), File.ReadAllText(config));
        if (notStuck.Count > 0)
            throw new BadInputException($"{fragment}: options did not stick after olddefconfig: {string.Join(", ", notStuck)}");
    }
}
