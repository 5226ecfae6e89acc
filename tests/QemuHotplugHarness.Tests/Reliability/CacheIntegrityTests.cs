using QemuHotplugHarness.Build;
using Serilog;

namespace QemuHotplugHarness.Tests.Reliability;

/// <summary>
/// Damaged cache entries (a truncated bzImage, a lost manifest, a flipped byte) are found from what was recorded at
/// commit, said in the log and built again; entries committed at the same time by several builders stay whole.
/// Everything happens in a scratch cache: the shared one is never touched.
/// </summary>
public class CacheIntegrityTests
{
    private string _root = "";
    private HarnessCache _cache = null!;
    private readonly List<string> _log = [];

    [SetUp]
    public void SetUp()
    {
        _root = Directory.CreateTempSubdirectory("qhh-cache-").FullName;
        _log.Clear();
        var logger = new LoggerConfiguration().WriteTo.Sink(new ListSink(_log)).CreateLogger();
        _cache = new HarnessCache(_root) { Log = logger };
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    private sealed class ListSink(List<string> lines) : Serilog.Core.ILogEventSink
    {
        public void Emit(Serilog.Events.LogEvent e)
        {
            var text = new StringWriter();
            new Serilog.Formatting.Display.MessageTemplateTextFormatter("{Message:lj}").Format(e, text);
            lock (lines) lines.Add(text.ToString());
        }
    }

    /// <summary>What a kernel build commits: a bzImage (a scratch copy of the cached one when there is one), vmlinux, a manifest.</summary>
    private string Build(string key, byte seed = 1)
    {
        var dir = _cache.NewTempDir("kernel-test");
        var cached = Directory.Exists(new HarnessCache().EntryPath("kernel", "")) ? Directory.GetFiles(new HarnessCache().EntryPath("kernel", ""), "bzImage", SearchOption.AllDirectories).FirstOrDefault() : null;
        if (cached is not null) File.Copy(cached, Path.Combine(dir, "bzImage"));
        else File.WriteAllBytes(Path.Combine(dir, "bzImage"), Enumerable.Range(0, 1 << 20).Select(i => (byte)(i * 7 + seed)).ToArray());
        File.WriteAllBytes(Path.Combine(dir, "vmlinux"), new byte[HarnessCache.HashedUpTo + 4096]); // big: its size is checked, not its hash
        Manifest.Write(dir, new { kind = "kernel", key, seed });
        return _cache.Commit("kernel", key, dir);
    }

    [Test]
    public void A_whole_entry_is_used()
    {
        var entry = Build("k1");
        Assert.That(File.Exists(Path.Combine(entry, HarnessCache.IntegrityFile)), Is.True, "sizes and hashes recorded at commit");
        Assert.That(_cache.TryGet("kernel", "k1"), Is.EqualTo(entry));
        Assert.That(_log, Is.Empty);
    }

    [TestCase("truncated bzImage", "bzImage is ")]
    [TestCase("missing manifest", "no manifest.json")]
    [TestCase("flipped byte in bzImage", "bzImage does not have the SHA-256")]
    [TestCase("truncated vmlinux", "vmlinux is ")]
    [TestCase("missing bzImage", "bzImage is missing")]
    public void A_damaged_entry_is_detected_said_in_the_log_and_rebuilt(string damage, string said)
    {
        var entry = Build("k2");
        switch (damage)
        {
            case "truncated bzImage": Truncate(Path.Combine(entry, "bzImage")); break;
            case "truncated vmlinux": Truncate(Path.Combine(entry, "vmlinux")); break;
            case "missing manifest": File.Delete(Path.Combine(entry, "manifest.json")); break;
            case "missing bzImage": File.Delete(Path.Combine(entry, "bzImage")); break;
            case "flipped byte in bzImage":
                using (var f = new FileStream(Path.Combine(entry, "bzImage"), FileMode.Open))
                {
                    f.Position = 4242;
                    var b = f.ReadByte();
                    f.Position = 4242;
                    f.WriteByte((byte)~b);
                }
                break;
        }
        Assert.That(_cache.TryGet("kernel", "k2"), Is.Null, "a damaged entry is not used");
        Assert.That(_log, Has.Some.Contains("kernel entry k2 is damaged").And.Some.Contains(said).And.Some.Contains("rebuilding"));
        var rebuilt = Build("k2");
        Assert.That(rebuilt, Is.EqualTo(entry));
        Assert.That(_cache.TryGet("kernel", "k2"), Is.EqualTo(entry), "the rebuilt entry is whole and used");
        Assert.That(Directory.GetFileSystemEntries(Path.Combine(_root, "tmp")), Is.Empty, "the damaged copy and the build folder are gone");
    }

    [Test]
    public void A_lost_manifest_does_not_block_the_commit_of_the_rebuild()
    {
        var entry = Build("k3");
        File.Delete(Path.Combine(entry, "manifest.json"));
        // The builder's own order: TryGet says "build it", the build commits into the place of the damaged folder.
        var rebuilt = Build("k3");
        Assert.That(_cache.TryGet("kernel", "k3"), Is.EqualTo(rebuilt));
        Assert.That(File.Exists(Path.Combine(rebuilt, "manifest.json")), Is.True);
    }

    [Test]
    public void An_entry_committed_before_integrity_records_is_trusted()
    {
        var entry = Build("k4");
        File.Delete(Path.Combine(entry, HarnessCache.IntegrityFile));
        Assert.That(_cache.TryGet("kernel", "k4"), Is.EqualTo(entry), "no rebuild of every entry of an existing cache");
    }

    [Test]
    public async Task Concurrent_builds_of_the_same_entry_leave_one_whole_entry()
    {
        var entries = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => Build("k5", (byte)i))));
        Assert.That(entries.Distinct(), Has.Exactly(1).Items);
        Assert.That(HarnessCache.Damage(entries[0]), Is.Null, "the winner's files match its own record");
        Assert.That(_cache.TryGet("kernel", "k5"), Is.EqualTo(entries[0]));
        Assert.That(Directory.GetFileSystemEntries(Path.Combine(_root, "tmp")), Is.Empty, "the losers' folders are deleted");
    }

    private static void Truncate(string path)
    {
        using var f = new FileStream(path, FileMode.Open);
        f.SetLength(f.Length / 2);
    }
}
