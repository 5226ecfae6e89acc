using QemuHotplugHarness.Build;
using QemuHotplugHarness.Cli.Commands;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;

namespace QemuHotplugHarness.Tests.Cli;

/// <summary>predict --case: the seed's case predicts as the seed; a case outside the model says why and what each cell must show.</summary>
public class CaseCliTests
{
    [Test]
    public async Task Predict_of_the_seed_case_is_the_seed_prediction()
    {
        var seed = await QhhCli.RunAsync("predict", "--json");
        var viaCase = await QhhCli.RunAsync("predict", "--case", HarnessDefaults.Repo.Case, "--json");
        Assert.That((viaCase.Code, viaCase.Stderr), Is.EqualTo((0, "")));
        Assert.That(viaCase.Stdout, Does.Contain("\"firstFaultPfn\": \"0x144002\""));
        Assert.That(viaCase.Stdout, Is.EqualTo(seed.Stdout));
    }

    [Test]
    public void A_case_outside_the_model_is_described_by_its_reason_and_expectations()
    {
        var c = new CaseLibrary(Path.Combine(AppContext.BaseDirectory, "Corpus", "cases", "good")).Load("memunmap-uninit");
        Assert.That(CaseExpectations.Describe(c), Is.EqualTo(new[]
        {
            "Case memunmap-uninit: destroying a --map=dev namespace touches uninitialized memmap",
            "Fix: mm/memunmap: don't access uninitialized memmap in memunmap_pages() (77e080e7680e); kernel lines: 6.1",
            "Not modelled: the simulator has no model of memunmap_pages()",
            "Expectations (judged on real guests):",
            "  unpatched-pse-off: kernel unpatched, PSE off, QEMU patched: oops \"kernel BUG in *\" at iteration 1",
            "  patched-pse-on: kernel patched, PSE on, QEMU patched: clean",
        }));
    }

    [Test]
    public void Run_of_a_case_outside_the_model_takes_the_expectation_of_its_cell_or_says_there_is_none()
    {
        var c = new CaseLibrary(Path.Combine(AppContext.BaseDirectory, "Corpus", "cases", "good")).Load("memunmap-uninit");
        var judge = CaseExpectations.JudgeFor(c, c.Scenario.WithKernel(KernelVariant.Patched).WithPse(true));
        Assert.That(judge, Is.EqualTo(new ExpectationJudge(new CaseExpectation(Outcome.Clean), "the simulator has no model of memunmap_pages()")));
        Assert.That(judge.Predict(c.Scenario).Outcome, Is.EqualTo(Outcome.Clean));
        var e = Assert.Throws<BadInputException>(() =>
            CaseExpectations.JudgeFor(c, c.Scenario.WithKernel(KernelVariant.Patched)))!;
        Assert.That(e.Reason,
            Does.StartWith("not modelled, and none of its cells (unpatched-pse-off, patched-pse-on) is kernel patched, PSE off, QEMU patched"));
    }
}

/// <summary>
/// reproduce's plan of a case (a user's case folder given with --cases): its own cells with the flags applied to its
/// scenario, its kernel recipe, its expectations; what --plan prints of it.
/// </summary>
public class ReproduceCaseCellsTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Corpus", "cases", "good");

    private static ReproduceCommand.Settings Mine(string? line = null, int? smp = null, string? matrix = null) =>
        new() { Case = "memunmap-uninit", CasesDirs = [Folder], KernelLine = line, Smp = smp, MatrixFile = matrix };

    private static IReadOnlyList<Cell> CellsOf(ReproduceCommand.Settings s) => ReproduceCommand.PlanOf(s, KernelSources.Default, bisectTree: false).Cells;

    [Test]
    public void The_plan_prints_each_cell_with_its_kernel_and_judge_and_each_kernel_to_build_once()
    {
        var plan = ReproduceCommand.PlanOf(Mine(), KernelSources.Default, bisectTree: false);
        Assert.That(plan.Describe(), Is.EqualTo(new[]
        {
            "plan: 1 case(s), 2 cell(s) on kernel line 6.1",
            "  memunmap-uninit/unpatched-pse-off: kernel unpatched, PSE off, QEMU patched; judge expectation: oops \"kernel BUG in *\" at iteration 1",
            "  memunmap-uninit/patched-pse-on: kernel patched, PSE on, QEMU patched; judge expectation: clean",
            "kernels to build: 2 on 1 configuration(s) (the variants of one configuration rebuild only what their fix touches)",
            "  unpatched on line 6.1: memunmap-uninit/fix-6.1.patch + 8 config option(s)",
            "  patched on line 6.1: memunmap-uninit/fix-6.1.patch + 8 config option(s)",
        }));
    }

    [Test]
    public void A_case_cells_carry_the_case_its_fix_and_config_and_its_expectations_and_flags_apply_to_its_scenario()
    {
        var cells = CellsOf(Mine(smp: 4));
        Assert.Multiple(() =>
        {
            Assert.That(cells.Select(x => (x.Label, x.Scenario.Kernel.Variant, x.Scenario.Cpu.Pse)), Is.EqualTo(new[]
            {
                ("memunmap-uninit/unpatched-pse-off", KernelVariant.Unpatched, false),
                ("memunmap-uninit/patched-pse-on", KernelVariant.Patched, true),
            }));
            Assert.That(cells.Select(x => x.Scenario.Machine.Smp), Has.All.EqualTo(4), "the scenario flags override the case's scenario");
            Assert.That(cells.Select(x => x.Scenario.Workload.IsCustom), Has.All.True);
            Assert.That(cells.Select(x => Path.GetFileName(x.Kernel!.Patch)), Has.All.EqualTo("fix-6.1.patch"));
            Assert.That(cells[0].Kernel!.ExtraConfig, Is.EqualTo(new[]
            {
                "CONFIG_DEBUG_VM=y", "CONFIG_DEBUG_VM_PGFLAGS=y", "CONFIG_PROC_PAGE_MONITOR=y", "CONFIG_ACPI_HOTPLUG_MEMORY=y",
                "CONFIG_CGROUPS=y", "CONFIG_MEMCG=y", "CONFIG_VIRTIO_MEM=y", "CONFIG_DEBUG_ATOMIC_SLEEP=y",
            }), "the suite's one configuration, which holds the private case's two options");
            Assert.That(cells.Select(x => x.Expect!.Outcome), Is.EqualTo(new[] { Outcome.Oops, Outcome.Clean }));
        });
    }

    [Test]
    public void A_kernel_line_without_the_case_fix_is_refused_before_any_cell()
    {
        var e = Assert.Throws<BadInputException>(() => CellsOf(Mine(line: "6.12")))!;
        Assert.That(e.Message, Is.EqualTo(
            "case memunmap-uninit: no fix for kernel line 6.12 (add fix-6.12.patch and a \"lines\" entry to memunmap-uninit/case.json, or say \"notApplicable\")"));
    }

    [Test]
    public void A_matrix_file_cannot_replace_the_cells_of_a_case_outside_the_model()
    {
        var matrix = Path.Combine(Directory.CreateTempSubdirectory("qhh-matrix-").FullName, "m.json");
        File.WriteAllText(matrix, """[{ "name": "a" }]""");
        var e = Assert.Throws<BadInputException>(() => CellsOf(Mine(matrix: matrix)))!;
        Assert.That(e.Problems.Single().Reason,
            Does.StartWith("not modelled (the simulator has no model of memunmap_pages()): its own cells carry what each must show; drop --matrix"));
        Directory.Delete(Path.GetDirectoryName(matrix)!, recursive: true);
    }
}
