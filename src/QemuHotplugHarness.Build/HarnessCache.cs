using System.Security.Cryptography;
using System.Text;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>
/// Built artifacts outside the checkout: <c>$QHH_CACHE</c> (default ~/.cache/qemu-hotplug-harness), one folder
/// per artifact kind and input hash. Entries are built in a temp folder and renamed into place, so a partial
/// build never looks finished.
/// </summary>
public sealed class HarnessCache
{
    public HarnessCache(string? root = null)
    {
        Root = root ?? DefaultRoot();
        Directory.CreateDirectory(Root);
    }

    /// <summary>$QHH_CACHE, else ~/.cache/qemu-hotplug-harness (not created: a reader that only looks makes nothing).</summary>
    public static string DefaultRoot() =>
        Environment.GetEnvironmentVariable("QHH_CACHE") is { Length: > 0 } env
            ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "qemu-hotplug-harness");

    public string Root { get; }

    /// <summary>A stable short key over every input (strings, file contents).</summary>
    public static string Key(IEnumerable<string> parts) => ContentKey.Of(parts);

    public static string FileKey(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)))[..16];

    public string EntryPath(string kind, string key) => Path.Combine(Root, kind, key);

    /// <summary>Where "cache entry damaged, rebuilding" is said (the build's log).</summary>
    public Serilog.ILogger? Log { get; init; }

    /// <summary>Written into every entry at commit: each file's size, and the SHA-256 of those up to <see cref="HashedUpTo"/>.</summary>
    public const string IntegrityFile = "integrity.json";

    /// <summary>Files up to this size are hashed when an entry is used (bzImage, initramfs, System.map); larger ones have their size checked.</summary>
    public const long HashedUpTo = 16L << 20;

    private sealed record FileRecord(long Size, string? Sha256);

    /// <summary>
    /// The finished entry, or null. An entry is finished when its manifest exists; one whose files differ from what was
    /// recorded at commit (a truncated bzImage, a lost manifest) is damaged: it is said in the log and moved out of the
    /// way, and null tells the builder to build it again. Entries committed before integrity records existed are trusted.
    /// </summary>
    public string? TryGet(string kind, string key)
    {
        var dir = EntryPath(kind, key);
        if (!Directory.Exists(dir)) return null;
        if (Damage(dir) is not { } damage) return dir;
        Log?.Warning("cache: {Kind} entry {Key} is damaged ({Damage}): rebuilding it", kind, key, damage);
        Discard(dir);
        return null;
    }

    /// <summary>What is wrong with an entry's files, or null when they are as committed.</summary>
    public static string? Damage(string dir)
    {
        if (!File.Exists(Path.Combine(dir, "manifest.json"))) return "no manifest.json";
        var integrity = Path.Combine(dir, IntegrityFile);
        if (!File.Exists(integrity)) return null;
        Dictionary<string, FileRecord>? files;
        try { files = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, FileRecord>>(File.ReadAllText(integrity)); }
        catch (System.Text.Json.JsonException) { return $"{IntegrityFile} is unreadable"; }
        if (files is null) return $"{IntegrityFile} is empty";
        foreach (var (name, record) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var path = Path.Combine(dir, name);
            if (!File.Exists(path)) return $"{name} is missing";
            var size = new FileInfo(path).Length;
            if (size != record.Size) return $"{name} is {size} bytes, {record.Size} when committed";
            if (record.Sha256 is { } hash && Sha256(path) != hash) return $"{name} does not have the SHA-256 it had when committed";
        }
        return null;
    }

    private static string Sha256(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    /// <summary>Records every file's size (and hash, when small) in the entry being committed.</summary>
    private static void WriteIntegrity(string builtDir)
    {
        var files = Directory.GetFiles(builtDir, "*", SearchOption.AllDirectories)
            .Where(f => !new FileInfo(f).Attributes.HasFlag(FileAttributes.ReparsePoint))
            .ToDictionary(f => Path.GetRelativePath(builtDir, f), f =>
            {
                var size = new FileInfo(f).Length;
                return new FileRecord(size, size <= HashedUpTo ? Sha256(f) : null);
            });
        File.WriteAllText(Path.Combine(builtDir, IntegrityFile), System.Text.Json.JsonSerializer.Serialize(files));
    }

    /// <summary>Moves a damaged entry aside (one atomic rename, so nobody sees it half deleted) and deletes it.</summary>
    private void Discard(string dir)
    {
        var aside = Path.Combine(Root, "tmp", $"damaged-{Path.GetFileName(dir)}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(aside)!);
            Directory.Move(dir, aside);
            Directory.Delete(aside, recursive: true);
        }
        catch (IOException)
        {
            // Another process moved it first, or is rebuilding it: the commit that follows sorts it out.
        }
    }

    /// <summary>A fresh private temp folder inside the cache (same file system, so the final rename is atomic).</summary>
    public string NewTempDir(string prefix)
    {
        var dir = Path.Combine(Root, "tmp", $"{prefix}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Moves a finished build folder into place; a concurrent winner is kept.</summary>
    public string Commit(string kind, string key, string builtDir)
    {
        var final = EntryPath(kind, key);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        WriteIntegrity(builtDir);
        if (Directory.Exists(final)) _ = TryGet(kind, key); // a damaged entry in the way is moved aside (and said)
        try
        {
            Directory.Move(builtDir, final);
        }
        catch (IOException) when (TryGet(kind, key) is not null)
        {
            Directory.Delete(builtDir, recursive: true);
        }
        return final;
    }

    /// <summary>An exclusive lock on a name (e.g. a kernel tree shared by the two variants), released on dispose.</summary>
    public async Task<IDisposable> LockAsync(string name, TimeSpan timeout, CancellationToken ct)
    {
        var path = Path.Combine(Root, "locks", name + ".lock");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(500, ct);
            }
            catch (IOException e)
            {
                throw new Scenarios.InfrastructureException($"cache lock {path} is held by another build for over {timeout.TotalMinutes:F0} min", e);
            }
        }
    }
}
