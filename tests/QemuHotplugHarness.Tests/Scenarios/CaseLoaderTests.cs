using QemuHotplugHarness.Build;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;

namespace QemuHotplugHarness.Tests.Scenarios;

/// <summary>cases/NAME/case.json: the fixture folders under Corpus/cases, small cases written per test, and the repository's own cases/.</summary>
public class CaseLoaderTests
{
    private static string Fixtures(string set) => Path.Combine(AppContext.BaseDirectory, "Corpus", "cases", set);

    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("qhh-cases-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void A_case_outside_the_model_loads_with_its_fix_lines_config_workload_and_cells()
    {
        var c = new CaseLibrary(Fixtures("good")).Load("memunmap-uninit");
        Assert.Multiple(() =>
        {
            Assert.That(c.Name, Is.EqualTo("memunmap-uninit"));
            Assert.That(c.Fix,
                Is.EqualTo(new CaseFix("mm/memunmap: don't access uninitialized memmap in memunmap_pages()", "77e080e7680e", null, "v5.5", null)));
            Assert.That(c.Lines.Keys, Is.EqualTo(new[] { "6.1" }));
            Assert.That(c.PatchFor("6.1"), Is.EqualTo(Path.Combine(Fixtures("good"), "memunmap-uninit", "fix-6.1.patch")));
            Assert.That(c.Lines["6.1"].Code, Is.EqualTo("mm/memremap.c memunmap_pages()"));
            Assert.That(c.Config, Is.EqualTo(new[] { "CONFIG_DEBUG_VM=y", "CONFIG_DEBUG_VM_PGFLAGS=y" }));
            Assert.That(c.Modelled, Is.False);
            Assert.That(c.NotModelledReason, Is.EqualTo("the simulator has no model of memunmap_pages()"));
            Assert.That(c.Scenario.Name, Is.EqualTo("memunmap-uninit"));
            Assert.That(c.Scenario.Workload.NamespaceSize.ToString(), Is.EqualTo("64M"), "the scenario's own fields are read");
            Assert.That(c.Scenario.Machine.Ram.ToString(), Is.EqualTo("4160M"), "absent fields take the seed's values");
            Assert.That(c.Scenario.Workload.Iterations, Is.EqualTo(2));
            Assert.That(c.Cells, Is.EqualTo(new[]
            {
                new CaseCell("unpatched-pse-off", KernelVariant.Unpatched, false, QemuFlavour.Patched, new CaseExpectation(Outcome.Oops, "kernel BUG in *", 1)),
                new CaseCell("patched-pse-on", KernelVariant.Patched, true, QemuFlavour.Patched, new CaseExpectation(Outcome.Clean)),
            }));
        });
    }

    [Test]
    public void A_case_workload_becomes_setup_steps_then_iteration_steps_counted_per_iteration()
    {
        var steps = new CaseLibrary(Fixtures("good")).Load("memunmap-uninit").Scenario.Workload.Steps();
        Assert.That(steps.Select(s => (s.Name, s.Iteration, string.Join(' ', s.Arguments))), Is.EqualTo(new[]
        {
            ("setup-1", 0, "ndctl disable-region all"), ("setup-2", 0, "ndctl init-labels all"), ("setup-3", 0, "ndctl enable-region all"),
            ("iteration-1-step-1", 1, "ndctl create-namespace --mode=devdax --map=dev --size=64M"),
            ("iteration-1-step-2", 1, "ndctl destroy-namespace --force all"),
            ("iteration-2-step-1", 2, "ndctl create-namespace --mode=devdax --map=dev --size=64M"),
            ("iteration-2-step-2", 2, "ndctl destroy-namespace --force all"),
        }));
        Assert.That(steps.Any(s => s.IsReconfigure), Is.False, "no /proc/iomem read for namespace0.0 after a case's own steps");
    }

    [Test]
    public void The_seed_workload_steps_are_unchanged()
    {
        var steps = Scenario.Seed.Workload.Steps();
        Assert.That(steps.Select(s => (s.Name, s.Iteration, s.IsReconfigure, string.Join(' ', s.Arguments))), Is.EqualTo(new[]
        {
            ("disable-region", 0, false, "ndctl disable-region all"), ("init-labels", 0, false, "ndctl init-labels all"),
            ("enable-region", 0, false, "ndctl enable-region all"),
            ("reconfigure-1", 1, true, "ndctl create-namespace --force --reconfig=namespace0.0 --mode=devdax --size=16M"),
            ("reconfigure-2", 2, true, "ndctl create-namespace --force --reconfig=namespace0.0 --mode=devdax --size=16M"),
            ("reconfigure-3", 3, true, "ndctl create-namespace --force --reconfig=namespace0.0 --mode=devdax --size=16M"),
        }));
    }

    [Test]
    public void A_malformed_case_is_one_line_per_problem_naming_file_and_field()
    {
        var e = Assert.Throws<BadInputException>(() => new CaseLibrary(Fixtures("bad")).Load("broken-case"))!;
        const string f = "bad/broken-case/case.json";
        Assert.That(e.Problems.Select(p => p.ToString()), Is.EquivalentTo(new[]
        {
            $"{f}: name: \"not-the-folder\" is not the folder's name (broken-case)",
            $"{f}: fix.commit: \"not-hex\" is not a commit id (7 to 40 hex digits)",
            $"{f}: lines.6.12.patch: \"fix-6.12.patch\": no such file in the case's folder",
            $"{f}: config[1]: \"DEBUG_VM_PGFLAGS=y\" is not a config line (CONFIG_X=y, CONFIG_X=value or \"# CONFIG_X is not set\") nor a fragment's name",
            $"{f}: cells[1].colour: unknown field (known: name, kernel, pse, qemu, expect)",
            $"{f}: cells[1].expect.outcome: unknown outcome \"oopz\" (use clean, oops, rejected, workload-failed, hung, precondition-failed, infra-error)",
            $"{f}: model.readers.kpagecount-reed: unknown field (known: pageunmap-range, pageblock-pfn-to-page, stable-page-flags, kpagecount-read, " +
            "kpagecgroup-read, arch-remove-memory, virtio-mem-online-page, depopulate-section-memmap)",
        }));
    }

    [Test]
    public void A_suite_load_reports_the_problems_of_every_case_at_once()
    {
        var e = Assert.Throws<BadInputException>(() => new CaseLibrary(Fixtures("bad")).LoadAll())!;
        Assert.That(e.Problems.Select(p => p.ToString()), Has.Some.StartsWith("bad/broken-case/case.json: name:"));
        Assert.That(e.Problems.Select(p => p.ToString()), Has.Some.StartsWith("bad/other/case.json: not valid JSON:"));
    }

    [Test]
    public void An_unknown_case_names_the_cases_there_are() =>
        Assert.That(Assert.Throws<BadInputException>(() => new CaseLibrary(Fixtures("bad")).Load("nope"))!.Problems.Single(),
            Is.EqualTo(new InputProblem(InputKind.Case, "nope", "no such case (cases: broken-case, other)")));

    [Test]
    public void A_line_without_a_fix_is_one_line_saying_how_to_add_it()
    {
        var c = new CaseLibrary(Fixtures("good")).Load("memunmap-uninit");
        Assert.That(Assert.Throws<BadInputException>(() => c.PatchFor("6.12"))!.Message,
            Is.EqualTo("case memunmap-uninit: no fix for kernel line 6.12 (add fix-6.12.patch and a \"lines\" entry to memunmap-uninit/case.json, or say \"notApplicable\")"));
    }

    private const string Valid = """
        { "name": "t", "summary": "s", "fix": { "subject": "mm: fix" }, "lines": { "6.1": { "patch": "fix.patch" } },
          "workload": { "setup": [], "iteration": [["ndctl", "destroy-namespace", "all"]], "iterations": 1 },
          "cells": [ { "name": "u", "kernel": "unpatched", "expect": { "outcome": "oops", "title": "BUG*" } } ],
          "modelled": false, "notModelledReason": "r" }
        """;

    [TestCase(", \"notModelledReason\": \"r\"", "", "notModelledReason: missing (a case outside the simulator says why)")]
    [TestCase("\"outcome\": \"oops\", \"title\": \"BUG*\"", "\"outcome\": \"clean\", \"title\": \"BUG*\"",
        "cells[0].expect.title: only an oops has a title (outcome is clean)")]
    [TestCase("[\"ndctl\", \"destroy-namespace\", \"all\"]", "[]", "workload.iteration[0]: an empty command")]
    [TestCase("\"iterations\": 1", "\"iterations\": 0", "workload.iterations: must be a whole number from 1 to 10000, not 0")]
    [TestCase("\"kernel\": \"unpatched\"", "\"kernel\": \"fixed\"", "cells[0].kernel: unknown kernel variant \"fixed\" (use unpatched, patched)")]
    [TestCase("\"summary\": \"s\", ", "", "summary: missing")]
    [TestCase("\"patch\": \"fix.patch\"", "\"patch\": \"../fix.patch\"", "lines.6.1.patch: \"../fix.patch\": name a file inside the case's folder")]
    [TestCase("\"name\": \"t\", ", "\"name\": \"t\", \"scenario\": { \"nvdimm\": { \"address\": \"0x144100000\" } }, ",
        "scenario: nvdimmAddress 0x144100000: not 2 MiB aligned")]
    [TestCase("\"name\": \"t\", ", "\"name\": \"t\", \"extra\": 1, ",
        "extra: unknown field (known: name, summary, fix, lines, config, scenario, devices, kernelArgs, workload, cells, modelled, notModelledReason, model)")]
    [TestCase("\"6.1\": { \"patch\": \"fix.patch\" }", "\"6.1\": { \"notApplicable\": \"r\" }",
        "lines: no kernel line with a fix: the case needs its fix for at least one line")]
    [TestCase("} } ],", "} }, { \"name\": \"u\", \"kernel\": \"patched\", \"expect\": { \"outcome\": \"clean\" } } ],",
        "cells[1].name: \"u\" is the name of an earlier cell")]
    public void Each_problem_is_named_by_its_field(string from, string to, string problem)
    {
        var e = Assert.Throws<BadInputException>(() => LoadMutated(from, to))!;
        Assert.That(e.Problems.Select(p => p.ToString()), Is.EqualTo(new[] { "cases/t/case.json: " + problem }));
    }

    [Test]
    public void A_modelled_case_without_a_model_carries_neither_its_own_workload_nor_expectations()
    {
        var e = Assert.Throws<BadInputException>(() => LoadMutated("\"modelled\": false, \"notModelledReason\": \"r\"", "\"modelled\": true"))!;
        Assert.That(e.Problems.Select(p => p.ToString()), Is.EqualTo(new[]
        {
            "cases/t/case.json: workload: a case's own workload is modelled only with a \"model\" (the check its fix adds); else \"modelled\": false",
            "cases/t/case.json: cells[0].expect: a modelled case is judged by the simulator's prediction (set \"modelled\": false to judge by expectations)",
        }));
    }

    private Case LoadMutated(string from, string to)
    {
        Assert.That(Valid, Does.Contain(from), "the mutation must change the valid case");
        var folder = Path.Combine(_dir, "t");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "fix.patch"), "Subject: [PATCH] mm: fix\n");
        File.WriteAllText(Path.Combine(folder, "case.json"), Valid);
        Assert.That(CaseLoader.Load(folder, "cases/t/case.json").Name, Is.EqualTo("t"), "the unmutated case is valid");
        File.WriteAllText(Path.Combine(folder, "case.json"), Valid.Replace(from, to));
        return CaseLoader.Load(folder, "cases/t/case.json");
    }

    [Test]
    public void The_seed_case_of_the_repository_is_the_modelled_five_cell_matrix_with_its_6_1_fix()
    {
        var c = SuiteCases.Library(RepoLayout.Discover()).Load(HarnessDefaults.Repo.Case);
        var recipe = KernelRecipe.Of(c, KernelSources.Default);
        var cells = SuiteCases.Cells(c, c.Scenario, recipe);
        Assert.Multiple(() =>
        {
            Assert.That(c.Modelled, Is.True);
            Assert.That(c.Cells, Has.Count.EqualTo(5), "the seed's five cells are data, like any case's");
            Assert.That(c.Config, Is.Empty, "the seed needs nothing beyond hotplug.config");
            Assert.That(c.Scenario.KernelArgs, Is.EqualTo("vm_debug=-"),
                "built on the suite's DEBUG_VM configuration, the seed turns struct page poisoning off so its oops stays where production kernels have it");
            Assert.That(c.Fix.Subject, Is.EqualTo("mm/sparse: never partially remove memmap for early section"));
            Assert.That(ChangeUnderTest.SubjectOf(recipe.Patch), Is.EqualTo("mm/sparse: never partially remove memmap for early section"));
            Assert.That(Path.GetFileName(recipe.Patch), Is.EqualTo("fix-6.1.patch"));
            Assert.That(cells.Select(x => x.Name),
                Is.EqualTo(new[] { "stock-qemu-unpatched-pse-off", "unpatched-pse-off", "unpatched-pse-on", "patched-pse-off", "patched-pse-on" }));
            Assert.That(cells.Select(x => x.Scenario with { Name = "seed" }), Is.EqualTo(SeedMatrix.Cells(Scenario.Seed).Select(x => x.Scenario)));
            Assert.That(cells.Select(x => x.Expect), Has.All.Null, "the simulator predicts the seed");
            Assert.That(cells.Select(x => x.Case), Has.All.EqualTo("early-section-memmap"));
        });
    }

    [Test]
    public void The_user_patch_overrides_the_case_fix()
    {
        var c = new CaseLibrary(Fixtures("good")).Load("memunmap-uninit");
        var recipe = KernelRecipe.Of(c, KernelSources.Default with { Patch = "/tmp/mine.patch" });
        Assert.That((recipe.Patch, recipe.ExtraConfig), Is.EqualTo(("/tmp/mine.patch", c.Config)));
        Assert.That(KernelRecipe.Of(c, KernelSources.Default).Patch, Does.EndWith("memunmap-uninit/fix-6.1.patch"));
    }

    [TestCase("kernel BUG in *", "kernel BUG in pageunmap_range", true)]
    [TestCase("kernel BUG in *", "BUG: unable to handle page fault in x", false)]
    [TestCase("kernel BUG in pageunmap_range", "kernel BUG in pageunmap_range", true)]
    [TestCase("kernel BUG in pageunmap_range", "kernel BUG in pageunmap_range_x", false)]
    [TestCase("kernel BUG in *", null, false)]
    public void Titles_match_exactly_or_by_prefix_with_a_star(string expected, string? observed, bool match) =>
        Assert.That(new CaseExpectation(Outcome.Oops, expected).TitleMatches(observed), Is.EqualTo(match));
}
