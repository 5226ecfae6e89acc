using System.Text.RegularExpressions;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Simulator;

/// <summary>
/// The three QMP-driven cases (pc-dimm, virtio-mem) against oracles the simulator never computes: each cell's "expect"
/// in case.json, and the real 6.1 guests' consoles and step logs beside it (observed-6.1-*.log), read with the harness's
/// oops scanner and plain text matching. Layouts no guest ran are expected from reading 6.1's source, said per test.
/// </summary>
public class DeviceCaseModelTests
{
    private static readonly string[] Cases = ["pcdimm-kpagecount", "pcdimm-unplug-offline", "virtio-mem-online-rcu-sleep"];

    private static Case Load(string name) => SuiteCases.Catalog(RepoLayout.Discover(), []).Load(name);

    private static string Log(string name, string variant) => File.ReadAllText(Path.Combine(Load(name).Folder, $"observed-6.1-{variant}.log"));

    private static Prediction Predict(Case c, KernelVariant variant, Func<Scenario, Scenario>? change = null) =>
        CellExpectationAsserts.PredictCell(c, variant, change: change);

    private static IEnumerable<TestCaseData> Cells() =>
        Cases.SelectMany(n => Load(n).Cells!.Select(cell => new TestCaseData(n, cell.Name).SetName($"{n}/{cell.Name}")));

    [TestCaseSource(nameof(Cells))]
    public void Each_cell_is_predicted_as_its_case_json_expects(string name, string cellName)
    {
        var c = Load(name);
        var cell = c.Cells!.Single(x => x.Name == cellName);
        var p = Predict(c, cell.Kernel);
        Assert.Multiple(() =>
        {
            Assert.That(c.Modelled, Is.True);
            Assert.That(ModelLimits.NotModelled(c.Scenario.WithQemu(cell.Qemu), c.Model), Is.Empty);
            CellExpectationAsserts.MatchesExpect(p, cell);
        });
    }

    [TestCaseSource(nameof(Cases))]
    public void The_unpatched_prediction_is_the_oops_the_guest_showed(string name)
    {
        var c = Load(name);
        var text = Log(name, "unpatched");
        var report = OopsScanner.Scan(text).First();
        var p = Predict(c, KernelVariant.Unpatched);
        var lastStep = Regex.Matches(text, @"^### iteration-(\d+)-step-\d+", RegexOptions.Multiline)[^1];
        Assert.Multiple(() =>
        {
            Assert.That(p.OopsTitle, Is.EqualTo(report.Title));
            Assert.That(p.OopsFunction, Is.EqualTo(report.Function));
            Assert.That(p.OopsIteration, Is.EqualTo(int.Parse(lastStep.Groups[1].Value)));
            // The pc-dimm oopses name the DIMM's first pfn in R14 (start_pfn / the pfn read); a sleeping-function splat names none.
            var r14 = Regex.Match(text, @"R14: ([0-9a-f]{16})");
            Assert.That(p.OopsPfn, Is.EqualTo(r14.Success ? Convert.ToUInt64(r14.Groups[1].Value, 16) : null));
        });
    }

