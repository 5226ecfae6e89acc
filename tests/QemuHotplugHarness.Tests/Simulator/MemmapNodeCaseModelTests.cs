using System.Text.RegularExpressions;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Simulator;

/// <summary>
/// pcdimm-remove-memmap-node (9d8573111024, lines 6.12 and latest) against oracles the simulator never computes: each
/// cell's "expect" in case.json, and the real guests' consoles and step logs beside it (observed-LINE-*.log), read with
/// the harness's oops scanner and plain text matching. Layouts no guest ran are expected from reading the 6.12 source
/// (mm/sparse-vmemmap.c, mm/memory_hotplug.c, mm/memremap.c), said per test.
/// </summary>
public class MemmapNodeCaseModelTests
{
    private const string Name = "pcdimm-remove-memmap-node";
    private static readonly string[] Lines = ["6.12", "latest"];

    private static Case Load(string name) => SuiteCases.Catalog(RepoLayout.Discover(), []).Load(name);

    private static string Log(string line, string variant) => File.ReadAllText(Path.Combine(Load(Name).Folder, $"observed-{line}-{variant}.log"));

    private static Scenario Cell(Case c, KernelVariant variant, string line) =>
        CellExpectationAsserts.ScenarioOf(c, c.Cells!.Single(x => x.Kernel == variant), line);

    private static Prediction Predict(KernelVariant variant, string line, Func<Scenario, Scenario>? change = null) =>
        CellExpectationAsserts.PredictCell(Load(Name), variant, line, change);

    private static IEnumerable<TestCaseData> Cells() =>
        Lines.SelectMany(line => Load(Name).Cells!.Select(cell => new TestCaseData(line, cell.Name).SetName($"{Name}/{line}/{cell.Name}")));

    [TestCaseSource(nameof(Cells))]
    public void Each_cell_is_predicted_as_its_case_json_expects(string line, string cellName)
    {
        var c = Load(Name);
        var cell = c.Cells!.Single(x => x.Name == cellName);
        var p = Predict(cell.Kernel, line);
        Assert.Multiple(() =>
        {
            Assert.That(c.Modelled, Is.True);
            Assert.That(c.Lines[line].NotApplicable, Is.Null);
            Assert.That(ModelLimits.NotModelled(Cell(c, cell.Kernel, line), c.Model), Is.Empty);
            CellExpectationAsserts.MatchesExpect(p, cell);
        });
    }

    [TestCaseSource(nameof(Lines))]
    public void The_unpatched_prediction_is_the_oops_the_guest_showed(string line)
    {
        var text = Log(line, "unpatched");
        var report = OopsScanner.Scan(text).First();
        var p = Predict(KernelVariant.Unpatched, line);
        var lastStep = Regex.Matches(text, @"^### iteration-(\d+)-step-\d+: (.*)$", RegexOptions.Multiline)[^1];
        // section_deactivate() keeps the pfn in RBP and its struct page (pfn_to_page()) in R14.
        var rbp = Convert.ToUInt64(Regex.Match(text, @"RBP: ([0-9a-f]{16})").Groups[1].Value, 16);
        var r14 = Convert.ToUInt64(Regex.Match(text, @"R14: ([0-9a-f]{16})").Groups[1].Value, 16);
        Assert.Multiple(() =>
        {
            Assert.That(p.OopsTitle, Is.EqualTo(report.Title));
            Assert.That(p.OopsFunction, Is.EqualTo(report.Function));
            Assert.That(p.OopsIteration, Is.EqualTo(int.Parse(lastStep.Groups[1].Value)));
            Assert.That(p.OopsPfn, Is.EqualTo(rbp));
            Assert.That(p.VmemmapBase + p.OopsPfn * (ulong)p.StructPageSize, Is.EqualTo(r14));
            // The guest's oops ends the wait for DEVICE_DELETED; the model's comes in the device_del step that starts the eject.
            Assert.That(lastStep.Groups[2].Value, Does.StartWith("wait-event DEVICE_DELETED dimm1"));
            Assert.That(p.OopsStep, Is.EqualTo("qmp device_del {\"id\":\"dimm1\"}"));
            Assert.That(text, Does.Contain("memory112 online"), "the blocks were online (movable) before the eject");
        });
    }

