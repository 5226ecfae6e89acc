using System.Text.Json.Nodes;
using System.Xml.Linq;
using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Cli;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using QemuHotplugHarness.Tests.Orchestration;
using Serilog;

namespace QemuHotplugHarness.Tests.Build;

/// <summary>
/// The user's kernel tree on a small stand-in (the files that make a folder a kernel tree): snapshots keyed by content,
/// the tree never touched, the cache's checkout writing only what changed; bad trees refused; reports naming the change.
/// </summary>
[NonParallelizable]
public class KernelTreeUnitTests
{
    private string _dir = "";
    private ToolRunner _runner = null!;
    private HarnessCache _cache = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("qhh-tree-").FullName;
        _runner = new ToolRunner(new LoggerConfiguration().CreateLogger(), Path.Combine(_dir, "tool.log"));
        _cache = new HarnessCache(Path.Combine(_dir, "cache"));
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string FakeTree(string name)
    {
        var tree = Path.Combine(_dir, name);
        foreach (var f in new[] { "Makefile", "Kconfig", "arch/x86/Kconfig", "scripts/kconfig/merge_config.sh", "mm/sparse.c", "mm/page_alloc.c" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(tree, f))!);
            File.WriteAllText(Path.Combine(tree, f), $"/* {f} */\n");
        }
        File.WriteAllText(Path.Combine(tree, ".gitignore"), "*.o\n.config\n");
        return tree;
    }

    private static async Task Git(string dir, params string[] args)
    {
        var r = await CliWrap.Cli.Wrap("git").WithArguments(["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid", .. args])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        Assert.That(r.ExitCode, Is.Zero, $"git {string.Join(' ', args)}: {r.StandardError}");
    }

    /// <summary>
    /// Every path with its size and mtime, .git included — except the mtimes of git's object files: git "freshens"
    /// (touches) an object it finds in an alternate store instead of writing it again, so the snapshot repository
    /// borrowing the user's objects can refresh their mtimes. Their names and sizes (their content) must not change.
    /// </summary>
    private static string[] State(string dir) =>
        new DirectoryInfo(dir).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(e => (Path: Path.GetRelativePath(dir, e.FullName), Entry: e))
            .Select(p => $"{p.Path} {(p.Entry is FileInfo f ? f.Length : -1)} {(IsObject(p.Path) ? "" : p.Entry.LastWriteTimeUtc.Ticks)}")
            .Order(StringComparer.Ordinal).ToArray();

    private static bool IsObject(string path) => path.StartsWith(".git/objects/", StringComparison.Ordinal) && path.Count(c => c == '/') == 3;

    [Test]
    [Category("HostTools")] // git
    public async Task Every_edit_is_a_new_snapshot_the_same_tree_the_same_one_and_the_tree_is_never_touched()
    {
        HostTools.Require("git", "git");
        var tree = FakeTree("linux");
        await Git(tree, "init", "-q");
        await Git(tree, "add", "-A");
        await Git(tree, "commit", "-q", "-m", "base");
        var trees = new KernelTree(_runner, _cache);
        var ws = trees.WorkspaceOf(tree);
        var sparse = Path.Combine(tree, "mm/sparse.c");
        var ct = CancellationToken.None;

        var clean = await trees.SnapshotAsync(tree, ws, ct);
        File.AppendAllText(sparse, "pr_info(\"one\");\n");
        var before = State(tree);
        var one = await trees.SnapshotAsync(tree, ws, ct);
        Assert.That(State(tree), Is.EqualTo(before), "snapshotting wrote nothing into the tree, its .git included");
        File.WriteAllText(sparse, "/* mm/sparse.c */\npr_info(\"two\");\n"); // the same file, already modified, edited again
        var two = await trees.SnapshotAsync(tree, ws, ct);
        var twoAgain = await trees.SnapshotAsync(tree, ws, ct);
        File.WriteAllText(Path.Combine(tree, "mm/new.c"), "int x;\n");
        var untracked = await trees.SnapshotAsync(tree, ws, ct);
        File.WriteAllText(Path.Combine(tree, "mm/new.c"), "int y;\n");
        var untrackedEdited = await trees.SnapshotAsync(tree, ws, ct);
        File.WriteAllText(Path.Combine(tree, "mm/sparse.o"), "object");
        var ignored = await trees.SnapshotAsync(tree, ws, ct);

        Assert.Multiple(() =>
        {
            Assert.That(new[] { clean, one, two, untracked, untrackedEdited }.Select(s => s.ContentTree), Is.Unique, "every change is a new snapshot");
            Assert.That(twoAgain.ContentTree, Is.EqualTo(two.ContentTree), "the same tree twice is the same snapshot");
            Assert.That(ignored.ContentTree, Is.EqualTo(untrackedEdited.ContentTree), "what .gitignore hides (build output) is not part of the tree");
            Assert.That(clean.Identity.Dirty, Is.False);
            Assert.That(one.Identity.Dirty && two.Identity.Dirty, Is.True);
            Assert.That(one.Commit, Is.EqualTo(clean.Commit).And.Match("^[0-9a-f]{40}$"));
            Assert.That(one.Identity.Describe(), Does.StartWith($"linux @ {clean.Commit![..12]}-dirty ("));
        });
    }

    [Test]
    [Category("HostTools")] // git
    public async Task The_checkout_in_the_cache_rewrites_only_what_changed_and_drops_what_a_patch_left()
    {
        HostTools.Require("git", "git");
        var tree = FakeTree("plain"); // not a git tree: snapshotted whole
        var trees = new KernelTree(_runner, _cache);
        var ws = trees.WorkspaceOf(tree);
        var ct = CancellationToken.None;
        await trees.CheckoutAsync(ws, await trees.SnapshotAsync(tree, ws, ct), ct);
        var pageAlloc = Path.Combine(ws.Source, "mm/page_alloc.c");
        var sparse = Path.Combine(ws.Source, "mm/sparse.c");
        var old = File.GetLastWriteTimeUtc(pageAlloc);
        File.AppendAllText(sparse, "patched by a variant\n");
        File.WriteAllText(Path.Combine(ws.Source, "mm/sparse.c.orig"), "left by patch");

        File.AppendAllText(Path.Combine(tree, "Makefile"), "# edited\n");
        await trees.CheckoutAsync(ws, await trees.SnapshotAsync(tree, ws, ct), ct);

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(Path.Combine(ws.Source, "Makefile")), Does.EndWith("# edited\n"), "the edit reached the build's source");
            Assert.That(File.ReadAllText(sparse), Is.EqualTo("/* mm/sparse.c */\n"), "what a variant's patch changed is back as the tree has it");
            Assert.That(File.Exists(Path.Combine(ws.Source, "mm/sparse.c.orig")), Is.False, "stray files are gone");
            Assert.That(File.GetLastWriteTimeUtc(pageAlloc), Is.EqualTo(old), "an unchanged file is not rewritten: make keeps its object");
        });
    }

    [Test]
    [Category("HostTools")] // git
    public async Task A_plain_folder_with_an_in_tree_build_is_refused_naming_the_fix()
    {
        HostTools.Require("git", "git");
        var tree = FakeTree("built");
        File.Delete(Path.Combine(tree, ".gitignore"));
        File.WriteAllText(Path.Combine(tree, ".config"), "CONFIG_X=y\n");
        var trees = new KernelTree(_runner, _cache);
        var e = (await Assert.ThrowsAsync<BadInputException>(() => trees.SnapshotAsync(tree, trees.WorkspaceOf(tree), CancellationToken.None)))!;
        Assert.That(e.Problems.Single().Input, Is.EqualTo(InputKind.KernelSource));
        Assert.That(e.Problems.Single().Reason, Does.Contain("make mrproper"));
    }

    private static async Task<(int Code, string Stderr)> Run(params string[] args)
    {
        var (code, _, stderr) = await QhhCli.RunAsync(args);
        return (code, stderr);
    }

    [Test]
    public async Task A_folder_that_is_not_a_kernel_tree_is_exit_2_with_one_line_before_anything_starts()
    {
        var notKernel = Path.Combine(_dir, "photos");
        Directory.CreateDirectory(notKernel);
        File.WriteAllText(Path.Combine(notKernel, "Makefile"), "all:\n");
        foreach (var command in new[] { new[] { "build", "kernel" }, ["reproduce", "--bisect"], ["run"] })
        {
            var (code, stderr) = await Run([.. command, "--kernel-src", notKernel, "--artifacts", Path.Combine(_dir, "a")]);
            Assert.That(code, Is.EqualTo(2), stderr);
            Assert.That(stderr.TrimEnd().Split('\n'), Has.Length.EqualTo(1), stderr);
            Assert.That(stderr, Does.StartWith($"qhh: --kernel-src {notKernel}: not a Linux kernel tree (no Kconfig, arch/x86/Kconfig, scripts/kconfig/merge_config.sh, mm/sparse.c)"));
        }
        Assert.That(Directory.Exists(Path.Combine(_dir, "a")), Is.False, "nothing was started");
    }

    [Test]
    [Category("HostTools")] // git, make; the patched QEMU and the image from the cache (built first when missing)
    public async Task Under_bisect_a_commit_that_does_not_build_is_skip_not_bad()
    {
        HostTools.Require("git", "git");
        HostTools.Require("make", "make");
        var tree = FakeTree("broken"); // its Makefile is not one: make tinyconfig fails
        await Git(tree, "init", "-q");
        await Git(tree, "add", "-A");
        await Git(tree, "commit", "-q", "-m", "a commit that does not build");
        try
        {
            var (code, stderr) = await Run("reproduce", "--bisect", "--kernel-src", tree, "--artifacts", Path.Combine(_dir, "a"));
            Assert.That(code, Is.EqualTo(125), stderr);
            Assert.That(stderr, Does.Contain("qhh: bisect: cannot judge this commit (skip): make tinyconfig: make failed"));
        }
        finally
        {
            var ws = new KernelTree(_runner, new HarnessCache()).WorkspaceOf(tree);
            foreach (var dir in new[] { ws.Root, ws.BuildRoot })
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public async Task Artifacts_inside_the_kernel_tree_are_refused()
    {
        var tree = FakeTree("linux");
        var (code, stderr) = await Run("reproduce", "--bisect", "--kernel-src", tree, "--artifacts", Path.Combine(tree, "out"));
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.StartWith($"qhh: --artifacts {Path.Combine(tree, "out")}: inside the kernel tree under test"));
    }

    [Test]
    public void Reports_name_the_patch_by_its_subject_and_the_tree_by_what_it_is()
    {
        var patch = Path.Combine(_dir, "0001-my.patch");
        File.WriteAllText(patch, "From: A Developer <a@example.invalid>\nSubject: [PATCH v3 2/7] mm/sparse: a fix of mine\n\nbody\n---\n");
        var commit = "0123456789abcdef0123456789abcdef01234567";
        var tree = new TreeIdentity(TreeKind.Git, "linux", null, "/src/linux", "https://git.example.org/linux.git", commit, Dirty: true);
        var change = ChangeUnderTest.Of([patch], tree);
        var cell = SeedMatrix.Cells(Scenario.Seed)[1];
        var p = Predictor.Predict(cell.Scenario);
        var o = SeedObservations.Of(cell.Name);
        var summary = new Summary
        {
            Verdict = Verdict.Partial, StartedAt = DateTimeOffset.UnixEpoch, Change = change,
            Cells = [new SummaryCell(cell.Name, 1, cell.Scenario, p, o, true, [], cell.Name + "-1")],
        };
        var run = new RunArtifacts(Path.Combine(_dir, "run"));
        Reports.WriteAll(run, summary, change);

        var kcidb = JsonNode.Parse(File.ReadAllText(run.Kcidb))!;
        var checkout = kcidb["checkouts"]![0]!;
        var junit = XDocument.Load(run.Junit);
        string Property(string name) => junit.Descendants("property").Single(e => (string?)e.Attribute("name") == name).Attribute("value")!.Value;
        Assert.Multiple(() =>
        {
            Assert.That(change.Subject, Is.EqualTo("mm/sparse: a fix of mine"));
            Assert.That(change.TreeText, Is.EqualTo("linux @ 0123456789ab-dirty (https://git.example.org/linux.git)"));
            Assert.That((string?)checkout["comment"], Is.EqualTo("mm/sparse: a fix of mine on linux @ 0123456789ab-dirty (https://git.example.org/linux.git)"));
            Assert.That((string?)checkout["git_commit_hash"], Is.EqualTo(commit));
            Assert.That((string?)checkout["git_repository_url"], Is.EqualTo("https://git.example.org/linux.git"));
            Assert.That((bool?)checkout["misc"]!["dirty"], Is.True);
            Assert.That((string?)kcidb["builds"]![0]!["comment"], Does.Contain("from linux @ 0123456789ab-dirty").And.Contain("patch under test: mm/sparse: a fix of mine"));
            Assert.That(Property("patch"), Is.EqualTo("mm/sparse: a fix of mine"));
            Assert.That(Property("tree"), Is.EqualTo(change.TreeText));
            Assert.That(File.ReadAllText(run.Html), Does.Contain("mm/sparse: a fix of mine").And.Contain("linux @ 0123456789ab-dirty"));
            Assert.That(File.ReadAllText(run.Summary), Does.Contain("\"commit\": \"" + commit + "\""));
        });
        Assert.That(KcidbSchema.Errors(run.Kcidb), Is.Empty);
    }

    [Test]
    public void A_distro_package_and_a_folder_are_named_as_such()
    {
        Assert.That(TreeIdentity.Debian("linux-source-6.1", "6.1.158-1").Describe(), Is.EqualTo("linux-source-6.1 6.1.158-1 (Debian package)"));
        Assert.That(new TreeIdentity(TreeKind.Folder, "linux", null, "/src/linux", null, null, false).Describe(), Is.EqualTo("/src/linux (folder)"));
    }

    [Test]
    public void The_build_id_is_read_from_readelf()
    {
        const string notes = "Displaying notes found in: .notes\n  Owner  Data size \tDescription\n  GNU  0x00000014\tNT_GNU_BUILD_ID (unique build ID bitstring)\n    Build ID: 5f0c2a6d0e0b8b7e1b7f1c7d2a9b4e3c1d0f9a8b\n";
        Assert.That(KernelBuilder.BuildId(notes), Is.EqualTo("5f0c2a6d0e0b8b7e1b7f1c7d2a9b4e3c1d0f9a8b"));
        Assert.That(KernelBuilder.BuildId("no notes"), Is.Null);
    }
}
