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

    /// <summary>
    /// Shard k/n of <paramref name="repeat"/> × the seed matrix, written as reproduce --shard writes it (RunState: the
    /// shard's cells as they finish, then the final summary and reports), with its whole plan in summary.json.
    /// </summary>
    private string WriteShard(string shard, int repeat, Func<string, int, Observation>? observe = null, string? name = null)
    {
        observe ??= (cell, _) => SeedObservations.Of(cell);
        var cells = Matrix.Default(Scenario.Seed);
        var dir = Path.Combine(_root, name ?? "shard-" + shard.Replace('/', '-'));
        var work = Reproducer.Plan(Matrix.Shard(cells, repeat, shard));
        var state = new RunState(new RunArtifacts(dir), shard, Change([]), work) { Plan = ShardPlan.Of(cells, repeat, shard) };
        foreach (var w in work)
        {
            var p = w.Cell.Predict();
            var o = observe(w.Cell.Name, w.Repeat);
            var m = Comparison.Mismatches(p, o);
            state.Add(new SummaryCell(w.Cell.Name, w.Repeat, w.Cell.Scenario, p, o, m.Count == 0, m, w.Folder));
        }
        state.Write(final: true);
        return dir;
    }

    [Test]
    public void A_night_missing_a_shard_is_incomplete_never_patch_fixes()
    {
        var first = WriteShard("1/2", 2);
        var merged = Merge.Run([first], Path.Combine(_root, "merged"));
        Assert.That(merged.Verdict, Is.EqualTo(Verdict.Incomplete), "shard 1/2 alone never reproduced the bug");
        Assert.That(merged.Missing!.Shards, Is.EqualTo(new[] { "2/2" }));
        Assert.That(merged.Missing.Cells, Has.Count.EqualTo(5), "shard 2/2 held every cell's second repeat");
        Assert.That(merged.Missing.Cells, Does.Contain("unpatched-pse-off#2"));
        Assert.That(File.ReadAllText(Path.Combine(_root, "merged", "summary.json")), Does.Contain("\"verdict\": \"incomplete\""));
        var whole = Merge.Run([first, WriteShard("2/2", 2)], Path.Combine(_root, "whole"));
        Assert.That((whole.Verdict, whole.Missing), Is.EqualTo((Verdict.PatchFixes, (MissingWork?)null)));
    }

    [Test]
    public void A_shard_that_ran_only_part_of_its_cells_leaves_those_cells_missing()
    {
        var first = WriteShard("1/2", 1);
        var second = WriteShard("2/2", 1);
        // Shard 2/2 died after its first cell: its summary.json (rewritten after every cell) holds only that one.
        var summary = Merge.Load(second);
        Reports.WriteSummary(new RunArtifacts(second), summary with { Cells = summary.Cells.Take(1).ToList() });
        var merged = Merge.Run([first, second], Path.Combine(_root, "merged"));
        Assert.That(merged.Verdict, Is.EqualTo(Verdict.Incomplete));
        Assert.That(merged.Missing!.Shards, Is.Empty);
        Assert.That(merged.Missing.Cells, Is.EqualTo(summary.Cells.Skip(1).Select(c => c.Name)));
    }

    [Test]
    public void A_real_regression_wins_over_a_missing_shard_and_an_infra_cell_and_the_run_says_all_three()
    {
        Observation Seen(string cell, int repeat) => cell switch
        {
            "patched-pse-off" => SeedObservations.OopsAtIteration2(),
            "unpatched-pse-off" => new Observation { Outcome = Outcome.InfraError, Error = "qemu exited with status 137 while booting" },
            _ => SeedObservations.Of(cell),
        };
        var one = WriteShard("1/3", 1, Seen);
        var two = WriteShard("2/3", 1, Seen);
        var merged = Merge.Run([one, two], Path.Combine(_root, "merged"));
        Assert.That(merged.Verdict, Is.EqualTo(Verdict.PatchDoesNotFix));
        Assert.That(merged.Unjudged, Is.EqualTo(new[] { "unpatched-pse-off" }), "shard 2/3 held it");
        Assert.That(merged.Missing!.Shards, Is.EqualTo(new[] { "3/3" }));
        Assert.That(merged.Missing.Cells, Is.EqualTo(new[] { "unpatched-pse-on" }));
        Assert.That(merged.Also, Does.Contain("1 cell(s) not judged (infra-error): unpatched-pse-off").And.Contain("incomplete: shard 3/3 missing"));
    }

    [Test]
    public void One_infra_cell_and_one_real_regression_in_one_night_is_the_regression()
    {
        Observation Seen(string cell, int repeat) => cell switch
        {
            "patched-pse-on" => SeedObservations.OopsAtIteration2(),
            "unpatched-pse-off" => new Observation { Outcome = Outcome.InfraError, Error = "ssh: connection lost" },
            _ => SeedObservations.Of(cell),
        };
        var shard = Merge.Load(WriteShard("1/1", 1, Seen));
        Assert.That(shard.Verdict, Is.EqualTo(Verdict.PatchDoesNotFix), "a shard's own verdict already says the finding");
        Assert.That(shard.Unjudged, Is.EqualTo(new[] { "unpatched-pse-off" }));
        var merged = Merge.Run([Path.Combine(_root, "shard-1-1")], Path.Combine(_root, "merged"));
        Assert.That((merged.Verdict, merged.Missing), Is.EqualTo((Verdict.PatchDoesNotFix, (MissingWork?)null)));
    }

    [Test]
    public void Shards_of_different_splits_or_plans_or_the_same_shard_twice_are_bad_input()
    {
        var a = WriteShard("1/2", 1);
        var b = WriteShard("2/3", 1);
        var c = WriteShard("2/2", 2);
        var d = WriteShard("1/2", 1, name: "again");
        Assert.That(Assert.Throws<BadInputException>(() => Merge.Run([a, b], Path.Combine(_root, "m1")))!.Message, Does.Contain("different splits"));
        Assert.That(Assert.Throws<BadInputException>(() => Merge.Run([a, c], Path.Combine(_root, "m2")))!.Message, Does.Contain("different plans"));
        Assert.That(Assert.Throws<BadInputException>(() => Merge.Run([a, d], Path.Combine(_root, "m3")))!.Message, Does.Contain("shard 1/2 is also"));
    }

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
        File.WriteAllText(broken, File.ReadAllText(kcidb).Replace("\"status\": \"PASS\"", "\"status\": \"CRASHED\""));
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
        Assert.That(File.ReadAllText(Path.Combine(_root, "merged", "kcidb.json")), Does.Not.Contain("\"status\": \"FAIL\"").And.Contain("\"status\": \"PASS\""),
            "every cell did what it predicts, the unpatched control's oops included");
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
