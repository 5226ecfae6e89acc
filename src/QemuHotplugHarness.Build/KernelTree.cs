using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>Where a kernel's source came from.</summary>
public enum TreeKind { DebianPackage, Git, Folder }

/// <summary>
/// What a kernel tree is, as reports name it: a Debian package and its version, a git repository's remote, commit
/// and dirty flag, or a plain folder.
/// </summary>
/// <remarks>Positional with more than six fields: one parameter per fact a report may print, most of them optional.</remarks>
public sealed record TreeIdentity(TreeKind Kind, string Name, string? Version, string? Path, string? RemoteUrl, string? Commit, bool Dirty)
{
    public static TreeIdentity Debian(string package, string version) => new(TreeKind.DebianPackage, package, version, null, null, null, false);

    /// <summary>"linux-source-6.1 6.1.158-1 (Debian package)", "linux @ 1a2b3c4d5e6f-dirty (https://…)", "/src/linux (folder)".</summary>
    public string Describe() => Kind switch
    {
        TreeKind.DebianPackage => $"{Name} {Version} (Debian package)",
        TreeKind.Git => $"{Name} @ {Commit?[..Math.Min(12, Commit.Length)]}{(Dirty ? "-dirty" : "")} ({RemoteUrl ?? Path})",
        _ => $"{Path} (folder)",
    };
}

/// <summary>
/// The user's kernel tree (<c>--kernel-src</c>), read but never written: no build output, no clean, no copy, no
/// git index refresh (every git call on it runs with <c>--no-optional-locks</c>). Its content is snapshotted into a
/// git repository of the harness's own in the cache (objects borrowed from the user's repository through git
/// alternates, so a kernel checkout costs nothing), keyed by the tree git computes over every file — commit plus
/// uncommitted changes plus untracked files, or a plain folder's content — and checked out into a source folder
/// of the harness, which is built out of tree (<c>make O=</c>) into a build folder kept between runs.
/// The source and build folders belong to a kernel version and config, not to one tree: every tree of that version
/// (Debian's linux-source, the user's checkouts, the commits a bisect visits) is checked out into the same source
/// folder, which rewrites only the files whose content differs, so make rebuilds those and nothing else.
/// </summary>
public sealed class KernelTree(ToolRunner runner, HarnessCache cache)
{
    private static readonly string[] Marks = ["Makefile", "Kconfig", "arch/x86/Kconfig", "scripts/kconfig/merge_config.sh", "mm/sparse.c"];

    /// <summary>
    /// Where one tree is read and built: <paramref name="Root"/> is the tree's own (its snapshot repository, keyed by
    /// its path: git's stat cache of that tree); <paramref name="BuildRoot"/> is shared by every tree of one kernel
    /// version and config (the checkout repository, the source folder, the build folder).
    /// </summary>
    public sealed record Workspace(string Root, string BuildRoot)
    {
        public string Snapshot => System.IO.Path.Combine(Root, "snapshot.git");
        public string CheckoutGit => System.IO.Path.Combine(BuildRoot, "checkout.git");
        public string Source => System.IO.Path.Combine(BuildRoot, "src");
        public string Build => System.IO.Path.Combine(BuildRoot, "build");
    }

    /// <summary>What the tree held when it was read: the commit (git trees), the content tree, how reports name it.</summary>
    public sealed record Snapshot(string ContentTree, string? Commit, TreeIdentity Identity);

    /// <summary>Throws (exit 2, one line) unless <paramref name="dir"/> looks like a Linux kernel tree.</summary>
    public static void Validate(string dir)
    {
        if (Problem(dir) is { } problem) throw new BadInputException(InputKind.KernelSource, dir, problem);
    }

    /// <summary>Why DIR is not a kernel tree the harness can build, or null when it is one.</summary>
    public static string? Problem(string dir)
    {
        if (!Directory.Exists(dir)) return "no such directory";
        var missing = Marks.Where(m => !File.Exists(System.IO.Path.Combine(dir, m))).ToList();
        return missing.Count > 0 ? $"not a Linux kernel tree (no {string.Join(", ", missing)})" : null;
    }

