using System.Diagnostics;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>A guest kernel: bzImage plus what symbolization needs.</summary>
/// <remarks>Positional with more than six fields: a record of what one build produced, one parameter per fact.</remarks>
public sealed partial record KernelBuild(string Name, string BzImage, string? Vmlinux, string? SystemMap, string? ModulesDir, string Release, string Source, string Key);

/// <summary>
/// Builds the unpatched and patched kernels on tinyconfig plus images/kernel/hotplug.config, from Debian's
/// linux-source-6.1 (unpacked once into the cache) or from the user's tree: either is snapshotted, never written,
/// and built out of tree in source and build folders shared by every tree of the same kernel version and config
/// (<see cref="KernelTree"/>), so the second variant, a user's edit, or the next commit of a bisect only rebuilds
/// what differs.
/// </summary>
public sealed class KernelBuilder(BuildContext ctx)
{
    /// <summary>
    /// Build the user's tree as it is: the patch under test is neither applied nor reverted (bisecting asks whether
    /// each commit holds the fix). The variant then only names the build.
    /// </summary>
    public bool TreeAsIs { get; init; }

    /// <summary>The kernel line whose Debian source is built when no tree is given; null = the default line (6.1).</summary>
    public KernelLine? Line { get; init; }

    /// <summary>Config lines beyond the fragment (a case's own options): kernels with equal lists share builds.</summary>
    public IReadOnlyList<string> ExtraConfig { get; init; } = [];

    public async Task<KernelBuild> GetAsync(KernelVariant variant, string? userSource, string? patchFile, CancellationToken ct)
    {
        var patch = PatchUnderTest(patchFile);
        if (userSource is not null)
        {
            KernelTree.Validate(userSource);
            var lineOfTree = LinuxVersion.TryParse(KernelTree.KernelVersion(userSource)) is { } v ? ctx.Repo.Lines().ForVersion(v)?.Name : null;
            return await GetFromTreeAsync(variant, userSource, patch, ct) with { Line = lineOfTree };
        }
        var line = Line ?? ctx.Repo.Lines().Default;
        var debian = await new LineSources(ctx).GetAsync(line, ct);
        // The key is what the kernel is built from (the package's version, the config inputs, the variant, the patch).
        var treeKey = HarnessCache.Key(["kernel-tree", debian.SourceId, ConfigInputs()]);
        var key = HarnessCache.Key(["kernel", treeKey, variant.ToString(), File.ReadAllText(patch)]);
        var name = variant.ToString().ToLowerInvariant();
        if (ctx.Cache.TryGet("kernel", key) is { } hit) return Load(name, hit, key, debian.SourceId) with { Line = line.Name };

        var source = await UnpackDebianSourceAsync(ctx.Runner("kernel"), debian, ct);
        var built = await BuildTreeAsync(new TreeBuild(variant, source, patch, key, debian.SourceId, TreeAsIs: false) { Harness = true }, ct);
        return built with { Line = line.Name };
    }

    /// <summary>
    /// Everything the config is made of: the fragment, the requirements table and the extra lines. Their resolution
    /// against a tree is a function of the tree, so keying by these (and the tree) keys the resolved config.
    /// </summary>
    private string ConfigInputs() =>
        string.Join("\n", [File.ReadAllText(ctx.Repo.KernelConfigFragment), File.ReadAllText(ctx.Repo.KernelRequirements), .. ExtraConfig]);

    /// <summary>
    /// A kernel from the user's tree: snapshot it (never touching it), key by commit + full content + fragment +
    /// patch + variant, and build it in the shared source and build folders (<see cref="BuildTreeAsync"/>).
    /// </summary>
    private async Task<KernelBuild> GetFromTreeAsync(KernelVariant variant, string userSource, string patch, CancellationToken ct)
    {
        var fragmentText = ConfigInputs();
        var trees = new KernelTree(ctx.Runner("kernel"), ctx.Cache);
        var ws = trees.WorkspaceOf(userSource, fragmentText);
        KernelTree.Snapshot snapshot;
        using (await ctx.Cache.LockAsync("kernel-src-" + Path.GetFileName(ws.Root), TimeSpan.FromMinutes(90), ct))
            snapshot = await trees.SnapshotAsync(userSource, ws, ct);
        var patching = TreeAsIs ? "as-is" : variant + "\n" + File.ReadAllText(patch);
        var key = HarnessCache.Key(["kernel-src", snapshot.Commit ?? "no commit", snapshot.ContentTree, fragmentText, patching]);
        var sourceId = snapshot.Identity.Describe();
        if (ctx.Cache.TryGet("kernel", key) is { } hit)
        {
            ctx.Log.Information("kernel {Variant}: {Tree} already built ({Key})", variant.ToString().ToLowerInvariant(), sourceId, key);
            return Load(variant.ToString().ToLowerInvariant(), hit, key, sourceId);
        }
        return await BuildTreeAsync(new TreeBuild(variant, userSource, patch, key, sourceId, TreeAsIs) { Snapshot = snapshot }, ct);
    }

