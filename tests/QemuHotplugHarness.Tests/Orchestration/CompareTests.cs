using System.Text.Json.Nodes;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Orchestration;

/// <summary>qhh compare's pure part on nights the harness's own writer wrote (<see cref="Nights"/>), read back by the one summary reader.</summary>
public class CompareTests
{
    private const string NewTitle = Nights.NewTitle;
    private string _root = "";

    [SetUp]
    public void MakeFolder() => _root = Directory.CreateTempSubdirectory("qhh-compare-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_root, recursive: true);

    private RunDigest Night(string name, IReadOnlyList<(Cell Cell, int Repeat, Observation Seen)> work, double seconds = 40, IReadOnlyList<CaseInfo>? cases = null) =>
        RunDigest.Load(Nights.Write(Path.Combine(_root, name), work, seconds, cases));

    private RunDigest Night1() => Night("night1", Nights.Seed());

    private RunDigest Night2PatchedOopses() =>
        Night("night2", Nights.Seed((cell, _) => cell == "patched-pse-off" ? Nights.PatchedOops() : SeedObservations.Of(cell)), seconds: 70);

    [Test]
    public void A_patched_kernel_that_oopses_tonight_is_a_new_title_a_cell_that_stopped_matching_and_a_worse_verdict()
    {
        var r = RunCompare.Compare(Night1(), Night2PatchedOopses());
        Assert.That(r.Verdicts, Is.EqualTo(new[] { new VerdictChange("verdict", "patch-fixes", "patch-does-not-fix", true) }));
        Assert.That(r.NewOopsTitles.Select(t => (t.Title, string.Join(",", t.Cells))), Is.EqualTo(new[] { (NewTitle, "6.1/patched-pse-off") }));
        Assert.That(r.VanishedOopsTitles, Is.Empty);
        Assert.That(r.Cells, Is.EqualTo(new[]
        {
            new CellChange("6.1/patched-pse-off", "outcome", "clean", "oops", false),
            new CellChange("6.1/patched-pse-off", "match", "match", "mismatch", true),
            new CellChange("6.1/patched-pse-off", "oops titles", "none", NewTitle, false),
        }));
        Assert.That(r.Rates, Is.Empty, "no cell was repeated");
        Assert.That(r.Regressions, Is.EqualTo(new[]
        {
            "verdict: patch-fixes → patch-does-not-fix",
            $"new oops title: {NewTitle} (in 6.1/patched-pse-off)",
            "6.1/patched-pse-off: match → mismatch",
        }));
        Assert.That((r.Regressed, r.Unjudged.Count, r.Known.Count), Is.EqualTo((true, 0, 0)));
    }

    [Test]
    public void Timing_changes_are_listed_only_beyond_20_percent_and_2_seconds()
    {
        var r = RunCompare.Compare(Night1(), Night2PatchedOopses());
        Assert.That(r.Timings, Is.EqualTo(new[] { new TimingChange(RunCompare.WholeRun, 40, 70), new TimingChange("6.1/patched-pse-off", 40, 110) }));
    }

    [TestCase(10, 12.5, true)]
    [TestCase(10, 7.5, true)]
    [TestCase(10, 11.9, false)]
    [TestCase(100, 110, false)]
    [TestCase(100, 121, true)]
    [TestCase(1, 2.9, false)]
    [TestCase(0, 2.5, true)]
    public void The_noise_rule(double before, double after, bool beyond) =>
        Assert.That(RunCompare.BeyondNoise(before, after), Is.EqualTo(beyond));

    [Test]
    public void The_other_way_round_nothing_regressed_and_the_title_vanished()
    {
        var r = RunCompare.Compare(Night2PatchedOopses(), Night1());
        Assert.That(r.Regressions, Is.Empty);
        Assert.That(r.Verdicts, Is.EqualTo(new[] { new VerdictChange("verdict", "patch-does-not-fix", "patch-fixes", false) }));
        Assert.That(r.VanishedOopsTitles.Select(t => t.Title), Is.EqualTo(new[] { NewTitle }));
        Assert.That(r.Cells.Select(c => (c.What, c.Regression)), Is.EqualTo(new[] { ("outcome", false), ("match", false), ("oops titles", false) }));
    }

    [Test]
    public void A_run_compared_with_itself_has_no_change()
    {
        var r = RunCompare.Compare(Night1(), Night1());
        Assert.That((r.Verdicts.Count, r.NewOopsTitles.Count, r.VanishedOopsTitles.Count, r.Cells.Count, r.Rates.Count, r.Timings.Count, r.Regressed),
            Is.EqualTo((0, 0, 0, 0, 0, 0, false)));
    }

    [Test]
    public void Repeated_cells_report_their_reproduction_rate()
    {
        var before = Night("before", Nights.Seed(repeat: 3), seconds: 60);
        var after = Night("after", Nights.Seed((cell, repeat) => cell == "unpatched-pse-off" && repeat == 3 ? SeedObservations.Clean() : SeedObservations.Of(cell),
            repeat: 3), seconds: 61);
        var r = RunCompare.Compare(before, after);
        Assert.That(r.Rates, Is.EqualTo(new[] { new RateChange("6.1/unpatched-pse-off", 3, 3, 2, 3) }));
        Assert.That(r.Cells, Is.EqualTo(new[]
        {
            new CellChange("6.1/unpatched-pse-off", "outcome", "oops", "oops×2, clean×1", false),
            new CellChange("6.1/unpatched-pse-off", "match", "match", "match 2/3", true),
        }));
        Assert.That(r.Verdicts.Single(), Is.EqualTo(new VerdictChange("verdict", "patch-fixes", "not-reproduced", true)));
        Assert.That(r.Timings, Is.Empty, "95 -> 95 s mean and 60 -> 61 s are noise");
    }

    [Test]
    public void Suite_cells_are_keyed_by_case_kernel_line_and_cell_and_a_cell_without_a_line_is_the_default_line()
    {
        CaseInfo[] cases = [new("early-section", "mm/sparse: fix", null, true), new("fsdax", "fsdax: fix", null, true)];
        IReadOnlyList<(Cell, int, Observation)> Suite(Func<string, int, Observation>? fsdax = null, string? defaultLine = null) =>
        [
            .. Nights.Seed(caseName: "early-section", line: defaultLine).Where(w => w.Cell.Name.StartsWith("unpatched-pse-off") || w.Cell.Name == "patched-pse-off"),
            .. Nights.Seed(caseName: "early-section", line: "6.12").Where(w => w.Cell.Name == "patched-pse-off"),
            .. Nights.Seed(fsdax, caseName: "fsdax").Where(w => w.Cell.Name == "patched-pse-off"),
        ];
        var before = Night("suite-before", Suite(defaultLine: "6.1"), cases: cases);
        Assert.That(before.Cells.Select(c => c.Key), Is.EqualTo(new[]
        {
            "early-section/6.1/unpatched-pse-off", "early-section/6.1/patched-pse-off", "early-section/6.12/patched-pse-off", "fsdax/6.1/patched-pse-off",
        }));
        var after = Night("suite-after", Suite((cell, _) => Nights.PatchedOops()), cases: cases);
        var r = RunCompare.Compare(before, after);
        Assert.That(r.Verdicts, Is.EqualTo(new[]
        {
            new VerdictChange("verdict", "patch-fixes", "patch-does-not-fix", true), new VerdictChange("case fsdax verdict", "patch-fixes", "patch-does-not-fix", true),
        }));
        Assert.That(r.Cells.Where(c => c.Regression), Is.EqualTo(new[] { new CellChange("fsdax/6.1/patched-pse-off", "match", "match", "mismatch", true) }),
            "early-section's cells without a line tonight are the 6.1 cells of last night");
    }

    [Test]
    public void An_infra_cell_is_reported_apart_and_is_no_regression()
    {
        var tonight = Night("infra", Nights.Seed((cell, _) => cell == "unpatched-pse-off" ? Nights.Infra() : SeedObservations.Of(cell)));
        Assert.That(tonight.Verdict, Is.EqualTo(Verdict.InfraError));
        var r = RunCompare.Compare(Night1(), tonight);
        Assert.That(r.Regressions, Is.Empty);
        Assert.That(r.Regressed, Is.False);
        Assert.That(r.Unjudged, Is.EqualTo(new[]
        {
            "verdict infra-error", "6.1/unpatched-pse-off: infra-error: qemu exited with status 137 (killed) while booting",
        }));
        Assert.That(r.Verdicts.Single().Worse, Is.False);
        Assert.That(CompareText.Plain(r), Does.Contain("could not judge (not regressions):\n  verdict infra-error\n").And.EndWith("no regression\n"));
        Assert.That(CompareText.Markdown(r), Does.StartWith("## qhh compare: no regression\n")
            .And.Contain("**Could not judge** (not regressions)\n\n- verdict infra-error\n- 6.1/unpatched-pse-off: infra-error: qemu exited"));
    }

    [Test]
    public void One_infra_cell_and_one_real_regression_is_a_regression_and_says_both()
    {
        var tonight = Night("both", Nights.Seed((cell, _) => cell switch
        {
            "unpatched-pse-off" => Nights.Infra(),
            "patched-pse-off" => Nights.PatchedOops(),
            _ => SeedObservations.Of(cell),
        }));
        Assert.That(tonight.Verdict, Is.EqualTo(Verdict.PatchDoesNotFix), "the regression wins over the lab glitch");
        var r = RunCompare.Compare(Night1(), tonight);
        Assert.That(r.Regressions, Is.EqualTo(new[]
        {
            "verdict: patch-fixes → patch-does-not-fix", $"new oops title: {NewTitle} (in 6.1/patched-pse-off)", "6.1/patched-pse-off: match → mismatch",
        }));
        Assert.That(r.Unjudged, Is.EqualTo(new[] { "6.1/unpatched-pse-off: infra-error: qemu exited with status 137 (killed) while booting" }));
    }

    [Test]
    public void A_known_intermittent_issue_is_reported_not_counted_and_another_title_still_is()
    {
        var known = KnownIssues.Parse($$"""[ { "cell": "*/patched-pse-*", "title": "{{NewTitle}}", "intermittent": true, "link": "https://example.org/1" } ]""", "k.json");
        var r = RunCompare.Compare(Night1(), Night2PatchedOopses(), known);
        Assert.That(r.Regressions, Is.Empty);
        Assert.That(r.Known, Is.EqualTo(new[]
        {
            $"verdict: patch-fixes → patch-does-not-fix (known intermittent: {NewTitle}, https://example.org/1)",
            $"new oops title: {NewTitle} (in 6.1/patched-pse-off) (known intermittent: {NewTitle}, https://example.org/1)",
            $"6.1/patched-pse-off: match → mismatch (known intermittent: {NewTitle}, https://example.org/1)",
        }));
        var otherTitle = KnownIssues.Parse("""[ { "cell": "*/patched-pse-*", "title": "kernel BUG in page_zone", "intermittent": true } ]""", "k.json");
        Assert.That(RunCompare.Compare(Night1(), Night2PatchedOopses(), otherTitle).Regressions, Has.Count.EqualTo(3));
        var notIntermittent = KnownIssues.Parse("""[ { "cell": "*", "intermittent": false } ]""", "k.json");
        Assert.That(RunCompare.Compare(Night1(), Night2PatchedOopses(), notIntermittent).Regressions, Has.Count.EqualTo(3));
    }

    [TestCase("{}", "not a list of known issues")]
    [TestCase("""[ { "title": "x" } ]""", "entry 1 has no cell pattern")]
    [TestCase("""[ { "cell": "a", "flaky": true } ]""", "entry 1: unknown field 'flaky'")]
    [TestCase("""[ { "cell": "a", "intermittent": "yes" } ]""", "entry 1: intermittent is true or false")]
    public void A_bad_known_issues_file_is_bad_input_naming_it(string json, string reason)
    {
        var e = Assert.Throws<BadInputException>(() => KnownIssues.Parse(json, "k.json"))!;
        Assert.That(e.Problems[0], Is.EqualTo(new InputProblem(InputKind.KnownIssues, "k.json", e.Problems[0].Reason)));
        Assert.That(e.Problems[0].Reason, Does.StartWith(reason));
    }

    [Test]
    public void A_summary_the_harness_writes_reads_back_through_the_reader_merge_uses()
    {
        var cell = new SummaryCell("unpatched-pse-off", 2, Scenario.Seed, QemuHotplugHarness.Simulator.Predictor.Predict(Scenario.Seed),
            SeedObservations.OopsAtIteration2(), true, [], "unpatched-pse-off-2");
        var summary = new Summary { Verdict = Verdict.Partial, Cells = [cell], StartedAt = DateTimeOffset.UnixEpoch, Seconds = 12.5 };
        Reports.WriteSummary(new RunArtifacts(_root), summary);
        var digest = RunDigest.Load(_root);
        Assert.That((digest.Kind, digest.Verdict, digest.Seconds, digest.Cells.Count), Is.EqualTo((RunKind.Reproduce, Verdict.Partial, 12.5, 1)));
        var run = digest.Cells[0];
        Assert.That((run.Key, run.Repeat, run.Outcome, run.Match, run.Seconds), Is.EqualTo(("6.1/unpatched-pse-off", 2, "oops", true, 95.0)));
        Assert.That(run.OopsTitles, Is.EqualTo(new[] { "BUG: unable to handle kernel paging request in __init_single_page" }));
        Assert.That(Merge.Load(_root), Is.Not.Null, "merge reads it the same way");
    }

    [TestCase("[1, 2]", "its summary.json is not a summary (not a JSON object)")]
    [TestCase("""{ "cells": [] }""", "its summary.json is not a summary (no verdict)")]
    [TestCase("""{ "verdict": "patch-fixes", "startedAt": "2026-12-01T00:00:00Z" }""", "its summary.json is not a summary (no cells)")]
    [TestCase("""{ "verdict": "no-such-verdict", "cells": [], "startedAt": "2026-12-01T00:00:00Z" }""", "its summary.json is not a summary: ")]
    [TestCase("""{ "verdict": "patch-fixes", "cells": [ { "repeat": 1 } ], "startedAt": "2026-12-01T00:00:00Z" }""", "its summary.json is not a summary (cell 1 has no name)")]
    [TestCase("{ verdict", "its summary.json is not a summary: ")]
    public void What_is_not_a_summary_is_bad_input_naming_it(string json, string reason)
    {
        var e = Assert.Throws<BadInputException>(() => RunDigest.Parse(json, "x.json"))!;
        Assert.That((e.Input, e.Value), Is.EqualTo(((InputKind?)InputKind.CompareInput, "x.json")));
        Assert.That(e.Reason, Does.StartWith(reason));
    }

    [Test]
    public void The_markdown_escapes_titles_and_names_the_regressions()
    {
        var md = CompareText.Markdown(RunCompare.Compare(Night1(), Night2PatchedOopses()));
        Assert.That(md, Does.StartWith("## qhh compare: regressed\n"));
        Assert.That(md, Does.Contain("| general protection fault in stable\\_page\\_flags | 6.1/patched-pse-off |"));
        Assert.That(md, Does.Contain("| (whole run) | 40.0 s | 70.0 s | +30.0 s, +75 % |"));
        Assert.That(md, Does.Contain("- verdict: patch-fixes → patch-does-not-fix\n"));
    }

    [Test]
    public void The_json_says_regressed_and_lists_the_regressions()
    {
        var json = JsonNode.Parse(HarnessJson.Serialize(RunCompare.Compare(Night1(), Night2PatchedOopses())))!;
        Assert.That((bool)json["regressed"]!, Is.True);
        Assert.That(json["regressions"]!.AsArray().Count, Is.EqualTo(3));
        Assert.That((string)json["newOopsTitles"]![0]!["title"]!, Is.EqualTo(NewTitle));
        Assert.That(json["unjudged"]!.AsArray(), Is.Empty);
    }
}