    [TestCaseSource(nameof(Lines))]
    public void The_patched_prediction_is_the_clean_run_with_the_memory_blocks_it_showed(string line)
    {
        var text = Log(line, "patched");
        var p = Predict(KernelVariant.Patched, line);
        static List<(ulong, string)> Blocks(string s) =>
            Regex.Matches(s, @"memory(\d+) (online|offline)").Select(m => (ulong.Parse(m.Groups[1].Value), m.Groups[2].Value)).Distinct().ToList();
        // The memory-blocks step printed "memory112 online, ..."; the model's step event lists the same blocks, then removes them.
        var predictedStep = p.Iterations[0].Events.Single(e => e.StartsWith("memory blocks of dimm1:", StringComparison.Ordinal));
        Assert.Multiple(() =>
        {
            Assert.That(text, Does.Not.Contain("BUG"));
            Assert.That(p.Outcome, Is.EqualTo(Outcome.Clean), string.Join("\n", p.Explanation));
            Assert.That(p.Iterations, Has.Count.EqualTo(Regex.Matches(text, @"^### iteration-(\d+)-step-1:", RegexOptions.Multiline).Count));
            Assert.That(Blocks(predictedStep), Is.EqualTo(Blocks(text)));
            Assert.That(Blocks(text), Is.EqualTo(Enumerable.Range(112, 8).Select(i => ((ulong)i, "online")).ToList()));
            Assert.That(predictedStep, Does.Contain("(movable)"));
        });
    }

    // Layouts no guest has run: the expected values come from reading the 6.12 source, not from the model.

    [Test]
    public void A_dimm_never_onlined_is_read_poisoned_too()
    {
        // memhp_default_state=offline: nothing initialises the DIMM's memmap after sparse_add_section() poisoned it
        // (mm/sparse-vmemmap.c: page_init_poison() on the memmap section_activate() returned), so the unpatched
        // depopulate_section_memmap() reads the same poison at the DIMM's first pfn without any offlining; patched: clean.
        var unpatched = Predict(KernelVariant.Unpatched, "6.12", NeverOnlined);
        var events = string.Join("\n", unpatched.Iterations[0].Events);
        Assert.Multiple(() =>
        {
            Assert.That(ModelLimits.NotModelled(NeverOnlined(Cell(Load(Name), KernelVariant.Unpatched, "6.12")), Load(Name).Model), Is.Empty);
            Assert.That((unpatched.Outcome, unpatched.OopsTitle, unpatched.OopsPfn), Is.EqualTo((Outcome.Oops, "kernel BUG in section_deactivate", (ulong?)0x380000UL)));
            Assert.That(events, Does.Not.Contain("offline_pages"));
            Assert.That(events, Does.Contain("memory blocks of dimm1: memory112 offline"));
            Assert.That(Predict(KernelVariant.Patched, "6.12", NeverOnlined).Outcome, Is.EqualTo(Outcome.Clean));
        });
    }

