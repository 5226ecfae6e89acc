using System.Text.Json.Nodes;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Orchestration;

/// <summary>qhh compare's pure part on hand-written summaries (Corpus/compare, see its README).</summary>
public class CompareTests
{
    private const string NewTitle = "general protection fault in stable_page_flags";

    private static RunDigest Fixture(string name) => RunDigest.Load(Path.Combine(AppContext.BaseDirectory, "Corpus", "compare", name));

    private static CompareResult Compare(string before, string after) => RunCompare.Compare(Fixture(before), Fixture(after));

    [Test]
    public void A_patched_kernel_that_oopses_tonight_is_a_new_title_a_cell_that_stopped_matching_and_a_worse_verdict()
    {
        var r = Compare("night1.json", "night2-patched-oopses.json");
        Assert.That(r.Verdicts, Is.EqualTo(new[] { new VerdictChange("verdict", "patch-fixes", "patch-does-not-fix", true) }));
        Assert.That(r.NewOopsTitles.Select(t => (t.Title, string.Join(",", t.Cells))), Is.EqualTo(new[] { (NewTitle, "patched-pse-off") }));
        Assert.That(r.VanishedOopsTitles, Is.Empty);
        Assert.That(r.Cells, Is.EqualTo(new[]
        {
            new CellChange("patched-pse-off", "outcome", "clean", "oops", false),
            new CellChange("patched-pse-off", "match", "match", "mismatch", true),
            new CellChange("patched-pse-off", "oops titles", "none", NewTitle, false),
        }));
        Assert.That(r.Rates, Is.Empty, "no cell was repeated");
        Assert.That(r.Regressions, Is.EqualTo(new[]
        {
            "verdict: patch-fixes → patch-does-not-fix",
            $"new oops title: {NewTitle} (in patched-pse-off)",
            "patched-pse-off: match → mismatch",
        }));
        Assert.That(r.Regressed, Is.True);
    }

    [Test]
    public void Timing_changes_are_listed_only_beyond_20_percent_and_2_seconds()
    {
        var r = Compare("night1.json", "night2-patched-oopses.json");
        // unpatched-pse-on went 8 -> 9 s: within the noise.
        Assert.That(r.Timings, Is.EqualTo(new[] { new TimingChange(RunCompare.WholeRun, 40, 70), new TimingChange("patched-pse-off", 8, 17) }));
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
        var r = Compare("night2-patched-oopses.json", "night1.json");
        Assert.That(r.Regressions, Is.Empty);
        Assert.That(r.Verdicts, Is.EqualTo(new[] { new VerdictChange("verdict", "patch-does-not-fix", "patch-fixes", false) }));
        Assert.That(r.VanishedOopsTitles.Select(t => t.Title), Is.EqualTo(new[] { NewTitle }));
        Assert.That(r.Cells.Select(c => (c.What, c.Regression)), Is.EqualTo(new[] { ("outcome", false), ("match", false), ("oops titles", false) }));
    }

    [Test]
    public void A_run_compared_with_itself_has_no_change()
    {
        var r = Compare("night1.json", "night1.json");
        Assert.That((r.Verdicts.Count, r.NewOopsTitles.Count, r.VanishedOopsTitles.Count, r.Cells.Count, r.Rates.Count, r.Timings.Count, r.Regressed),
            Is.EqualTo((0, 0, 0, 0, 0, 0, false)));
    }

    [Test]
    public void Repeated_cells_report_their_reproduction_rate()
    {
        var r = Compare("repeat-before.json", "repeat-after.json");
        Assert.That(r.Rates, Is.EqualTo(new[] { new RateChange("unpatched-pse-off", 3, 3, 2, 3) }));
        Assert.That(r.Cells, Is.EqualTo(new[]
        {
            new CellChange("unpatched-pse-off", "outcome", "oops", "oops×2, clean×1", false),
            new CellChange("unpatched-pse-off", "match", "match", "match 2/3", true),
        }));
        Assert.That(r.Verdicts.Single(), Is.EqualTo(new VerdictChange("verdict", "partial", "not-reproduced", true)));
        Assert.That(r.Timings, Is.Empty, "11 -> 10 s mean and 60 -> 61 s are noise");
    }

    [Test]
    public void Suite_cells_are_keyed_by_case_kernel_line_and_cell_and_unknown_fields_are_ignored()
    {
        var before = Fixture("suite-before.json");
        Assert.That(before.Cells.Select(c => c.Key), Is.EqualTo(new[]
        {
            "early-section/6.1/unpatched-pse-off", "early-section/6.1/patched-pse-off", "early-section/6.12/patched-pse-off", "fsdax/6.1/patched-pse-off",
        }));
        var r = Compare("suite-before.json", "suite-after.json");
        Assert.That(r.Verdicts, Is.EqualTo(new[]
        {
            new VerdictChange("verdict", "patch-fixes", "mismatch", true), new VerdictChange("case fsdax verdict", "patch-fixes", "mismatch", true),
        }));
        Assert.That(r.Cells, Is.EqualTo(new[] { new CellChange("fsdax/6.1/patched-pse-off", "match", "match", "mismatch", true) }));
    }

