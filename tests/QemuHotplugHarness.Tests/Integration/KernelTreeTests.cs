using System.Diagnostics;
using System.Text;
using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Tests.Integration;

/// <summary>
/// Kernels from a user's git tree (<c>--kernel-src</c>): built out of tree, keyed by what they were built from, the
/// tree never touched; and git bisect driven by the harness over a small history. The history starts from Debian's
/// linux-source-6.1 and kernels of one version and config share one source and build folder, so these builds are
/// incremental after the harness's own kernels (or the first of them is the one full build of a cold run).
/// </summary>
[TestFixture]
[Category("HostTools")]
[NonParallelizable]
public class KernelTreeTests
{
    private const string SparseInit = "void __init sparse_init(void)\n{\n";
    private LinuxHistory _history = null!;
    private BuildContext _ctx = null!;
    private Serilog.Core.Logger _log = null!;
    private string _dir = "";

    [OneTimeSetUp]
    public async Task MakeTheHistory()
    {
        if (!File.Exists(LinuxHistory.Tarball)) Assert.Ignore($"{LinuxHistory.Tarball} is not installed (run.ps1 setup installs linux-source-6.1)");
        foreach (var (tool, package) in new[] { ("git", "git"), ("make", "make"), ("gcc", "gcc"), ("patch", "patch"), ("readelf", "binutils") })
            HostTools.Require(tool, package);
        _dir = Directory.CreateTempSubdirectory("qhh-trees-").FullName;
        _log = new LoggerConfiguration().MinimumLevel.Information()
            .WriteTo.Sink(new ProgressSink()).CreateLogger();
        _ctx = BuildContext.Create(_log, _dir);
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(30));
        var watch = Stopwatch.StartNew();
        _history = await LinuxHistory.GetAsync(_ctx.Cache, Patch, cts.Token);
        TestContext.Progress.WriteLine($"kernel history ready in {watch.Elapsed.TotalSeconds:F0} s: {_history.Dir}");
    }

    [OneTimeTearDown]
    public async Task TearDown()
    {
        if (_history is not null) await _history.ResetAsync(CancellationToken.None);
        _log?.Dispose();
        TestContext.Progress.WriteLine($"kernel tree test logs: {_dir}");
    }

    /// <summary>Each test starts on the branch tip with nothing changed (a bisect ends on the commit it named).</summary>
    [SetUp]
    public Task OnTheTip() => _history.ResetAsync(CancellationToken.None);

    private static string Patch => Path.Combine(RepoLayout.Discover().Root, "cases", "early-section-memmap", "fix-6.1.patch");

    [Test]
    public async Task Two_edits_to_an_already_modified_file_make_two_kernels_and_leave_the_tree_untouched()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(60));
        var sparse = Path.Combine(_history.Dir, "mm/sparse.c");
        var original = await File.ReadAllTextAsync(sparse, cts.Token);
        Assert.That(original, Does.Contain(SparseInit));
        try
        {
            await File.WriteAllTextAsync(sparse, original.Replace(SparseInit, SparseInit + "\tpr_info(\"qhh tree test: edit one\\n\");\n"), cts.Token);
            var (first, firstSeconds) = await BuildUntouchedAsync(cts.Token);
            // The same file, already modified, edited again: same names in git status, different content.
            await File.WriteAllTextAsync(sparse, original.Replace(SparseInit, SparseInit + "\tpr_info(\"qhh tree test: edit two\\n\");\n"), cts.Token);
            var (second, secondSeconds) = await BuildUntouchedAsync(cts.Token);
            TestContext.Progress.WriteLine($"first edit: {first.Release} build id {BuildId(first)} ({firstSeconds:F0} s); " +
                                           $"second edit: {second.Release} build id {BuildId(second)} ({secondSeconds:F0} s)");

            Assert.That(second.Key, Is.Not.EqualTo(first.Key), "two different edits never share a kernel");
            Assert.That(BuildId(second), Is.Not.EqualTo(BuildId(first)), "two kernels with two build ids");
            Assert.That(Contains(first.Vmlinux!, "qhh tree test: edit one"), Is.True, "the first kernel was built from the first edit");
            Assert.That(Contains(second.Vmlinux!, "qhh tree test: edit two"), Is.True, "the second kernel was built from the second edit");
            Assert.That(Contains(second.Vmlinux!, "qhh tree test: edit one"), Is.False, "the second kernel holds nothing of the first edit");

            var (again, _) = await BuildUntouchedAsync(cts.Token);
            Assert.That(again.Key, Is.EqualTo(second.Key), "the same tree twice is the same kernel");
            Assert.That(BuiltAt(again), Is.EqualTo(BuiltAt(second)), "and it is not built twice");
        }
        finally
        {
            await File.WriteAllTextAsync(sparse, original, CancellationToken.None);
        }
    }

    [Test]
    [Category("RealGuest")]
    public async Task Git_bisect_driven_by_the_harness_names_the_commit_that_reverted_the_fix()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(75));
        var qhh = Path.Combine(AppContext.BaseDirectory, "qhh.dll");
        var artifacts = Path.Combine(_dir, "bisect");
        await _history.Git(cts.Token, "bisect", "start", _history.Tip, _history.Good);
        var watch = Stopwatch.StartNew();
        // The bisect command of docs/commands.md, as written there (with this checkout's qhh.dll).
        var run = await CliWrap.Cli.Wrap("git").WithArguments(["-C", _history.Dir, "bisect", "run", "dotnet", qhh, "reproduce", "--bisect", "--kernel-src", ".", "--artifacts", artifacts])
            .WithWorkingDirectory(_history.Dir).WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(PipeTarget.ToDelegate(l => TestContext.Progress.WriteLine("  bisect: " + l)))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(l => TestContext.Progress.WriteLine("  bisect: " + l)))
            .ExecuteBufferedAsync(cts.Token);
        var log = await _history.Git(cts.Token, "bisect", "log");
        TestContext.Progress.WriteLine($"git bisect run took {watch.Elapsed.TotalSeconds:F0} s:\n{log}");
        Assert.That(run.ExitCode, Is.Zero, "git bisect run finished");
        Assert.That(run.StandardOutput, Does.Contain($"{_history.Reverted} is the first bad commit"));
        Assert.That(log, Does.Contain($"# first bad commit: [{_history.Reverted}]"));
        Assert.That(log, Does.Not.Contain("skip"), "no step was skipped: every commit built and booted");
    }

    /// <summary>Builds the tree's "unpatched" kernel (the tip lacks the fix, so nothing is applied) and checks the tree did not change.</summary>
    private async Task<(KernelBuild Kernel, double Seconds)> BuildUntouchedAsync(CancellationToken ct)
    {
        var before = await TreeState.ReadAsync(_history, ct);
        var watch = Stopwatch.StartNew();
        var kernel = await new KernelBuilder(_ctx).GetAsync(KernelVariant.Unpatched, _history.Dir, Patch, ct);
        var seconds = watch.Elapsed.TotalSeconds;
        var after = await TreeState.ReadAsync(_history, ct);
        Assert.That(after.GitStatus, Is.EqualTo(before.GitStatus), "git status unchanged");
        var changed = before.Files.Split('\n').ToHashSet();
        changed.SymmetricExceptWith(after.Files.Split('\n'));
        Assert.That(changed, Is.Empty, "no file of the tree (or its .git) was added, removed, resized or touched");
        Assert.That(after.Sparse, Is.EqualTo(before.Sparse), "the edited file's content unchanged");
        return (kernel, seconds);
    }

    private static JsonElement Manifest(KernelBuild k) => JsonDocument.Parse(File.ReadAllText(Path.Combine(Path.GetDirectoryName(k.BzImage)!, "manifest.json"))).RootElement;
    private static string? BuildId(KernelBuild k) => Manifest(k).GetProperty("buildId").GetString();
    private static string BuiltAt(KernelBuild k) => Manifest(k).GetProperty("builtAt").GetString()!;

    private static bool Contains(string file, string text)
    {
        var bytes = File.ReadAllBytes(file);
        return bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(text)) >= 0;
    }

    /// <summary>Every file and folder of the tree, .git included (path, size, mtime), git status and the edited file.</summary>
    private sealed record TreeState(string Files, string GitStatus, string Sparse)
    {
        public static async Task<TreeState> ReadAsync(LinuxHistory history, CancellationToken ct)
        {
            var files = new StringBuilder();
            var root = new DirectoryInfo(history.Dir);
            foreach (var e in root.EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
                         .OrderBy(e => e.FullName, StringComparer.Ordinal))
            {
                var path = e.FullName[(root.FullName.Length + 1)..];
                // git freshens (touches) objects it finds in an alternate store: object files keep name and size, not mtime.
                var objectFile = path.StartsWith(".git/objects/", StringComparison.Ordinal) && path.Count(c => c == '/') == 3;
                files.Append(path).Append(' ').Append(e is FileInfo f ? f.Length : -1).Append(' ')
                    .Append(objectFile ? "" : e.LastWriteTimeUtc.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
            }
            var status = await history.Git(ct, "--no-optional-locks", "status", "--porcelain");
            return new TreeState(files.ToString(), status, await File.ReadAllTextAsync(Path.Combine(history.Dir, "mm/sparse.c"), ct));
        }
    }

    private sealed class ProgressSink : Serilog.Core.ILogEventSink
    {
        public void Emit(Serilog.Events.LogEvent e) => TestContext.Progress.WriteLine($"[{e.Timestamp:HH:mm:ss}] {e.RenderMessage()}");
    }
}
