using System.Text.Json.Nodes;
using System.Xml.Linq;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Orchestration;

/// <summary>
/// Cases outside the simulator judged by their expectations through the same Prediction/Comparison path, the suite's
/// verdict, and what summary.json, junit.xml, kcidb.json and report.html say of each case.
/// </summary>
public class CaseJudgingTests
{
    private const string Title = "kernel BUG in pageunmap_range";

    private static Observation OopsObserved(int iteration, string title) => new()
    {
        Outcome = Outcome.Oops, OopsIteration = iteration, Seconds = 9,
        Oopses = [new ObservedOops(title, "pageunmap_range", null, null, 100, false, 1)],
    };

    private static Observation CleanObserved() => new() { Outcome = Outcome.Clean, Seconds = 7 };

    /// <summary>A cell of a case outside the model: predicted by its expectation (outcome, title, iteration).</summary>
    private static Cell CaseCell(string name, KernelVariant kernel, CaseExpectation expect) =>
        new Cell(name, Scenario.Seed.WithName(name).WithKernel(kernel))
            { Case = "memunmap-uninit", Judge = new ExpectationJudge(expect, "no model of memunmap_pages()") };

    [TestCase("kernel BUG in *", 1, 1, Title, new string[0])]
    [TestCase(Title, null, 3, Title, new string[0])]
    [TestCase("kernel BUG in *", 1, 2, Title, new[] { "oopsIteration: expected 1, observed 2" })]
    [TestCase("kernel BUG in *", null, 1, "BUG: unable to handle page fault in memmap_init_zone",
        new[] { "title: expected 'kernel BUG in *', observed 'BUG: unable to handle page fault in memmap_init_zone'" })]
    public void An_oops_is_judged_by_the_expected_title_and_iteration_and_no_fault_pfn(string title, int? iteration,
        int observedAt, string observedTitle, string[] mismatches)
    {
        var prediction = CaseCell("u", KernelVariant.Unpatched, new CaseExpectation(Outcome.Oops, title, iteration)).Predict();
        Assert.That(prediction.Outcome, Is.EqualTo(Outcome.Oops));
        var cell = CaseCell("u", KernelVariant.Unpatched, new CaseExpectation(Outcome.Oops, title, iteration));
        Assert.That(cell.Judge.Mismatches(prediction, OopsObserved(observedAt, observedTitle)), Is.EqualTo(mismatches));
    }

    [Test]
    public void A_case_prediction_keeps_the_simulator_layout_and_says_it_is_not_modelled()
    {
        var prediction = CaseCell("p", KernelVariant.Patched, new CaseExpectation(Outcome.Clean)).Predict();
        Assert.Multiple(() =>
        {
            Assert.That(prediction.Layout.PersistentMemory,
                Is.EqualTo(new AddressRange(0x1_4400_0000, 0x3_43e0_0000)), "the NVDIMM where the seed's machine puts it");
            Assert.That(prediction.Explanation, Is.EqualTo(new[] { "Not modelled: no model of memunmap_pages()", "Expected (the case's cell): clean" }));
            Assert.That(prediction.Iterations, Is.Empty);
            Assert.That(Comparison.Mismatches(prediction, OopsObserved(1, Title)), Is.EqualTo(new[] { "outcome: predicted clean, observed oops" }));
        });
    }

    [Test]
    public void A_modelled_cell_is_still_the_simulator_prediction()
    {
        var cell = new Cell("unpatched-pse-off", Scenario.Seed) { Case = "early-section-memmap" };
        Assert.That((cell.Predict().Outcome, cell.Predict().FirstFaultPfn, cell.Judge.Kind),
            Is.EqualTo((Outcome.Oops, (ulong?)0x144002, Judge.Simulator)));
    }

    [TestCase(new[] { Verdict.PatchFixes, Verdict.PatchFixes }, Verdict.PatchFixes)]
    [TestCase(new[] { Verdict.PatchFixes, Verdict.NotReproduced }, Verdict.NotReproduced)]
    [TestCase(new[] { Verdict.Mismatch, Verdict.PatchDoesNotFix, Verdict.PatchFixes }, Verdict.PatchDoesNotFix)]
    [TestCase(new[] { Verdict.PatchDoesNotFix, Verdict.InfraError }, Verdict.PatchDoesNotFix)]
    [TestCase(new[] { Verdict.PatchFixes, Verdict.InfraError }, Verdict.InfraError)]
    [TestCase(new[] { Verdict.Incomplete, Verdict.InfraError, Verdict.PatchFixes }, Verdict.Incomplete)]
    [TestCase(new[] { Verdict.Partial, Verdict.PatchFixes }, Verdict.Partial)]
    [TestCase(new Verdict[0], Verdict.InfraError)]
    public void The_suite_says_patch_fixes_only_when_every_case_does(Verdict[] cases, Verdict suite) =>
        Assert.That(Verdicts.Suite(cases), Is.EqualTo(suite));

