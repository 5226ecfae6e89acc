using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using QemuHotplugHarness.Tests.Orchestration;

namespace QemuHotplugHarness.Tests.Guest;

public class MergeTests
{
    private string _root = "";

    [SetUp]
    public void MakeFolder() => _root = Directory.CreateTempSubdirectory("qhh-reports-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_root, recursive: true);

    /// <summary>
    /// A summary of observations written in the test (the seed's real outcomes unless <paramref name="observe"/> says
    /// otherwise), judged as a run judges them: Match and the mismatches come from the comparison, the verdict from the cells.
    /// </summary>
    private static Summary SummaryOf(IEnumerable<(Cell Cell, int Repeat)> work, Func<string, int, Observation>? observe = null)
    {
        observe ??= (name, _) => SeedObservations.Of(name);
        var cells = work.Select(w =>
        {
            var p = Predictor.Predict(w.Cell.Scenario);
            var o = observe(w.Cell.Name, w.Repeat);
            var mismatches = Comparison.Mismatches(p, o);
            return new SummaryCell(w.Cell.Name, w.Repeat, w.Cell.Scenario, p, o, mismatches.Count == 0, mismatches, $"{w.Cell.Name}-{w.Repeat}");
        }).ToList();
        return new Summary
        {
            Verdict = Verdicts.Decide(cells.Select(c => c.Result).ToList()),
            Cells = cells, StartedAt = DateTimeOffset.UnixEpoch, Seconds = 60, Accel = Accel.Tcg,
        };
    }

    private List<string> WriteShards(IEnumerable<Summary> shards) =>
        shards.Select((summary, i) =>
        {
            var dir = Path.Combine(_root, "shard" + i);
            Directory.CreateDirectory(dir);
            Reports.WriteAll(new RunArtifacts(dir), summary, Change([]));
            return dir;
        }).ToList();

    private static ChangeUnderTest Change(IReadOnlyList<string> patches) => ChangeUnderTest.FromPatches(patches, "linux-source-6.1");

    [Test]
    [Category("HostTools")] // headless Chromium
    public async Task Report_html_renders_in_chromium_with_the_verdict_visible()
    {
        Reports.WriteAll(new RunArtifacts(_root), SummaryOf(Matrix.Shard(Matrix.Default(Scenario.Seed), 1, null)), Change([]));
        var (dom, screenshot) = await HeadlessChromium.RenderAsync(Path.Combine(_root, "report.html"));
        Assert.That(dom, Does.Contain("verdict: patch-fixes"));
        Assert.That(dom, Does.Contain("unpatched-pse-off"));
        Assert.That(new FileInfo(screenshot).Length, Is.GreaterThan(10_000), "a real screenshot, not an empty page");
    }

    [Test]
    public void Kcidb_json_validates_and_a_broken_one_does_not()
    {
        var seedFix = Path.Combine(QemuHotplugHarness.Build.RepoLayout.Discover().Root, "cases", "early-section-memmap", "fix-6.1.patch");
        Reports.WriteAll(new RunArtifacts(_root), SummaryOf(Matrix.Shard(Matrix.Default(Scenario.Seed), 1, null)), Change([seedFix]));
        var kcidb = Path.Combine(_root, "kcidb.json");
        Assert.That(KcidbSchema.Errors(kcidb), Is.Empty);
        var broken = Path.Combine(_root, "broken-kcidb.json");
        File.WriteAllText(broken, File.ReadAllText(kcidb).Replace("\"status\": \"FAIL\"", "\"status\": \"CRASHED\""));
        Assert.That(KcidbSchema.Errors(broken), Is.Not.Empty, "the validator rejects a status KCIDB does not know");
    }

    [Test]
    public void Merging_two_shards_gives_the_unsharded_summary()
    {
        var cells = Matrix.Default(Scenario.Seed);
        var whole = SummaryOf(Matrix.Shard(cells, 2, null));
        var dirs = WriteShards(new[] { "1/2", "2/2" }.Select(shard => SummaryOf(Matrix.Shard(cells, 2, shard))));
        var merged = Merge.Run(dirs, Path.Combine(_root, "merged"));
        Assert.That(merged.Verdict, Is.EqualTo(whole.Verdict).And.EqualTo(Verdict.PatchFixes));
        string Key(SummaryCell c) => $"{c.Name}#{c.Repeat}:{c.Observation.Outcome.Kebab()}:{c.Match}";
        Assert.That(merged.Cells.Select(Key), Is.EqualTo(new[]
        {
            "patched-pse-off#1:clean:True", "patched-pse-off#2:clean:True", "patched-pse-on#1:clean:True", "patched-pse-on#2:clean:True",
            "stock-qemu-unpatched-pse-off#1:rejected:True", "stock-qemu-unpatched-pse-off#2:rejected:True",
            "unpatched-pse-off#1:oops:True", "unpatched-pse-off#2:oops:True", "unpatched-pse-on#1:clean:True", "unpatched-pse-on#2:clean:True",
        }));
        Assert.That(merged.Cells.Select(Key), Is.EquivalentTo(whole.Cells.Select(Key)));
        Assert.That(merged.Cells.Single(c => c is { Name: "unpatched-pse-off", Repeat: 2 }).Observation.FaultPfn, Is.EqualTo(0x144002UL));
        Assert.That(File.ReadAllText(Path.Combine(_root, "merged", "junit.xml")), Does.Contain("tests=\"10\"").And.Contain("failures=\"0\""));
        Assert.Throws<BadInputException>(() => Merge.Run([dirs[0], dirs[0]], Path.Combine(_root, "twice")));
        Assert.That(File.ReadAllText(Path.Combine(_root, "merged", "kcidb.json")), Does.Contain("\"status\": \"FAIL\"").And.Contain("\"status\": \"PASS\""));
    }

    [Test]
    public void A_shard_holding_a_patched_cell_that_oopsed_turns_the_merged_verdict()
    {
        var cells = Matrix.Default(Scenario.Seed);
        Observation Seen(string name, int repeat) =>
            name == "patched-pse-off" && repeat == 2 ? SeedObservations.OopsAtIteration2() : SeedObservations.Of(name);
        var shards = new[] { "1/2", "2/2" }.Select(shard => SummaryOf(Matrix.Shard(cells, 2, shard), Seen)).ToList();
        Assert.That(shards.Select(s => s.Verdict), Is.EqualTo(new[] { Verdict.PatchFixes, Verdict.PatchDoesNotFix }), "shard 2/2 holds every cell's repeat 2");
        var dirs = WriteShards(shards);
        foreach (var (order, name) in new[] { (dirs, "merged"), (Enumerable.Reverse(dirs).ToList(), "merged-reversed") })
        {
            var merged = Merge.Run(order, Path.Combine(_root, name));
            Assert.That(merged.Verdict, Is.EqualTo(Verdict.PatchDoesNotFix), name);
            var bad = merged.Cells.Single(c => !c.Match);
            Assert.That((bad.Name, bad.Repeat), Is.EqualTo(("patched-pse-off", 2)), name);
            Assert.That(bad.Mismatches, Is.EqualTo(new[] { "outcome: predicted clean, observed oops" }), name);
            Assert.That(File.ReadAllText(Path.Combine(_root, name, "junit.xml")), Does.Contain("tests=\"10\"").And.Contain("failures=\"1\""), name);
            Assert.That(File.ReadAllText(Path.Combine(_root, name, "summary.json")), Does.Contain("\"verdict\": \"patch-does-not-fix\""), name);
        }
    }
}
