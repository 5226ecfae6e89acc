using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Build;

namespace QemuHotplugHarness.Tests.Integration;

/// <summary>
/// A small kernel git history made from Debian's linux-source-6.1 (which holds the fix): the fix reverted in one
/// commit, unrelated commits around it. Kept in the cache (<c>test-fixtures/</c>) with fixed dates and authors, so
/// the commits have the same ids on every run and a warm run builds nothing.
/// </summary>
public sealed class LinuxHistory
{
    public const string Tarball = "/usr/src/linux-source-6.1.tar.xz";
    private const string Version = "1";

    private LinuxHistory(string dir, IReadOnlyList<string> commits) => (Dir, Commits) = (dir, commits);

    /// <summary>The repository's work tree: the "user's kernel tree" of the tests.</summary>
    public string Dir { get; }

    /// <summary>c0 as Debian ships it (good), c1 and c2 unrelated, c3 reverts the fix (the first bad), c4 and c5 unrelated.</summary>
    public IReadOnlyList<string> Commits { get; }

    public string Good => Commits[0];
    public string Reverted => Commits[3];
    public string Tip => Commits[^1];

    /// <summary>The history (made once, ~3 min: unpack, git add of 75k files), on its branch tip with nothing changed.</summary>
    public static async Task<LinuxHistory> GetAsync(HarnessCache cache, string patch, CancellationToken ct)
    {
        var key = HarnessCache.Key(["linux-history", Version, new FileInfo(Tarball).Length.ToString(), File.ReadAllText(patch)]);
        var root = Path.Combine(cache.Root, "test-fixtures", "linux-history-" + key);
        var dir = Path.Combine(root, "linux");
        var ready = Path.Combine(root, "commits.txt");
        using var held = await cache.LockAsync("test-linux-history", TimeSpan.FromMinutes(30), ct);
        if (!File.Exists(ready))
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
            Directory.CreateDirectory(root);
            await Run("tar", ["-xaf", Tarball, "-C", root], root, ct);
            Directory.Move(Path.Combine(root, "linux-source-6.1"), dir);
            var commits = await MakeHistoryAsync(dir, patch, ct);
            await File.WriteAllLinesAsync(ready, commits, ct);
        }
        var history = new LinuxHistory(dir, await File.ReadAllLinesAsync(ready, ct));
        await history.ResetAsync(ct);
        return history;
    }

    /// <summary>Back to the tip, nothing modified (an earlier run may have stopped mid-bisect or mid-edit).</summary>
    public async Task ResetAsync(CancellationToken ct)
    {
        await Git(Dir, ct, "bisect", "reset");
        await Git(Dir, ct, "checkout", "-q", "-f", "main");
        await Git(Dir, ct, "clean", "-q", "-f", "-d");
    }

    public Task<string> Git(CancellationToken ct, params string[] args) => Git(Dir, ct, args);

    private static async Task<IReadOnlyList<string>> MakeHistoryAsync(string dir, string patch, CancellationToken ct)
    {
        await Git(dir, ct, "init", "-q", "-b", "main");
        var commits = new List<string>();
        async Task Commit(string message)
        {
            // --force: Debian's .gitignore ignores everything at the top level ("/*", its packaging is not in its repository).
            await Git(dir, ct, "add", "-A", "--force");
            await Git(dir, ct, "commit", "-q", "-m", message);
            commits.Add((await Git(dir, ct, "rev-parse", "HEAD")).Trim());
        }
        await Commit("linux-source-6.1 as Debian ships it");
        await Append(dir, "mm/memory_hotplug.c", "/* qhh fixture: an unrelated change to memory hotplug */\n");
        await Commit("mm/memory_hotplug: an unrelated comment");
        await Append(dir, "Documentation/admin-guide/mm/memory-hotplug.rst", "\n.. qhh fixture: an unrelated note\n");
        await Commit("Documentation: memory-hotplug: an unrelated note");
        await Run("patch", ["-p1", "-R", "--batch", "-i", patch], dir, ct);
        await Commit("Revert \"mm/sparse: never partially remove memmap for early section\"");
        await Append(dir, "mm/page_alloc.c", "/* qhh fixture: an unrelated change to the page allocator */\n");
        await Commit("mm/page_alloc: an unrelated comment");
        await Append(dir, "Documentation/admin-guide/mm/index.rst", "\n.. qhh fixture: another unrelated note\n");
        await Commit("Documentation: mm: another unrelated note");
        return commits;
    }

    private static Task Append(string dir, string file, string text) => File.AppendAllTextAsync(Path.Combine(dir, file), text);

    /// <summary>git with a fixed author, committer and date, so the fixture's commit ids never change.</summary>
    public static async Task<string> Git(string dir, CancellationToken ct, params string[] args)
    {
        var result = await CliWrap.Cli.Wrap("git").WithArguments(["-C", dir, "-c", "gc.auto=0", "-c", "maintenance.auto=false", .. args]).WithWorkingDirectory(dir)
            .WithEnvironmentVariables(new Dictionary<string, string?>
            {
                ["GIT_AUTHOR_NAME"] = "QHH Fixture", ["GIT_AUTHOR_EMAIL"] = "fixture@example.invalid", ["GIT_AUTHOR_DATE"] = "2025-01-01T00:00:00Z",
                ["GIT_COMMITTER_NAME"] = "QHH Fixture", ["GIT_COMMITTER_EMAIL"] = "fixture@example.invalid", ["GIT_COMMITTER_DATE"] = "2025-01-01T00:00:00Z",
            })
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(ct);
        // "bisect reset" outside a bisect and similar no-ops are fine; anything else that fails is the fixture's error.
        if (result.ExitCode != 0 && args[0] != "bisect")
            throw new InvalidOperationException($"git {string.Join(' ', args)} failed ({result.ExitCode}): {result.StandardError}{result.StandardOutput}");
        return result.StandardOutput;
    }

    private static async Task Run(string exe, string[] args, string dir, CancellationToken ct)
    {
        var result = await CliWrap.Cli.Wrap(exe).WithArguments(args).WithWorkingDirectory(dir).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(ct);
        if (result.ExitCode != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', args)} failed ({result.ExitCode}): {result.StandardError}");
    }
}