    private static SummaryCell Judged(Cell cell, Observation o, string folder)
    {
        var p = cell.Predict();
        var m = cell.Judge.Mismatches(p, o);
        return new SummaryCell(cell.Name, 1, cell.Scenario, p, o, m.Count == 0, m, folder) { Case = cell.Case, Judge = cell.Judge.Kind };
    }

    /// <summary>A suite of two cases: the seed (all five cells as on real guests) and a case outside the model whose patched kernel oopsed.</summary>
    private static Summary Suite()
    {
        var seed = SuiteCases.Cells(SeedCase, Scenario.Seed, new KernelRecipe("fix-6.1.patch", []))
            .Select(c => Judged(c, SeedObservations.Of(c.Name), "early-section-memmap/" + c.Name));
        var other = new[]
        {
            Judged(CaseCell("unpatched-pse-off", KernelVariant.Unpatched, new CaseExpectation(Outcome.Oops, "kernel BUG in *", 1)),
                OopsObserved(1, Title), "memunmap-uninit/unpatched-pse-off"),
            Judged(CaseCell("patched-pse-off", KernelVariant.Patched, new CaseExpectation(Outcome.Clean)),
                OopsObserved(1, Title), "memunmap-uninit/patched-pse-off"),
        };
        var cells = seed.Concat(other).ToList();
        var infos = new[] { new CaseInfo("early-section-memmap", "mm/sparse: never partially remove memmap for early section", "ef69bc9f68de", true),
            new CaseInfo("memunmap-uninit", "mm/memunmap: don't access uninitialized memmap in memunmap_pages()", "77e080e7680e", false) };
        var cases = RunState.CaseSummaries(infos, cells, RunKind.Reproduce, shard: false);
        return new Summary { Verdict = Verdicts.Suite(cases.Select(c => c.Verdict).ToList()), Cells = cells, Cases = cases,
            StartedAt = DateTimeOffset.UnixEpoch, Seconds = 30 };
    }

    private static readonly Case SeedCase = new()
    {
        Name = "early-section-memmap", Folder = "/nowhere", Summary = "s",
        Fix = new CaseFix("mm/sparse: never partially remove memmap for early section", "ef69bc9f68de", null, null, null),
        Lines = new Dictionary<string, CaseLine>(), Scenario = Scenario.Seed, Modelled = true,
        Cells = SeedMatrix.Cells(Scenario.Seed)
            .Select(c => new CaseCell(c.Name, c.Scenario.Kernel.Variant, c.Scenario.Cpu.Pse, c.Scenario.Qemu, null)).ToList(),
    };

    [Test]
    public void Each_case_has_its_verdict_and_the_suite_verdict_is_theirs_together()
    {
        var s = Suite();
        Assert.That(s.Cases!.Select(c => (c.Name, c.Verdict)),
            Is.EqualTo(new[] { ("early-section-memmap", Verdict.PatchFixes), ("memunmap-uninit", Verdict.PatchDoesNotFix) }));
        Assert.That(s.Verdict, Is.EqualTo(Verdict.PatchDoesNotFix));
        Assert.That(s.Cases![1].Cells, Is.EqualTo(new[] { "memunmap-uninit/unpatched-pse-off", "memunmap-uninit/patched-pse-off" }));
        var json = JsonNode.Parse(HarnessJson.Serialize(s))!;
        Assert.That(json["cases"]![1]!["fix"]!.GetValue<string>(), Is.EqualTo("mm/memunmap: don't access uninitialized memmap in memunmap_pages()"));
        Assert.That(json["cells"]![6]!["case"]!.GetValue<string>(), Is.EqualTo("memunmap-uninit"));
        Assert.That(json["verdict"]!.GetValue<string>(), Is.EqualTo("patch-does-not-fix"));
    }

