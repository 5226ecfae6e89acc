using QemuHotplugHarness.Build;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;

namespace QemuHotplugHarness.Tests.Scenarios;

/// <summary>
/// The repository's cases checked as data (every line a kernel line, every file there, every observed console scanned to
/// the title its cell expects), the lines a case does not apply to, and a user's own case folders beside cases/.
/// </summary>
public class CaseCatalogTests
{
    private static readonly RepoLayout Repo = RepoLayout.Discover();
    private static readonly string[] LineNames = Directory.GetFiles(Path.Combine(Repo.Root, "kernel-lines"), "*.json")
        .Select(Path.GetFileNameWithoutExtension).OfType<string>().ToArray();

    public static IEnumerable<string> RepositoryCases() =>
        Directory.GetDirectories(Path.Combine(RepoLayout.Discover().Root, "cases")).Select(Path.GetFileName).OfType<string>().Order();

    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("qhh-catalog-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [TestCaseSource(nameof(RepositoryCases))]
    public void A_case_of_the_repository_loads_and_names_only_kernel_lines_there_are(string name)
    {
        var c = SuiteCases.Library(Repo).Load(name);
        Assert.That(c.Lines.Keys, Is.SubsetOf(LineNames), "a line key must be a file of kernel-lines/");
        Assert.That(c.Lines.Values.Where(l => l.Patch is not null).Select(l => File.Exists(l.Patch)), Has.All.True);
        var files = Directory.GetFiles(c.Folder).Select(Path.GetFileName).ToList();
        var fixes = files.Where(f => f!.StartsWith("fix-", StringComparison.Ordinal)).ToList();
        Assert.That(fixes, Is.EquivalentTo(c.Lines.Values.Where(l => l.Patch is not null).Select(l => Path.GetFileName(l.Patch)).Distinct()),
            "every fix file of the folder is some line's fix (none forgotten, none dangling; two lines may share a port)");
    }

    /// <summary>observed-LINE-VARIANT.log: the real console of that cell; the scanner must read the oops the cell expects, or none.</summary>
    [TestCaseSource(nameof(RepositoryCases))]
    public void Every_observed_console_of_a_case_scans_to_what_its_cell_expects(string name)
    {
        var c = SuiteCases.Library(Repo).Load(name);
        var logs = Directory.GetFiles(c.Folder, "observed-*.log");
        if (logs.Length == 0) Assert.Ignore($"{name} keeps no observed console (the simulator's prediction is its record)");
        foreach (var log in logs)
        {
            var variant = Path.GetFileNameWithoutExtension(log).Split('-').Last();
            var cell = c.Cells!.First(x => x.Kernel.Kebab() == variant);
            var titles = OopsScanner.Scan(File.ReadAllText(log)).Select(o => o.Title).ToList();
            if (cell.Expect!.Outcome == Outcome.Oops)
                Assert.That(cell.Expect.TitleMatches(titles.FirstOrDefault()), Is.True, $"{Path.GetFileName(log)}: {string.Join(", ", titles)}");
            else Assert.That(titles, Is.Empty, Path.GetFileName(log));
        }
    }

    [Test]
    public void A_line_key_that_is_no_kernel_line_is_named_with_the_lines_there_are()
    {
        WriteCase(_dir, "t", "\"6.1\": { \"patch\": \"fix.patch\" }, \"5.10\": { \"patch\": \"fix.patch\" }");
        var e = Assert.Throws<BadInputException>(() => new CaseLibrary(_dir, ["6.1", "6.12", "latest"]).Load("t"))!;
        Assert.That(e.Problems.Select(p => p.ToString()),
            Is.EqualTo(new[] { $"{Path.GetFileName(_dir)}/t/case.json: lines.5.10: no such kernel line (kernel-lines/ has 6.1, 6.12, latest)" }));
    }

    [Test]
    public void A_line_the_bug_never_reached_is_not_applicable_with_its_reason_and_a_line_without_a_fix_says_so()
    {
        WriteCase(_dir, "t", "\"6.1\": { \"notApplicable\": \"the bug arrived in 6.11\" }, \"6.12\": { \"patch\": \"fix.patch\" }");
        var c = new CaseLibrary(_dir).Load("t");
        Assert.Multiple(() =>
        {
            Assert.That(c.NotApplicableOn("6.1"), Is.EqualTo("not applicable on kernel line 6.1: the bug arrived in 6.11"));
            Assert.That(c.NotApplicableOn("6.12"), Is.Null);
            Assert.That(c.NotApplicableOn("latest"), Does.StartWith("no fix for kernel line latest"));
            Assert.That(Assert.Throws<BadInputException>(() => c.PatchFor("6.1"))!.Message,
                Is.EqualTo("case t: not applicable on kernel line 6.1: the bug arrived in 6.11"));
        });
    }

    [Test]
    public void A_line_whose_fix_is_ported_but_whose_symptom_the_workload_cannot_reach_is_skipped_yet_keeps_its_fix()
    {
        WriteCase(_dir, "t", "\"6.1\": { \"patch\": \"fix.patch\" }, \"latest\": { \"patch\": \"fix.patch\", \"notApplicable\": \"the reader copies the page\" }");
        var c = new CaseLibrary(_dir).Load("t");
        Assert.Multiple(() =>
        {
            Assert.That(c.NotApplicableOn("latest"), Is.EqualTo("not applicable on kernel line latest: the reader copies the page"));
            Assert.That(c.PatchFor("latest"), Is.EqualTo(Path.Combine(_dir, "t", "fix.patch")), "a run naming the case still builds the line's kernels");
            Assert.That(c.NotApplicableOn("6.1"), Is.Null);
        });
    }

    [Test]
    public void A_users_folder_adds_its_cases_and_a_broken_one_is_skipped_with_its_problems_not_fatal()
    {
        WriteCase(_dir, "mine", "\"6.1\": { \"patch\": \"fix.patch\" }");
        WriteCase(_dir, "broken", "\"6.1\": { \"patch\": \"nope.patch\" }");
        var (cases, broken) = SuiteCases.Catalog(Repo, [_dir]).LoadAll();
        Assert.Multiple(() =>
        {
            Assert.That(cases.Select(c => c.Name), Does.Contain("mine").And.Contain(HarnessDefaults.Repo.Case));
            Assert.That(broken.Select(b => (b.Name, b.Problems.Single())),
                Is.EqualTo(new[] { ("broken", $"{Path.GetFileName(_dir)}/broken/case.json: lines.6.1.patch: \"nope.patch\": no such file in the case's folder") }));
            Assert.That(SuiteCases.Catalog(Repo, [_dir]).Load("mine").Folder, Is.EqualTo(Path.Combine(_dir, "mine")));
        });
    }

    /// <summary>docs/cases.md's worked example (README links it) is a case that loads as a user's folder: a pc-dimm added and removed over QMP.</summary>
    [Test]
    public void The_worked_pc_dimm_example_of_the_docs_is_a_case_that_loads()
    {
        var doc = File.ReadAllText(Path.Combine(Repo.Root, "docs", "cases.md"));
        var section = doc[doc.IndexOf("### Worked example: a pc-dimm case is one folder", StringComparison.Ordinal)..];
        var start = section.IndexOf("```json\n", StringComparison.Ordinal) + "```json\n".Length;
        var json = section[start..section.IndexOf("```", start, StringComparison.Ordinal)];
        var folder = Path.Combine(_dir, "my-pcdimm-unplug");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "case.json"), json);
        File.Copy(Path.Combine(Repo.Root, "cases", "pcdimm-unplug-offline", "fix-6.1.patch"), Path.Combine(folder, "fix-6.1.patch"));
        var c = SuiteCases.Catalog(Repo, [_dir]).Load("my-pcdimm-unplug");
        Assert.Multiple(() =>
        {
            Assert.That(c.Scenario.KernelArgs, Is.EqualTo("memhp_default_state=offline"));
            Assert.That(c.Scenario.Workload.Steps().Select(x => x.Host?.Kind), Is.EqualTo(new HostStepKind?[]
                { HostStepKind.Qmp, HostStepKind.Qmp, HostStepKind.MemoryBlocks, HostStepKind.Qmp, HostStepKind.WaitEvent }));
            Assert.That(c.Cells!.Select(x => x.Expect!.Describe()),
                Is.EqualTo(new[] { "oops \"kernel BUG in arch_remove_memory\" at iteration 1", "clean" }));
        });
    }

    [Test]
    public void A_users_case_named_like_one_of_the_repository_is_refused_naming_both_folders()
    {
        WriteCase(_dir, HarnessDefaults.Repo.Case, "\"6.1\": { \"patch\": \"fix.patch\" }");
        var e = Assert.Throws<BadInputException>(() => SuiteCases.Catalog(Repo, [_dir]).LoadAll())!;
        Assert.That(e.Problems.Single().ToString(), Does.StartWith($"case {HarnessDefaults.Repo.Case}: in ").And.Contain(_dir));
    }

    [Test]
    public void A_broken_case_of_the_repository_is_the_harness_fault_not_the_users()
    {
        var repo = Path.Combine(_dir, "repo");
        WriteCase(repo, "bad", "\"6.1\": { \"patch\": \"nope.patch\" }");
        var e = Assert.Throws<InfrastructureException>(() => new CaseCatalog(new CaseLibrary(repo), []).LoadAll())!;
        Assert.That(e.Message, Does.StartWith("the harness's own cases/ are malformed:").And.Contain("nope.patch"));
    }

    [Test]
    public void A_config_fragment_named_by_a_case_expands_in_place_so_its_kernels_keep_their_cache_keys()
    {
        var c = SuiteCases.Library(Repo).Load("zone-device-section-collision");
        Assert.That(c.Config, Is.EqualTo(new[]
        {
            "CONFIG_DEBUG_VM=y", "CONFIG_DEBUG_VM_PGFLAGS=y", "CONFIG_PROC_PAGE_MONITOR=y", "CONFIG_ACPI_HOTPLUG_MEMORY=y",
        }), "the lines the case listed before the fragment existed, in their order");
    }

    [Test]
    public void An_unknown_config_fragment_is_named_with_the_fragments_there_are()
    {
        WriteCase(_dir, "t", "\"6.1\": { \"patch\": \"fix.patch\" }", config: "[\"debug-vn\", \"CONFIG_X=y\"]");
        var e = Assert.Throws<BadInputException>(() => new CaseLibrary(_dir, null, Repo.ConfigFragments).Load("t"))!;
        Assert.That(e.Problems.Single().ToString(), Does.EndWith("config[0]: no config fragment \"debug-vn\" (images/kernel/fragments/ has debug-vm)")
            .Or.Contains("config[0]: no config fragment \"debug-vn\" (images/kernel/fragments/ has "));
    }

    [TestCase(null, "7.2", "latest")]
    [TestCase(null, "6.12", "6.12")]
    [TestCase(null, "6.6", "6.1")]
    [TestCase("6.12", "7.2", "6.12")]
    [TestCase(null, null, "6.1")]
    public void One_rule_resolves_the_line_of_every_command(string? asked, string? treeVersion, string line)
    {
        string? tree = null;
        if (treeVersion is not null)
        {
            tree = Path.Combine(_dir, "linux");
            Directory.CreateDirectory(tree);
            var v = treeVersion.Split('.');
            File.WriteAllText(Path.Combine(tree, "Makefile"), $"VERSION = {v[0]}\nPATCHLEVEL = {v[1]}\nSUBLEVEL = 0\n");
        }
        Assert.That(Repo.Lines().Resolve(asked, tree).Name, Is.EqualTo(line));
    }

    private static void WriteCase(string root, string name, string lines, string config = "[]")
    {
        var folder = Path.Combine(root, name);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "fix.patch"), "Subject: [PATCH] mm: fix\n");
        File.WriteAllText(Path.Combine(folder, "case.json"), $$"""
            { "name": "{{name}}", "summary": "s", "fix": { "subject": "mm: fix" }, "lines": { {{lines}} }, "config": {{config}},
              "workload": { "setup": [], "iteration": [["true"]], "iterations": 1 },
              "cells": [ { "name": "u", "kernel": "unpatched", "expect": { "outcome": "oops", "title": "BUG*" } } ],
              "modelled": false, "notModelledReason": "r" }
            """);
    }
}