    public static bool IsGit(string dir) => Path.Exists(System.IO.Path.Combine(dir, ".git"));

    /// <summary>
    /// The cache folders of one tree (by its full path) and of the build it shares with every tree of its kernel
    /// version (from its Makefile) and <paramref name="config"/> (the config fragment's text).
    /// </summary>
    public Workspace WorkspaceOf(string dir, string config = "") => new(
        cache.EntryPath("kernel-src", HarnessCache.Key(["kernel-src", Path.GetFullPath(dir)])),
        cache.EntryPath("kernel-build", HarnessCache.Key(["kernel-build", KernelVersion(dir), config])));

    /// <summary>"6.1" from the Makefile's VERSION and PATCHLEVEL lines; "unknown" when they are not there.</summary>
    public static string KernelVersion(string dir)
    {
        var makefile = System.IO.Path.Combine(dir, "Makefile");
        if (!File.Exists(makefile)) return "unknown";
        string? Field(string name) => File.ReadLines(makefile).Take(20).Select(l => l.Split('=', 2))
            .FirstOrDefault(p => p.Length == 2 && p[0].Trim() == name)?[1].Trim();
        return Field("VERSION") is { Length: > 0 } v && Field("PATCHLEVEL") is { Length: > 0 } p ? v + "." + p : "unknown";
    }