    [Test]
    public void The_harness_s_own_suite_summary_lists_cell_folders_under_cases_and_cells_with_their_case_and_line_at_the_top()
    {
        // As reproduce --suite writes it: cases[].cells are the cell folders; each top-level cell has its case, its
        // scenario the kernel line it asked for (its observation's line is where its kernel came from: not a key).
        const string summary = """
            { "verdict": "patch-fixes", "cases": [ { "name": "seed", "verdict": "patch-fixes", "cells": [ "seed/p" ] } ],
              "cells": [ { "name": "p", "case": "seed", "match": true,
                           "scenario": { "kernel": { "line": "6.12" } }, "observation": { "outcome": "clean", "kernelLine": "latest" } } ] }
            """;
        var digest = RunDigest.Parse(summary, "s.json");
        Assert.That(digest.Cells.Select(c => c.Key), Is.EqualTo(new[] { "seed/6.12/p" }));
    }

    [Test]
    public void A_case_on_each_cell_keys_it_too_and_new_and_vanished_cells_are_not_regressions()
    {
        const string before = """
            { "verdict": "patch-fixes", "cells": [ { "name": "a", "case": "one", "match": true, "observation": { "outcome": "clean" } } ] }
            """;
        var after = before.Replace("\"one\"", "\"two\"");
        var r = RunCompare.Compare(RunDigest.Parse(before, "b"), RunDigest.Parse(after, "a"));
        Assert.That(r.Cells, Is.EqualTo(new[]
        {
            new CellChange("one/a", "vanished", "clean", "-", false), new CellChange("two/a", "new", "-", "clean", false),
        }));
        Assert.That(r.Regressed, Is.False);
    }

    [Test]
    public void A_summary_the_harness_writes_reads_back()
    {
        var dir = Directory.CreateTempSubdirectory("qhh-compare-").FullName;
        try
        {
            var cell = new SummaryCell("unpatched-pse-off", 2, Scenario.Seed, QemuHotplugHarness.Simulator.Predictor.Predict(Scenario.Seed),
                SeedObservations.OopsAtIteration2(), true, [], "unpatched-pse-off-2");
            var summary = new Summary { Verdict = Verdict.Partial, Cells = [cell], StartedAt = DateTimeOffset.UnixEpoch, Seconds = 12.5 };
            Reports.WriteSummary(new RunArtifacts(dir), summary);
            var digest = RunDigest.Load(dir);
            Assert.That((digest.Kind, digest.Verdict, digest.Seconds, digest.Cells.Count), Is.EqualTo(("reproduce", "partial", 12.5, 1)));
            var run = digest.Cells[0];
            Assert.That((run.Key, run.Repeat, run.Outcome, run.Match, run.Seconds), Is.EqualTo(("unpatched-pse-off", 2, "oops", true, 95.0)));
            Assert.That(run.OopsTitles, Is.EqualTo(new[] { "BUG: unable to handle kernel paging request in __init_single_page" }));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCase("[1, 2]", "not a summary (not a JSON object)")]
    [TestCase("""{ "cells": [] }""", "not a summary (no verdict)")]
    [TestCase("""{ "verdict": "patch-fixes" }""", "not a summary (no cells)")]
    [TestCase("""{ "verdict": "patch-fixes", "cells": [ { "repeat": 1 } ] }""", "a cell without a name")]
    [TestCase("{ verdict", "not JSON: ")]
    public void What_is_not_a_summary_is_bad_input_naming_it(string json, string reason)
    {
        var e = Assert.Throws<BadInputException>(() => RunDigest.Parse(json, "x.json"))!;
        Assert.That((e.Input, e.Value), Is.EqualTo(((InputKind?)InputKind.CompareInput, "x.json")));
        Assert.That(e.Reason, Does.StartWith(reason));
    }

    [Test]
    public void The_markdown_escapes_titles_and_names_the_regressions()
    {
        var md = CompareText.Markdown(Compare("night1.json", "night2-patched-oopses.json"));
        Assert.That(md, Does.StartWith("## qhh compare: regressed\n"));
        Assert.That(md, Does.Contain("| general protection fault in stable\\_page\\_flags | patched-pse-off |"));
        Assert.That(md, Does.Contain("| (whole run) | 40.0 s | 70.0 s | +30.0 s, +75 % |"));
        Assert.That(md, Does.Contain("- verdict: patch-fixes → patch-does-not-fix\n"));
    }

    [Test]
    public void The_json_says_regressed_and_lists_the_regressions()
    {
        var json = JsonNode.Parse(HarnessJson.Serialize(Compare("night1.json", "night2-patched-oopses.json")))!;
        Assert.That((bool)json["regressed"]!, Is.True);
        Assert.That(json["regressions"]!.AsArray().Count, Is.EqualTo(3));
        Assert.That((string)json["newOopsTitles"]![0]!["title"]!, Is.EqualTo(NewTitle));
    }
}
