using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Guest;

public class MergeTests
{
    private string _root = "";

    [SetUp]
    public void MakeFolder() => _root = Directory.CreateTempSubdirectory("qhh-reports-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_root, recursive: true);

    private static Summary SummaryOf(IEnumerable<(Cell Cell, int Repeat)> work)
    {
        var cells = work.Select(w =>
        {
            var p = Predictor.Predict(w.Cell.Scenario);
            var o = new Observation { Outcome = p.Outcome, Accel = Accel.Tcg, OopsIteration = p.OopsIteration, FaultPfn = p.FirstFaultPfn, Rejection = p.Rejection, Seconds = 12.5 };
            return new SummaryCell(w.Cell.Name, w.Repeat, w.Cell.Scenario, p, o, true, Comparison.Mismatches(p, o), $"{w.Cell.Name}-{w.Repeat}");
        }).ToList();
        return new Summary
        {
            Verdict = Verdicts.Decide(cells.Select(c => c.Result).ToList()),
            Cells = cells, StartedAt = DateTimeOffset.UnixEpoch, Seconds = 60, Accel = Accel.Tcg,
        };
    }

    private static ChangeUnderTest Change(IReadOnlyList<string> patches) => ChangeUnderTest.FromPatches(patches, "linux-source-6.1");

    [Test]
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
        Reports.WriteAll(new RunArtifacts(_root), SummaryOf(Matrix.Shard(Matrix.Default(Scenario.Seed), 1, null)), Change([Path.Combine(QemuHotplugHarness.Build.RepoLayout.Discover().Root, "kernel-patches", "0001-mm-sparse-never-partially-remove-memmap-for-early-section.patch")]));
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
        var dirs = new[] { "1/2", "2/2" }.Select((shard, i) =>
        {
            var dir = Path.Combine(_root, "shard" + i);
            Directory.CreateDirectory(dir);
            Reports.WriteAll(new RunArtifacts(dir), SummaryOf(Matrix.Shard(cells, 2, shard)), Change([]));
            return dir;
        }).ToList();
        var merged = Merge.Run(dirs, Path.Combine(_root, "merged"));
        Assert.That(merged.Verdict, Is.EqualTo(whole.Verdict).And.EqualTo(Verdict.PatchFixes));
        string Key(SummaryCell c) => $"{c.Name}#{c.Repeat}:{c.Observation.Outcome}:{c.Match}";
        Assert.That(merged.Cells.Select(Key), Is.EquivalentTo(whole.Cells.Select(Key)));
        Assert.That(File.ReadAllText(Path.Combine(_root, "merged", "junit.xml")), Does.Contain("tests=\"10\""));
        Assert.Throws<BadInputException>(() => Merge.Run([dirs[0], dirs[0]], Path.Combine(_root, "twice")));
        Assert.That(File.ReadAllText(Path.Combine(_root, "merged", "kcidb.json")), Does.Contain("\"status\": \"FAIL\"").And.Contain("\"status\": \"PASS\""));
    }
}
