namespace QemuHotplugHarness.Tests.Ci;

/// <summary>
/// The actions the nightly workflow uses, done here the way they behave on GitHub, on folders: the checkout is the
/// working tree's files (tracked and untracked, as git sees them); setup-dotnet is the SDK already here; the harness
/// cache is the one folder every job shares (<c>$QHH_CACHE</c>: restored when its entries are there, saved by being
/// there); other cache entries and artifacts are folders under the run's scratch folder. An action not listed is an error.
/// </summary>
public sealed class WorkflowActions(string repo, IReadOnlyList<string> repoFiles, string sharedCache, string cacheStore, string artifacts)
{
    /// <summary>Runs one <c>uses:</c> step in <paramref name="workspace"/>; returns its outputs.</summary>
    public Dictionary<string, string> Run(string uses, IReadOnlyDictionary<string, string> with, string workspace)
    {
        var action = uses.Split('@')[0];
        return action switch
        {
            "actions/checkout" => Checkout(workspace),
            "actions/setup-dotnet" => [],
            "actions/cache/restore" => Restore(with, workspace),
            "actions/cache/save" => Save(with, workspace),
            "actions/upload-artifact" => Upload(with, workspace),
            "actions/download-artifact" => Download(with, workspace),
            _ => throw new NotSupportedException($"the workflow uses {uses}, which WorkflowActions does not emulate"),
        };
    }

    /// <summary>Copies the files that differ (size or time), keeping their times, so an unchanged tree stays built.</summary>
    private Dictionary<string, string> Checkout(string workspace)
    {
        foreach (var file in repoFiles)
        {
            var (from, to) = (Path.Combine(repo, file), Path.Combine(workspace, file));
            if (!File.Exists(from)) continue; // deleted in the working tree but not yet in the index
            var source = new FileInfo(from);
            if (File.Exists(to) && new FileInfo(to) is var target && target.Length == source.Length && target.LastWriteTimeUtc == source.LastWriteTimeUtc)
                continue;
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(from, to, overwrite: true);
            File.SetLastWriteTimeUtc(to, source.LastWriteTimeUtc);
        }
        return [];
    }

    private static string[] Paths(IReadOnlyDictionary<string, string> with) =>
        with["path"].Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private bool Shared(IReadOnlyDictionary<string, string> with) =>
        Paths(with).All(p => Path.GetFullPath(p).StartsWith(Path.GetFullPath(sharedCache) + "/", StringComparison.Ordinal));

    private Dictionary<string, string> Restore(IReadOnlyDictionary<string, string> with, string workspace)
    {
        if (Shared(with)) return Hit(Paths(with).All(Directory.Exists), with);
        var entry = Entry(with["key"]) ?? RestoreKey(with);
        if (entry is not null)
            foreach (var path in Paths(with)) CopyTree(Path.Combine(entry, path), Path.Combine(workspace, path));
        return Hit(entry is not null && Path.GetFileName(entry) == with["key"], with);
    }

    private Dictionary<string, string> Hit(bool hit, IReadOnlyDictionary<string, string> with)
    {
        if (!hit && with.GetValueOrDefault("fail-on-cache-miss") == "true") throw new StepFailedException($"cache miss for {with["key"]}");
        return new() { ["cache-hit"] = hit ? "true" : "false" };
    }

    private string? Entry(string key) => Directory.Exists(Path.Combine(cacheStore, key)) ? Path.Combine(cacheStore, key) : null;

    /// <summary>The newest entry whose key starts with a restore key.</summary>
    private string? RestoreKey(IReadOnlyDictionary<string, string> with)
    {
        if (!with.TryGetValue("restore-keys", out var keys) || !Directory.Exists(cacheStore)) return null;
        var prefixes = keys.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return prefixes.Select(prefix => Directory.GetDirectories(cacheStore).Where(d => Path.GetFileName(d).StartsWith(prefix, StringComparison.Ordinal))
            .OrderByDescending(Directory.GetCreationTimeUtc).FirstOrDefault()).FirstOrDefault(d => d is not null);
    }

    private Dictionary<string, string> Save(IReadOnlyDictionary<string, string> with, string workspace)
    {
        if (Shared(with)) return [];
        var entry = Path.Combine(cacheStore, with["key"]);
        if (Directory.Exists(entry)) throw new StepFailedException($"cache entry {with["key"]} exists already");
        foreach (var path in Paths(with)) CopyTree(Path.Combine(workspace, path), Path.Combine(entry, path));
        return [];
    }

    private Dictionary<string, string> Upload(IReadOnlyDictionary<string, string> with, string workspace)
    {
        var from = Path.Combine(workspace, with["path"]);
        if (!Directory.Exists(from) && !File.Exists(from) && with.GetValueOrDefault("if-no-files-found") == "error")
            throw new StepFailedException($"upload-artifact: nothing at {with["path"]}");
        var to = Path.Combine(artifacts, with["name"]);
        if (Directory.Exists(to)) throw new StepFailedException($"artifact {with["name"]} uploaded twice");
        if (File.Exists(from)) // one file: the artifact holds it at its root
        {
            Directory.CreateDirectory(to);
            File.Copy(from, Path.Combine(to, Path.GetFileName(from)));
        }
        CopyTree(from, to);
        return [];
    }

    private Dictionary<string, string> Download(IReadOnlyDictionary<string, string> with, string workspace)
    {
        var to = Path.Combine(workspace, with.GetValueOrDefault("path") ?? ".");
        if (with.TryGetValue("name", out var name))
        {
            if (!Directory.Exists(Path.Combine(artifacts, name))) throw new StepFailedException($"no artifact {name}");
            CopyTree(Path.Combine(artifacts, name), to);
            return [];
        }
        var glob = System.Text.RegularExpressions.Regex.Escape(with.GetValueOrDefault("pattern") ?? "*").Replace("\\*", ".*");
        var pattern = new System.Text.RegularExpressions.Regex("^" + glob + "$");
        foreach (var dir in Directory.GetDirectories(artifacts).Where(d => pattern.IsMatch(Path.GetFileName(d))))
            CopyTree(dir, Path.Combine(to, Path.GetFileName(dir)));
        return [];
    }

    public static void CopyTree(string from, string to)
    {
        if (!Directory.Exists(from)) return;
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }
}

/// <summary>A step that failed: the job fails, and later steps run only when their <c>if:</c> says so.</summary>
public sealed class StepFailedException(string message) : Exception(message);