    /// <summary>One kernel to build: from which tree, with which patch handling, under which cache key.</summary>
    private sealed record TreeBuild(KernelVariant Variant, string Tree, string Patch, string Key, string SourceId, bool TreeAsIs)
    {
        /// <summary>The tree's snapshot when the caller already took it (it keyed the kernel by it).</summary>
        public KernelTree.Snapshot? Snapshot { get; init; }

        /// <summary>A tree the harness chose (a line's Debian source), not the user's: what it lacks is the harness's problem.</summary>
        public bool Harness { get; init; }

        public string Name => Variant.ToString().ToLowerInvariant();
    }

    /// <summary>
    /// Checks the tree's snapshot out into the source folder its kernel version and config share (only files whose
    /// content differs are written), makes the variant (patch applied or reverted there, unless the tree is tested
    /// as it is) and builds out of tree into the build folder kept between runs, so a one-line change rebuilds one
    /// object and relinks, and switching trees rebuilds only what differs between them.
    /// </summary>
    private async Task<KernelBuild> BuildTreeAsync(TreeBuild job, CancellationToken ct)
    {
        var runner = ctx.Runner("kernel");
        var trees = new KernelTree(runner, ctx.Cache);
        var ws = trees.WorkspaceOf(job.Tree, ConfigInputs());
        // One build at a time per tree (its snapshot) and per shared build folder; always in this order.
        using var treeLock = await ctx.Cache.LockAsync("kernel-src-" + Path.GetFileName(ws.Root), TimeSpan.FromMinutes(90), ct);
        using var buildLock = await ctx.Cache.LockAsync("kernel-build-" + Path.GetFileName(ws.BuildRoot), TimeSpan.FromMinutes(90), ct);
        if (ctx.Cache.TryGet("kernel", job.Key) is { } hit) return Load(job.Name, hit, job.Key, job.SourceId);

        var watch = Stopwatch.StartNew();
        Directory.CreateDirectory(ws.BuildRoot);
        Directory.SetLastWriteTimeUtc(ws.BuildRoot, DateTime.UtcNow); // its last use, for the bound on build trees
        await new BuildTreeBound(ctx.Cache, ctx.Log) { Keep = CacheBounds.BuildTrees.FromEnvironment() }.PruneAsync(Path.GetFileName(ws.BuildRoot), ct);
        var snapshot = job.Snapshot ?? await trees.SnapshotAsync(job.Tree, ws, ct);
        await trees.CheckoutAsync(ws, snapshot, ct);
        await ConfigureOutOfTreeAsync(runner, ws, job, ct);
        bool? hasFix = job.TreeAsIs ? null : await MatchVariantAsync(runner, ws.Source, job.Patch, job.Variant, ct);
        var (release, buildId) = await MakeAsync(runner, job.Name, ws.Source, ["O=" + ws.Build], ct);
        var output = ctx.Cache.NewTempDir("kernel-" + job.Name);
        CopyOutputs(ws.Build, output);
        Manifest.Write(output, new
        {
            kind = "kernel", key = job.Key, variant = job.Name, release, buildId, source = job.SourceId, commit = snapshot.Commit, contentTree = snapshot.ContentTree,
            dirty = snapshot.Identity.Dirty, patch = job.TreeAsIs ? null : Path.GetFileName(job.Patch), treeAsIs = job.TreeAsIs, treeHadFix = hasFix,
            builtAt = DateTimeOffset.UtcNow, seconds = watch.Elapsed.TotalSeconds,
        });
        var final = ctx.Cache.Commit("kernel", job.Key, output);
        ctx.Log.Information("build kernel {Variant}: {Tree} done in {Seconds:F0} s ({Release}, build id {BuildId})", job.Name, job.SourceId, watch.Elapsed.TotalSeconds, release, buildId);
        return Load(job.Name, final, job.Key, job.SourceId);
    }