    [Test]
    public void Junit_has_a_testsuite_per_case_with_its_fix_and_verdict()
    {
        var suites = Reports.Junit(Suite()).Root!.Elements("testsuite").ToList();
        Assert.That(suites.Select(x => ((string)x.Attribute("name")!, (int)x.Attribute("tests")!, (int)x.Attribute("failures")!)), Is.EqualTo(new[]
        {
            ("qemu-hotplug-harness reproduce early-section-memmap", 5, 0), ("qemu-hotplug-harness reproduce memunmap-uninit", 2, 1),
        }));
        var properties = suites[1].Element("properties")!.Elements("property")
            .ToDictionary(p => (string)p.Attribute("name")!, p => (string)p.Attribute("value")!);
        Assert.That(properties["fix"], Is.EqualTo("mm/memunmap: don't access uninitialized memmap in memunmap_pages()"));
        Assert.That((properties["commit"], properties["verdict"]), Is.EqualTo(("77e080e7680e", "patch-does-not-fix")));
    }

    [Test]
    public void Kcidb_has_a_test_per_case_and_cell_with_the_case_as_its_path()
    {
        var kcidb = Kcidb.Build(Suite(), new ChangeUnderTest("two fixes", "linux-source-6.1", [], ""), new Dictionary<SummaryCell, CellEvidence>());
        var paths = kcidb["tests"]!.AsArray().Select(t => t!["path"]!.GetValue<string>()).ToList();
        Assert.That(paths, Is.EquivalentTo(new[]
        {
            "early-section-memmap.stock-qemu-unpatched-pse-off", "early-section-memmap.unpatched-pse-off", "early-section-memmap.unpatched-pse-on",
            "early-section-memmap.patched-pse-off", "early-section-memmap.patched-pse-on",
            "memunmap-uninit.unpatched-pse-off", "memunmap-uninit.patched-pse-off",
        }));
        var ids = kcidb["tests"]!.AsArray().Select(t => t!["id"]!.GetValue<string>()).ToList();
        Assert.That(ids.Distinct().Count(), Is.EqualTo(7), "test ids stay unique across cases");
        Assert.That(kcidb["builds"]!.AsArray(), Has.Count.EqualTo(4), "each case builds its own unpatched and patched kernel");
    }

    [Test]
    public void The_report_has_a_section_per_case()
    {
        var html = HtmlReport.Render(Suite(), new ChangeUnderTest("two fixes", "linux-source-6.1", [], ""), new Dictionary<SummaryCell, CellEvidence>());
        Assert.That(html, Does.Contain("<h2 id=\"case-early-section-memmap\">Case early-section-memmap</h2>"));
        Assert.That(html, Does.Contain("<h2 id=\"case-memunmap-uninit\">Case memunmap-uninit</h2><p class=\"fix\">fix: " +
            "mm/memunmap: don&#39;t access uninitialized memmap in memunmap_pages() (77e080e7680e); judged by the case's expectations (not modelled)</p>"));
        Assert.That(html,
            Does.Contain("<h3>memunmap-uninit/patched-pse-off</h3><p>Not modelled: no model of memunmap_pages() Expected (the case&#39;s cell): clean</p>"));
    }

    [Test]
    public void A_suite_puts_each_cell_folder_under_its_case()
    {
        var cells = new[] { CaseCell("u", KernelVariant.Unpatched, new CaseExpectation(Outcome.Clean)),
            new Cell("u", Scenario.Seed) { Case = "early-section-memmap" } };
        Assert.That(Reproducer.Plan(Matrix.Shard(cells, 1, null), caseFolders: true).Select(w => w.Folder),
            Is.EqualTo(new[] { "memunmap-uninit/u", "early-section-memmap/u" }));
        Assert.That(Reproducer.Plan(Matrix.Shard(cells.Take(1).ToList(), 1, null)).Select(w => w.Folder),
            Is.EqualTo(new[] { "u" }), "one case: folders as before");
    }
}

/// <summary>The change of a suite: every case's fix named once, even when two cases carry the same fix.</summary>
public class SuiteChangeTests
{
    [Test]
    public void Two_cases_with_the_same_fix_name_it_once()
    {
        var dir = Directory.CreateTempSubdirectory("qhh-change-").FullName;
        var (a, b, c) = (Path.Combine(dir, "a.patch"), Path.Combine(dir, "b.patch"), Path.Combine(dir, "c.patch"));
        File.WriteAllText(a, "Subject: [PATCH] mm/sparse: one fix\n");
        File.WriteAllText(b, "Subject: [PATCH v2] mm/sparse: one fix\n");
        File.WriteAllText(c, "Subject: [PATCH] mm/memunmap: another fix\n");
        Assert.That(ChangeUnderTest.FromPatches([a, b, c], "linux-source-6.1").Subject, Is.EqualTo("mm/sparse: one fix; mm/memunmap: another fix"));
        Directory.Delete(dir, recursive: true);
    }
}
