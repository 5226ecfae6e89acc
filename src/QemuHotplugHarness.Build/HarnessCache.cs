using System.Security.Cryptography;
using System.Text;

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
        var env = Environment.GetEnvironmentVariable("QHH_CACHE");
        Root = root ?? (string.IsNullOrEmpty(env)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "qemu-hotplug-harness")
            : env);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    /// <summary>A stable short key over every input (strings, file contents).</summary>
    public static string Key(IEnumerable<string> parts)
    {
        using var sha = SHA256.Create();
        foreach (var p in parts)
        {
            var bytes = Encoding.UTF8.GetBytes(p);
            sha.TransformBlock(BitConverter.GetBytes(bytes.Length), 0, 4, null, 0);
            sha.TransformBlock(bytes, 0, bytes.Length, null, 0);
        }
        sha.TransformFinalBlock([], 0, 0);
        return Convert.ToHexStringLower(sha.Hash!)[..16];
    }

    public static string FileKey(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)))[..16];

    public string EntryPath(string kind, string key) => Path.Combine(Root, kind, key);

    /// <summary>The finished entry, or null. An entry is finished when its manifest exists.</summary>
    public string? TryGet(string kind, string key)
    {
        var dir = EntryPath(kind, key);
        return File.Exists(Path.Combine(dir, "manifest.json")) ? dir : null;
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