    private string PatchUnderTest(string? patchFile)
    {
        // Every caller passes its plan's patch (a case's fix for the line, or --patch): none is the harness's own fault.
        var patch = patchFile ?? throw new InfrastructureException("no patch under test: the run's plan names none");
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
        return new KernelBuild(name, Path.Combine(dir, "bzImage"), Path.Combine(dir, "vmlinux"), Path.Combine(dir, "System.map"), null, release, source, key)
        {
            Config = Path.Combine(dir, "config"),
        };
    }

    /// <summary>
    /// A line's Debian source unpacked once into the cache and never written again: it is a tree like the user's,
    /// snapshotted and checked out into the shared source folder (so the variants' patches never touch it, and what
    /// checks whether a patch applies can read it).
    /// </summary>
    private async Task<string> UnpackDebianSourceAsync(ToolRunner runner, DebianTarball debian, CancellationToken ct)
    {
        // Not a committed entry: integrity records of 75k source files would cost more than they guard.
        var final = DebianSourceEntry(ctx.Cache.Root, debian.SourceId);
        var tree = Path.Combine(final, debian.TopFolder);
        if (File.Exists(Path.Combine(final, "manifest.json"))) return tree;
        using var unpackLock = await ctx.Cache.LockAsync("kernel-source-" + Path.GetFileName(final), TimeSpan.FromMinutes(30), ct);
        if (File.Exists(Path.Combine(final, "manifest.json"))) return tree;
        var output = ctx.Cache.NewTempDir("kernel-source");
        await runner.RunAsync(new ToolCall("unpack " + debian.Package, "tar", ["-xaf", debian.Tarball, "-C", output], output, TimeSpan.FromMinutes(15)), ct);
        Manifest.Write(output, new { kind = "kernel-source", source = debian.SourceId, unpackedAt = DateTimeOffset.UtcNow });
        QemuBuilder.TryDelete(final);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        Directory.Move(output, final);
        return tree;
    }

    private static string DebianSourceEntry(string cacheRoot, string sourceId) =>
        Path.Combine(cacheRoot, "kernel-source", HarnessCache.Key(["kernel-source", sourceId]));