    [TestCaseSource(nameof(Cases))]
    public void The_patched_prediction_is_the_clean_run_with_the_memory_blocks_it_showed(string name)
    {
        var c = Load(name);
        var text = Log(name, "patched");
        var p = Predict(c, KernelVariant.Patched);
        // The memory-blocks step prints "memory112 offline, memory113 offline, ..." as sysfs read them.
        var shown = Regex.Matches(text, @"memory(\d+) (online|offline)").Select(m => (ulong.Parse(m.Groups[1].Value), m.Groups[2].Value == "online")).Distinct().ToList();
        var blocksAtTheStep = p.Iterations[0].MemoryBlocks.Select(b => (b.Number, b.Online)).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(text, Does.Not.Contain("BUG"));
            Assert.That(p.Outcome, Is.EqualTo(Outcome.Clean));
            Assert.That(p.Iterations, Has.Count.EqualTo(Regex.Matches(text, @"^### iteration-(\d+)-step-1:", RegexOptions.Multiline).Count));
            Assert.That(shown, Is.Not.Empty);
            if (name != "pcdimm-unplug-offline") Assert.That(blocksAtTheStep, Is.EqualTo(shown)); // the unplug case removes its blocks after the step
            else Assert.That(shown.Select(b => b.Item1), Is.EqualTo(Enumerable.Range(112, 8).Select(i => (ulong)i)));
        });
    }

    [Test]
    public void The_judge_compares_a_device_cell_with_the_simulator()
    {
        var c = Load("virtio-mem-online-rcu-sleep");
        var cell = SuiteCases.Cells(c, c.Scenario, new KernelRecipe("fix.patch", c.Config)).Single(x => x.Scenario.Kernel.Variant == KernelVariant.Unpatched);
        Assert.That(cell.Expect, Is.Null, "a modelled cell is judged by the prediction");
        Assert.That(cell.Judge.Kind, Is.EqualTo(QemuHotplugHarness.Orchestration.Judge.Simulator));
        Assert.That(cell.Predict().OopsTitle, Is.EqualTo("BUG: sleeping function called from invalid context in virtio_mem_set_fake_offline"));
    }

    // Layouts no guest has run yet: the expected values come from reading 6.1's source, not from the model.

    [Test]
    public void A_dimm_onlined_before_the_kpagecount_read_is_read_clean()
    {
        // online_pages() -> move_pfn_range_to_zone() initialises the DIMM's memmap, so even pfn_valid() (no
        // pfn_to_online_page()) hands kpagecount_read() initialised struct pages.
        var c = Load("pcdimm-kpagecount");
        var p = Predict(c, KernelVariant.Unpatched, s => WithIteration(s, 0, new HostStep(HostStepKind.MemoryBlocks) { Device = "dimm1", Set = MemoryBlockState.OnlineMovable }));
        Assert.That(p.Outcome, Is.EqualTo(Outcome.Clean), string.Join("\n", p.Explanation));
        Assert.That(p.Explanation[^1], Does.Contain("memory112 online"));
    }

    [Test]
    public void A_requested_size_of_whole_memory_blocks_fake_offlines_nothing()
    {
        // 128 MiB plugs the 32 sub-blocks of memory112: virtio_mem_online_page() finds every chunk plugged and never
        // calls virtio_mem_set_fake_offline(), so the rcu_read_lock() around it is harmless.
        var c = Load("virtio-mem-online-rcu-sleep");
        var p = Predict(c, KernelVariant.Unpatched, s => Requested(s, 128 * ByteSize.MiB));
        Assert.That(p.Outcome, Is.EqualTo(Outcome.Clean), string.Join("\n", p.Explanation));
        Assert.That(string.Join("\n", p.Iterations[0].Events), Does.Contain("wholly plugged"));
    }

    [Test]
    public void A_requested_size_below_a_sub_block_is_never_reached()
    {
        // 6.1 virtio_mem_sbm_plug_request(): nb_sb = diff / sb_size with 4 MiB sub-blocks (pageblock_nr_pages pages):
        // 130 MiB plugs 128 MiB, QEMU's size never reads 130 MiB and the wait runs out.
        var c = Load("virtio-mem-online-rcu-sleep");
        var p = Predict(c, KernelVariant.Patched, s => Requested(s, 130 * ByteSize.MiB));
        Assert.That((p.Outcome, p.WorkloadError), Is.EqualTo((Outcome.Hung, (string?)"iteration 1 (wait-qom vm0.size 136314880): vm0.size stays 134217728 (the driver plugged 128 MiB of 130 MiB requested), never 136314880")));
    }

    [Test]
    public void A_dimm_off_a_memory_block_boundary_gets_no_memory_blocks()
    {
        // check_hotplug_memory_range(): "Block size [0x8000000] unaligned hotplug range"; the memory-blocks step finds none.
        var c = Load("pcdimm-unplug-offline");
        var p = Predict(c, KernelVariant.Unpatched, s => DeviceLayouts.Apply(s, new DeviceLayout(64 * ByteSize.MiB, ByteSize.GiB, 0, 0)));
        Assert.That((p.Outcome, p.WorkloadError), Is.EqualTo((Outcome.WorkloadFailed, (string?)"iteration 1 (memory-blocks dimm1 expect offline): no memory block of dimm1")));
    }

    [Test]
    public void Virtio_mem_on_the_harness_s_own_qemu_is_refused()
    {
        var c = Load("virtio-mem-online-rcu-sleep");
        var p = Predict(c, KernelVariant.Unpatched, s => s.WithQemu(QemuFlavour.Patched));
        Assert.That((p.Outcome, p.Rejection), Is.EqualTo((Outcome.Rejected, (string?)MemoryDevicePlacement.NoVirtioMem)));
    }

    [Test]
    public void A_dimm_onlined_movable_then_removed_is_read_poisoned_again()
    {
        // NOTES.md: offlining poisons the memmap again (remove_pfn_range_from_zone()), so the ported zone lookup crashes
        // after an online+offline cycle too; the fix's kernel removes it clean.
        var c = Load("pcdimm-unplug-offline");
        Scenario Movable(Scenario s) => WithIteration(s, 3, new HostStep(HostStepKind.MemoryBlocks) { Device = "dimm1", Set = MemoryBlockState.OnlineMovable });
        var unpatched = Predict(c, KernelVariant.Unpatched, Movable);
        Assert.Multiple(() =>
        {
            Assert.That((unpatched.Outcome, unpatched.OopsTitle, unpatched.OopsPfn), Is.EqualTo((Outcome.Oops, "kernel BUG in arch_remove_memory", (ulong?)0x380000UL)));
            Assert.That(string.Join("\n", unpatched.Iterations[0].Events), Does.Contain("offline_pages: memory112 offline"));
            Assert.That(Predict(c, KernelVariant.Patched, Movable).Outcome, Is.EqualTo(Outcome.Clean));
            Assert.That(ModelLimits.NotModelled(WithIteration(c.Scenario, 3, new HostStep(HostStepKind.MemoryBlocks) { Device = "dimm1", Set = MemoryBlockState.Online }), c.Model),
                Has.Some.Contains("ZONE_NORMAL"));
        });
    }

    [Test]
    public void Setting_the_blocks_of_a_dimm_just_added_is_outside_the_model()
    {
        // A 6.1 guest (2026-12-06): "memory-blocks dimm1 set online_movable" right after device_add found no blocks
        // ("no memory block of dimm1"): ACPI hot-add runs from kacpi_hotplug work after QMP answered. An expectation
        // first (re-read until it holds) waits for them.
        var c = Load("pcdimm-unplug-offline");
        var set = new HostStep(HostStepKind.MemoryBlocks) { Device = "dimm1", Set = MemoryBlockState.OnlineMovable };
        var hosts = c.Scenario.Workload.IterationHosts!.ToList();
        var argv = c.Scenario.Workload.Iteration!.ToList();
        (hosts[2], argv[2]) = (set, set.Describe());
        var racy = c.Scenario with { Workload = c.Scenario.Workload with { IterationHosts = hosts, Iteration = argv } };
        Assert.That(ModelLimits.NotModelled(racy, c.Model), Has.Some.Contains("right after its device_add"));
        Assert.That(ModelLimits.NotModelled(WithIteration(c.Scenario, 3, set), c.Model), Is.Empty);
    }

    [Test]
    public void The_sweep_and_the_draw_cover_each_device_case_s_own_layouts()
    {
        foreach (var name in Cases)
        {
            var c = Load(name);
            var layouts = Sweep.Layouts(c.Scenario).Select(DeviceLayouts.Describe).Distinct().ToList();
            Assert.That(layouts, Has.Count.EqualTo(DeviceLayouts.Of(c.Scenario).Count), name);
        }
        var cases = SuiteCases.Catalog(RepoLayout.Discover(), []).LoadAll().Cases.Where(c => Cases.Contains(c.Name)).ToList();
        var spaces = cases.Select(c => new QemuHotplugHarness.Orchestration.Validation.ValidationSpace { Base = c.Scenario, Case = c.Name, Model = c.Model }).ToList();
        var sample = QemuHotplugHarness.Orchestration.Validation.ValidationDraw.DrawEveryCase(spaces, 12, seed: 1);
        foreach (var name in Cases)
        {
            var drawn = sample.Scenarios.Where(d => d.Case == name).ToList();
            Assert.That(drawn.Select(d => d.OutcomeClass), Has.Some.StartsWith("oops@").And.Some.EqualTo("clean"), name);
            Assert.That(drawn.Select(d => DeviceLayouts.Describe(d.Scenario)).Distinct().Count(), Is.GreaterThan(1), name);
        }
    }

    private static Scenario WithIteration(Scenario s, int index, HostStep step)
    {
        var hosts = (s.Workload.IterationHosts ?? []).ToList();
        var argv = s.Workload.Iteration!.ToList();
        if (hosts[index] is { Kind: HostStepKind.MemoryBlocks }) (hosts[index], argv[index]) = (step, step.Describe());
        else
        {
            hosts.Insert(index, step);
            argv.Insert(index, step.Describe());
        }
        return s with { Workload = s.Workload with { IterationHosts = hosts, Iteration = argv } };
    }

    private static Scenario Requested(Scenario s, ulong requested) =>
        DeviceLayouts.Apply(s, new DeviceLayout(0, 0, 2 * ByteSize.MiB, requested));
}
