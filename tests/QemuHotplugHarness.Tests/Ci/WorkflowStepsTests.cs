using System.Text.Json.Nodes;
using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Build;

namespace QemuHotplugHarness.Tests.Ci;

/// <summary>
/// The nightly workflow's steps run here as the CI would run them (<see cref="WorkflowRunner"/>): build once into the
/// shared harness cache, shards 1/2 and 2/2 reproducing on real guests, merge, compare with the previous night. Two
/// nights: the first has no previous night; the second tests the unpatched kernel registered as the patched one (what
/// a patch that stopped fixing the bug looks like) and its compare step must fail naming the cell that regressed.
/// </summary>
[Category("RealGuest")]
[NonParallelizable]
public class WorkflowStepsTests
{
    private static readonly string[] Jobs = ["build", "shard", "shard", "merge"];

    [Test]
    public async Task Build_two_shards_merge_and_compare_run_here_and_a_regressed_night_fails_its_compare()
    {
        var repo = RepoLayout.Discover().Root;
        var scratch = Directory.CreateTempSubdirectory("qhh-nightly-workflow-").FullName;
        // One snapshot of the working tree, as one commit is what every job of a workflow run checks out.
        var files = await RepoFilesAsync(repo);
        var commit = Path.Combine(scratch, "commit");
        new WorkflowActions(repo, files, "", "", "").Run("actions/checkout@v5", new Dictionary<string, string>(), commit);
        var runner = new WorkflowRunner(Path.Combine(commit, ".github", "workflows", "nightly.yml"), commit, files, scratch, HarnessCache.DefaultRoot());
        TestContext.Progress.WriteLine($"nightly workflow scratch folder: {scratch}");

        var night1 = await runner.RunAsync("1");
        Assert.That(night1.Where(s => s.Ran && !s.Succeeded).Select(Describe), Is.Empty, "night 1: every step that ran succeeded");
        Assert.That(night1.Where(s => s.Step.StartsWith("Reproduce shard", StringComparison.Ordinal)).Select(s => s.Step),
            Is.EqualTo(new[] { "Reproduce shard 1/2", "Reproduce shard 2/2" }));
        Assert.That(night1.Select(s => s.Job).Distinct(), Is.EqualTo(Jobs.Distinct()));
        AssertArtifacts(runner.Artifacts, "patch-fixes");
        Assert.That(File.ReadAllText(Path.Combine(scratch, "merge-0.step-summary.md")), Does.Contain("No previous night's summary"));
        Assert.That(File.Exists(Path.Combine(runner.CacheStore, "qhh-nightly-summary-1", "previous-night", "summary.json")), "tonight's summary kept");

        runner.Inputs["qhh-args"] = "--kernel-image patched=" + UnpatchedBzImage();
        var night2 = await runner.RunAsync("2");
        var failed = night2.Where(s => s.Ran && !s.Succeeded).Select(s => s.Step).ToList();
        Assert.That(failed, Does.Contain("Compare with the previous night (the job summary shows it)"), string.Join("\n", night2.Select(Describe)));
        string[] mayFail = ["Reproduce shard 1/2", "Reproduce shard 2/2", "Merge the shards into one summary, junit.xml, kcidb.json and report.html",
            "Compare with the previous night (the job summary shows it)"];
        Assert.That(failed, Is.SubsetOf(mayFail), "the shard holding the patched cell, merge (verdict patch-does-not-fix) and compare: exit 1 each");
        AssertArtifacts(runner.Artifacts, "patch-does-not-fix");
        var summary = File.ReadAllText(Path.Combine(scratch, "merge-0.step-summary.md"));
        Assert.That(summary, Does.StartWith("## qhh compare: regressed\n"));
        // The cell's key names its case and line: "early-section-memmap/6.1/patched-pse-off".
        Assert.That(summary, Does.Contain("| early-section-memmap/6.1/patched-pse-off | match | match | mismatch | yes |"));
        Assert.That(summary, Does.Contain("| early-section-memmap/6.1/patched-pse-off | outcome | clean | oops |"));
        Directory.Delete(scratch, recursive: true);
    }

    private static void AssertArtifacts(string artifacts, string verdict)
    {
        foreach (var shard in new[] { "shard-0", "shard-1" })
            Assert.That(File.Exists(Path.Combine(artifacts, shard, "junit.xml")), $"{shard}/junit.xml");
        var report = Path.Combine(artifacts, "nightly-report");
        foreach (var file in new[] { "summary.json", "junit.xml", "kcidb.json", "report.html" })
            Assert.That(File.Exists(Path.Combine(report, file)), $"nightly-report/{file}");
        var merged = JsonNode.Parse(File.ReadAllText(Path.Combine(report, "summary.json")))!;
        Assert.That((string?)merged["verdict"], Is.EqualTo(verdict));
        Assert.That(merged["cells"]!.AsArray().Count, Is.EqualTo(5), "the default matrix, both shards");
    }

    private static string Describe(StepResult s) => $"{s.Job}: {s.Step}: {(s.Ran ? s.Succeeded ? "ok" : "FAILED " + s.Log : "skipped")}";

    /// <summary>The files a checkout of the working tree would hold: tracked and untracked, less what .gitignore hides.</summary>
    private static async Task<List<string>> RepoFilesAsync(string repo)
    {
        string[] args = ["-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard"];
        var result = await CliWrap.Cli.Wrap("git").WithArguments(args).ExecuteBufferedAsync();
        return result.StandardOutput.Split('\0', StringSplitOptions.RemoveEmptyEntries).ToList();
    }

    /// <summary>The harness's unpatched kernel built from Debian's source (night 1's build job made sure it is cached).</summary>
    private static string UnpatchedBzImage()
    {
        var kernels = Path.Combine(HarnessCache.DefaultRoot(), "kernel");
        var entry = Directory.GetDirectories(kernels).Select(d => (Dir: d, Manifest: Manifest(d))).Where(e => e.Manifest is not null)
            .Where(e => (string?)e.Manifest!["variant"] == "unpatched")
            .Where(e => ((string?)e.Manifest!["source"] ?? "").StartsWith("debian linux-source-6.1 ", StringComparison.Ordinal))
            // The seed's kernel, not a suite case's debug-VM build of the same line.
            .Where(e => !File.ReadAllText(Path.Combine(e.Dir, "config")).Contains("CONFIG_DEBUG_VM=y", StringComparison.Ordinal))
            .OrderByDescending(e => (string?)e.Manifest!["builtAt"], StringComparer.Ordinal).FirstOrDefault();
        Assert.That(entry.Dir, Is.Not.Null, "the build job built the unpatched kernel");
        return Path.Combine(entry.Dir, "bzImage");
    }

    private static JsonNode? Manifest(string dir) =>
        File.Exists(Path.Combine(dir, "manifest.json")) ? JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json"))) : null;
}