    /// <summary>
    /// Why <paramref name="patch"/> can make no variant of the tree (it neither applies nor is already applied), or
    /// null: checked before anything is built, with dry runs on a copy of only the files the patch touches, taken
    /// from the user's tree as it is now, or the line's Debian source (unpacked in the cache, else its tarball) when
    /// it is already on this machine (a line not yet fetched is checked when it is built).
    /// </summary>
    public static async Task<string?> PatchProblemAsync(string cacheRoot, string? userSource, string patch, CancellationToken ct, KernelLine? line = null)
    {
        var scratch = Directory.CreateTempSubdirectory("qhh-patch-check-").FullName;
        try
        {
            var runner = new ToolRunner(Serilog.Core.Logger.None, Path.Combine(scratch, "patch.log"));
            var copy = Path.Combine(scratch, "tree");
            Directory.CreateDirectory(copy);
            var touched = PatchSeries.TouchedFiles(patch);
            string treeName;
            if (userSource is not null)
            {
                CopyFiles(userSource, copy, touched);
                treeName = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(userSource)));
            }
            else
            {
                // The cache is opened (made) only when it exists: checking a patch makes nothing.
                if (!Directory.Exists(cacheRoot)) cacheRoot = scratch;
                var ctx = new BuildContext(new HarnessCache(cacheRoot), RepoLayout.Discover(), Serilog.Core.Logger.None, scratch);
                var debian = await new LineSources(ctx).LocalAsync(line ?? ctx.Repo.Lines().Default, ct);
                if (debian is null) return null; // the build fetches it and says what is wrong
                treeName = $"{debian.Package} {debian.Version}";
                var unpacked = Path.Combine(DebianSourceEntry(ctx.Cache.Root, debian.SourceId), debian.TopFolder);
                if (Directory.Exists(unpacked)) CopyFiles(unpacked, copy, touched);
                else await ExtractAsync(runner, debian, touched, scratch, copy, ct);
            }
            var (state, failure) = await PatchSeries.TryProbeAsync(runner, copy, patch, ct);
            return state is null ? $"applies to {treeName} neither forward nor in reverse: {failure}" : null;
        }
        finally
        {
            QemuBuilder.TryDelete(scratch);
        }
    }

    private static void CopyFiles(string from, string to, IEnumerable<string> files)
    {
        foreach (var f in files.Where(f => File.Exists(Path.Combine(from, f))))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(to, f))!);
            File.Copy(Path.Combine(from, f), Path.Combine(to, f));
        }
    }

    /// <summary>Only the patch's files out of the tarball (members it lacks are left out: the dry run names them).</summary>
    private static async Task ExtractAsync(ToolRunner runner, DebianTarball debian, IReadOnlyList<string> files, string scratch, string copy,
        CancellationToken ct)
    {
        if (files.Count == 0) return;
        try
        {
            await runner.RunAsync(new ToolCall("tar (the patch's files)", "tar", ["-xaf", debian.Tarball, "-C", scratch, .. files.Select(f => debian.TopFolder + "/" + f)],
                scratch, TimeSpan.FromMinutes(5)).Quietly(), ct);
        }
        catch (ToolFailedException)
        {
            // "Not found in archive": a file the patch creates or expects; what was found is extracted.
        }
        var extracted = Path.Combine(scratch, debian.TopFolder);
        if (Directory.Exists(extracted)) CopyFiles(extracted, copy, files);
    }

    /// <summary>The shared build folder gets its .config once (tinyconfig + the resolved fragment); later builds only rebuild.</summary>
    private async Task ConfigureOutOfTreeAsync(ToolRunner runner, KernelTree.Workspace ws, TreeBuild job, CancellationToken ct)
    {
        var stamp = Path.Combine(ws.Build, ".qhh-configured");
        if (File.Exists(stamp)) return;
        Directory.CreateDirectory(ws.Build);
        string[] outOfTree = ["O=" + ws.Build];
        await runner.RunAsync(new ToolCall("make tinyconfig", "make", [.. outOfTree, "tinyconfig"], ws.Source, TimeSpan.FromMinutes(10)), ct);
        var fragment = ResolveFragment(ws.Source, job);
        var file = Path.Combine(ws.Build, "qhh-fragment.config");
        await File.WriteAllTextAsync(file, fragment, ct);
        await runner.RunAsync(new ToolCall("merge hotplug.config", Path.Combine(ws.Source, "scripts/kconfig/merge_config.sh"),
            ["-m", "-O", ws.Build, Path.Combine(ws.Build, ".config"), file], ws.Build, TimeSpan.FromMinutes(5)), ct);
        await runner.RunAsync(new ToolCall("make olddefconfig", "make", [.. outOfTree, "olddefconfig"], ws.Source, TimeSpan.FromMinutes(10)), ct);
        var notStuck = KernelConfig.NotStuck(fragment, File.ReadAllText(Path.Combine(ws.Build, ".config")));
        if (notStuck.Count > 0)
            throw new InfrastructureException($"the harness's kernel config (images/kernel/hotplug.config + requirements.json) does not hold on "
                + $"{job.SourceId}: {string.Join(", ", notStuck)} after olddefconfig (a dependency the fragment misses for this release)");
        await File.WriteAllTextAsync(stamp, "configured\n", ct);
    }

    /// <summary>
    /// The fragment resolved against the tree's own Kconfig. What the tree cannot give is the tree's problem when the
    /// user chose it (exit 2, naming the tree) and the harness's when it chose it (a line's Debian source: exit 3).
    /// </summary>
    private string ResolveFragment(string source, TreeBuild job)
    {
        var requirements = ConfigRequirements.Load(ctx.Repo.KernelRequirements);
        var resolved = ConfigRequirements.Resolve(File.ReadAllText(ctx.Repo.KernelConfigFragment), requirements, KconfigSymbols.Scan(source), ExtraConfig);
        if (resolved.Missing.Count == 0) return resolved.Text;
        if (job.Harness || job.TreeAsIs) // a bisect's commit that lacks it cannot be judged: skip, not bad
            throw new InfrastructureException($"{job.SourceId} lacks what the harness's config needs: {string.Join("; ", resolved.Missing)}");
        throw new BadInputException(resolved.Missing.Select(m => new InputProblem(InputKind.KernelSource, job.SourceId, $"lacks {m}")).ToList());
    }
}