    /// <summary>How reports name the tree, without snapshotting it (git: HEAD, origin, whether anything differs from HEAD).</summary>
    public async Task<TreeIdentity> IdentifyAsync(string dir, CancellationToken ct)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        if (!IsGit(full)) return new TreeIdentity(TreeKind.Folder, Path.GetFileName(full), null, full, null, null, false);
        var head = (await UserGitAsync(full, ct, "rev-parse", "HEAD")).Trim();
        var status = await UserGitAsync(full, ct, "status", "--porcelain");
        return new TreeIdentity(TreeKind.Git, Path.GetFileName(full), null, full, await RemoteAsync(full, ct), head, status.Trim().Length > 0);
    }

    /// <summary>Reads the user's tree into the workspace's snapshot repository: its content tree and commit.</summary>
    public async Task<Snapshot> SnapshotAsync(string dir, Workspace ws, CancellationToken ct)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        var git = IsGit(full);
        string? commit = null;
        var alternates = new List<string>();
        if (git)
        {
            commit = (await UserGitAsync(full, ct, "rev-parse", "HEAD")).Trim();
            var common = (await UserGitAsync(full, ct, "rev-parse", "--path-format=absolute", "--git-common-dir")).Trim();
            alternates.Add(Path.Combine(common, "objects"));
        }
        await InitAsync(ws.Snapshot, alternates, ct);
        // The index becomes HEAD's tree, keeping the stat data of entries that did not change (--reset, never -u: the
        // work tree here is the user's and is not written), so only files that changed are read and hashed again.
        if (commit is not null) await SnapGitAsync(ws.Snapshot, full, ct, "read-tree", "--reset", commit);
        // A git tree: what git status sees (tracked files as they are now, untracked ones .gitignore does not hide). A
        // folder: every file (Debian's linux-source .gitignore hides everything at the top level); an in-tree build is refused below.
        await SnapGitAsync(ws.Snapshot, full, ct, git ? ["add", "--all", "."] : ["add", "--all", "--force", "."]);
        var tree = (await SnapGitAsync(ws.Snapshot, full, ct, "write-tree")).Trim();
        var headTree = commit is null ? null : (await SnapGitAsync(ws.Snapshot, full, ct, "rev-parse", commit + "^{tree}")).Trim();
        var inTree = await SnapGitAsync(ws.Snapshot, full, ct, "ls-tree", "--name-only", tree, ".config", "include/config", "include/generated", "vmlinux");
        if (inTree.Trim().Length > 0)
            throw new BadInputException(InputKind.KernelSource, dir, "holds an in-tree build (.config, include/generated, vmlinux); the harness builds out of tree and never cleans your tree: run 'make mrproper' there");
        var identity = git
            ? new TreeIdentity(TreeKind.Git, Path.GetFileName(full), null, full, await RemoteAsync(full, ct), commit, tree != headTree)
            : new TreeIdentity(TreeKind.Folder, Path.GetFileName(full), null, full, null, null, false);
        return new Snapshot(tree, commit, identity);
    }

    /// <summary>
    /// Makes the workspace's source folder hold exactly <paramref name="snapshot"/>: only files whose content differs
    /// are written (with the current time, so make rebuilds them and nothing else); anything else there is removed.
    /// </summary>
    public async Task CheckoutAsync(Workspace ws, Snapshot snapshot, CancellationToken ct)
    {
        // The snapshot's objects first, then those of the trees checked out here before (still on disk): the index
        // may name their blobs.
        var alternates = ReadAlternates(ws.Snapshot);
        alternates.Insert(0, Path.Combine(ws.Snapshot, "objects"));
        alternates.AddRange(ReadAlternates(ws.CheckoutGit).Where(Directory.Exists));
        await InitAsync(ws.CheckoutGit, alternates.Distinct(StringComparer.Ordinal).ToList(), ct);
        Directory.CreateDirectory(ws.Source);
        await SnapGitAsync(ws.CheckoutGit, ws.Source, ct, "read-tree", "--reset", "-u", snapshot.ContentTree);
        await SnapGitAsync(ws.CheckoutGit, ws.Source, ct, "clean", "-f", "-d", "-x", "-q");
    }

    private static List<string> ReadAlternates(string gitDir)
    {
        var file = Path.Combine(gitDir, "objects", "info", "alternates");
        return File.Exists(file) ? File.ReadAllLines(file).Where(l => l.Length > 0).ToList() : [];
    }

    private async Task InitAsync(string gitDir, IReadOnlyList<string> alternates, CancellationToken ct)
    {
        if (!File.Exists(Path.Combine(gitDir, "HEAD")))
            await runner.RunAsync(new ToolCall("git init (cache)", "git", ["init", "-q", "--bare", gitDir], cache.Root, TimeSpan.FromMinutes(1)).Quietly(), ct);
        var file = Path.Combine(gitDir, "objects", "info", "alternates");
        var text = string.Concat(alternates.Select(a => a + "\n"));
        if (!File.Exists(file) || File.ReadAllText(file) != text) await File.WriteAllTextAsync(file, text, ct);
    }

    /// <summary>git on the user's repository, read-only: never refreshes or locks its index.</summary>
    private Task<string> UserGitAsync(string dir, CancellationToken ct, params string[] args) =>
        runner.RunAsync(new ToolCall("git " + args[0] + " (your tree)", "git", ["--no-optional-locks", "-C", dir, .. args], dir, TimeSpan.FromMinutes(10)).Quietly(), ct);

    /// <summary>git on one of the harness's repositories, with <paramref name="workTree"/> as its work tree.</summary>
    private Task<string> SnapGitAsync(string gitDir, string workTree, CancellationToken ct, params string[] args) => SnapGitAsync(gitDir, workTree, ct, (IReadOnlyList<string>)args);

    private Task<string> SnapGitAsync(string gitDir, string workTree, CancellationToken ct, IReadOnlyList<string> args) =>
        runner.RunAsync(new ToolCall("git " + args[0] + " (snapshot)", "git",
            ["--git-dir=" + gitDir, "--work-tree=" + workTree, "-c", "core.bare=false", "-c", "core.autocrlf=false", "-c", "core.safecrlf=false", "-c", "gc.auto=0", "-c", "maintenance.auto=false", .. args],
            workTree, TimeSpan.FromMinutes(20)).Quietly(), ct);

    private async Task<string?> RemoteAsync(string dir, CancellationToken ct)
    {
        try
        {
            var url = (await UserGitAsync(dir, ct, "remote", "get-url", "origin")).Trim();
            return url.Length == 0 ? null : url;
        }
        catch (ToolFailedException)
        {
            return null;
        }
    }
}
