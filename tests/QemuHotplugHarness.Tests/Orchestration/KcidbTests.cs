using System.Text.Json.Nodes;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Orchestration;

/// <summary>kcidb.json as a nightly submits it: what KCIDB needs of the checkout, the builds and the tests, valid against v5.3.</summary>
public class KcidbTests
{
    private const string Banner =
        "Linux version 6.1.192 (root@vm) (gcc (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP Fri Dec  4 04:51:29 UTC 2026";

    private const string Commit = "0123456789abcdef0123456789abcdef01234567";
    private const string Remote = "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git";
    private string _dir = "";

    [SetUp]
    public void MakeFolder() => _dir = Directory.CreateTempSubdirectory("qhh-kcidb-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, recursive: true);

    [TestCase(Banner, "gcc (Debian 12.2.0-14+deb12u1) 12.2.0")]
    [TestCase("Linux version 6.12.0 (me@box) (clang version 19.1.7, LLD 19.1.7) #3 SMP PREEMPT_DYNAMIC", "clang version 19.1.7")]
    [TestCase("Linux version 6.1.0 (me@box) #1 SMP", null)]
    public void The_compiler_comes_from_the_kernel_banner(string banner, string? compiler) =>
        Assert.That(Kcidb.CompilerOf(banner), Is.EqualTo(compiler));

    [Test]
    public void A_nightly_kcidb_json_names_origin_checkout_builds_and_tests_and_validates()
    {
        var kcidb = WriteRun();
        var checkout = kcidb["checkouts"]![0]!;
        var (origin, treeName) = ((string?)checkout["origin"], (string?)checkout["tree_name"]);
        Assert.That((origin, treeName, (string?)checkout["git_commit_hash"], (string?)checkout["git_repository_url"]),
            Is.EqualTo(("qemu_hotplug_harness", "linux", Commit, Remote)));
        Assert.That((string?)checkout["patchset_files"]![0]!["name"], Is.EqualTo("fix-6.1.patch"));
        Assert.That((string?)checkout["patchset_hash"], Has.Length.EqualTo(64));
        var build = kcidb["builds"]![0]!;
        Assert.That(((string?)build["origin"], (string?)build["config_name"], (string?)build["compiler"], (string?)build["architecture"]),
            Is.EqualTo(("qemu_hotplug_harness", "tinyconfig+hotplug", "gcc (Debian 12.2.0-14+deb12u1) 12.2.0", "x86_64")));
        var test = kcidb["tests"]![0]!;
        Assert.That(((string?)test["path"], (string?)test["status"], (double?)test["duration"], (string?)test["build_id"]),
            Is.EqualTo(("mm.sparse_hotplug.unpatched_pse_off", "PASS", 95.0, (string?)build["id"])), "the unpatched control oopsed as it predicts");
        Assert.That(test["output_files"]!.AsArray().Select(f => (string?)f!["name"]), Is.EqualTo(new[] { "dmesg.txt", "oops-1.txt" }));
        Assert.That((string?)test["log_excerpt"], Is.EqualTo("BUG: unable to handle kernel paging request in __init_single_page"));
        Assert.That(KcidbSchema.Errors(Path.Combine(_dir, "kcidb.json")), Is.Empty);
    }

    /// <summary>One unpatched cell that oopsed, its folder holding dmesg.txt (with the banner) and oops-1.txt, on a git tree.</summary>
    private JsonNode WriteRun()
    {
        var cell = new SummaryCell("unpatched-pse-off", 1, Scenario.Seed, QemuHotplugHarness.Simulator.Predictor.Predict(Scenario.Seed),
            SeedObservations.OopsAtIteration2() with { KernelRelease = "6.1.192" }, true, [], "unpatched-pse-off");
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "unpatched-pse-off")).FullName;
        File.WriteAllText(Path.Combine(folder, "dmesg.txt"), $"[    0.000000] {Banner}\n[    0.000000] Command line: console=ttyS0\n");
        File.WriteAllText(Path.Combine(folder, "oops-1.txt"), "BUG: unable to handle kernel paging request in __init_single_page\n");
        var patch = Path.Combine(RepoLayout.Discover().Root, "cases", "early-section-memmap", "fix-6.1.patch");
        var tree = new TreeIdentity(TreeKind.Git, "linux", null, "/src/linux", Remote, Commit, false);
        var summary = new Summary { Verdict = Verdict.Partial, Cells = [cell], StartedAt = DateTimeOffset.UnixEpoch, Seconds = 100 };
        Reports.WriteAll(new RunArtifacts(_dir), summary, ChangeUnderTest.Of([patch], tree));
        return JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "kcidb.json")))!;
    }
}