    [Test]
    public void A_namespace_inside_boot_ram_s_early_section_is_removed_without_the_node_lookup()
    {
        // memunmap_pages() -> __remove_pages() -> section_deactivate(): "if (!section_is_early)
        // depopulate_section_memmap(...)". A 16 MiB devdax namespace at 0x144000000 lies wholly in section 40, which
        // boot RAM made early: the unpatched kernel never reaches the node lookup and the create/destroy loop is clean.
        // 256 MiB reaches section 41 (not early), whose first pfn 0x148000 remove_pfn_range_from_zone() poisoned: the
        // node lookup of the reporters' devdax unbind, here as the PGFLAGS BUG.
        var model = Load(Name).Model;
        var nvdimm = Load("memunmap-altmap-reserve").Scenario;
        Scenario Sized(string size)
        {
            var s = WithNamespaceSize(nvdimm, size).WithKernel(KernelVariant.Unpatched);
            return s with { Kernel = s.Kernel with { Line = "6.12" } };
        }
        var inside = Predictor.Predict(Sized("16M"), model);
        var across = Predictor.Predict(Sized("256M"), model);
        Assert.Multiple(() =>
        {
            Assert.That(ModelLimits.NotModelled(Sized("16M"), model), Is.Empty);
            Assert.That(inside.Outcome, Is.EqualTo(Outcome.Clean), string.Join("\n", inside.Explanation));
            Assert.That(string.Join("\n", inside.Iterations[0].Events), Does.Not.Contain("depopulate_section_memmap: page_pgdat()"));
            Assert.That((across.Outcome, across.OopsTitle, across.OopsPfn, across.OopsIteration),
                Is.EqualTo((Outcome.Oops, "kernel BUG in section_deactivate", (ulong?)0x148000UL, (int?)1)), string.Join("\n", across.Explanation));
        });
    }

    [Test]
    public void Poisoning_turned_off_is_outside_the_model()
    {
        // vm_debug=- (no 'P'): page_init_poison() does nothing. From the source, the online_movable path would then read
        // node 0 from the struct pages online_pages() initialised and be clean, but a DIMM never onlined would hand
        // page_to_nid() whatever its vmemmap memory held: the model does not guess and says so.
        var c = Load(Name);
        var s = Cell(c, KernelVariant.Unpatched, "6.12");
        var reasons = ModelLimits.NotModelled(s with { KernelArgs = $"{s.KernelArgs} vm_debug=-" }, c.Model);
        Assert.That(reasons, Has.Some.Contains("struct page poisoning is off"));
    }

    [Test]
    public void The_sweep_and_the_draw_cover_the_case_s_own_layouts()
    {
        var c = Load(Name);
        Assert.That(Sweep.Layouts(c.Scenario).Select(DeviceLayouts.Describe).Distinct().Count(), Is.EqualTo(DeviceLayouts.Of(c.Scenario).Count));
        var space = new QemuHotplugHarness.Orchestration.Validation.ValidationSpace { Base = Cell(c, KernelVariant.Unpatched, "6.12"), Case = c.Name, Model = c.Model };
        var drawn = QemuHotplugHarness.Orchestration.Validation.ValidationDraw.DrawEveryCase([space], 12, seed: 1).Scenarios;
        Assert.That(drawn.Select(d => d.OutcomeClass), Has.Some.StartsWith("oops@").And.Some.EqualTo("clean"));
        Assert.That(drawn.Select(d => DeviceLayouts.Describe(d.Scenario)).Distinct().Count(), Is.GreaterThan(1));
    }

    private static Scenario NeverOnlined(Scenario s)
    {
        var hosts = s.Workload.IterationHosts!.ToList();
        var argv = s.Workload.Iteration!.ToList();
        var i = hosts.FindIndex(h => h is { Kind: HostStepKind.MemoryBlocks });
        var expect = hosts[i]! with { Expect = MemoryBlockState.Offline };
        (hosts[i], argv[i]) = (expect, expect.Describe());
        return s with { KernelArgs = "memhp_default_state=offline", Workload = s.Workload with { IterationHosts = hosts, Iteration = argv } };
    }

    private static Scenario WithNamespaceSize(Scenario s, string size)
    {
        var argv = s.Workload.Iteration!.Select(a => a.Select(x => x.StartsWith("--size=", StringComparison.Ordinal) ? $"--size={size}" : x).ToList()).ToList();
        return s with { Workload = s.Workload with { Iteration = argv } };
    }
}
