using QemuHotplugHarness.Build;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Build;

/// <summary>The bounds on growing cache kinds: the environment variables, and kernel build trees pruned around a build in progress.</summary>
public class CacheBoundTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("qhh-bound-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Each_bound_comes_from_its_variable_and_a_bad_value_is_bad_input()
    {
        Assert.Multiple(() =>
        {
            Assert.That(CacheBounds.All.Select(b => (b.Variable, b.Default)), Is.EqualTo(new[] { ("QHH_SNAPSHOT_KEEP", 100), ("QHH_BUILD_TREES_KEEP", 6) }));
            Assert.That(CacheBounds.Snapshots.Parse(null), Is.EqualTo(100));
            Assert.That(CacheBounds.BuildTrees.Parse("12"), Is.EqualTo(12));
            foreach (var bad in new[] { "0", "-3", "lots", "1.5" })
                Assert.That(Assert.Throws<BadInputException>(() => CacheBounds.BuildTrees.Parse(bad))!.Message,
                    Is.EqualTo($"QHH_BUILD_TREES_KEEP={bad}: not a whole number of kernel build trees to keep (at least 1)"), bad);
        });
    }

    [Test]
    public async Task Beyond_the_number_kept_the_least_recently_used_build_trees_go_except_one_a_build_holds()
    {
        var cache = new HarnessCache(_dir);
        var root = Path.Combine(_dir, "kernel-build");
        foreach (var (key, minutesAgo) in new[] { ("old", 50), ("busy", 40), ("mid", 30), ("new", 10), ("current", 60) })
        {
            var tree = Directory.CreateDirectory(Path.Combine(root, key, "build")).Parent!;
            Directory.SetLastWriteTimeUtc(tree.FullName, DateTime.UtcNow.AddMinutes(-minutesAgo));
        }
        using (await cache.LockAsync("kernel-build-busy", TimeSpan.Zero, CancellationToken.None))
        {
            var gone = await new BuildTreeBound(cache, Serilog.Core.Logger.None) { Keep = 2 }.PruneAsync("current", CancellationToken.None);
            Assert.That(gone, Is.EquivalentTo(new[] { "old", "mid" }), "the current tree and the most recently used stay; a tree a build holds is not removed");
        }
        Assert.That(Directory.EnumerateDirectories(root).Select(Path.GetFileName), Is.EquivalentTo(new[] { "busy", "current", "new" }));
        var later = await new BuildTreeBound(cache, Serilog.Core.Logger.None) { Keep = 2 }.PruneAsync("current", CancellationToken.None);
        Assert.That(later, Is.EqualTo(new[] { "busy" }), "once its build is done, it goes too");
    }
}
