using System.Text.RegularExpressions;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Simulator;

/// <summary>
/// The three DEBUG_VM cases against an oracle the simulator never computes: each cell's "expect" in case.json, the
/// real guests' consoles beside it (observed-6.1-*.log, read here with the harness's oops scanner and plain text
/// matching) and the 6.12 guests' titles in NOTES.md.
/// </summary>
public class CaseModelTests
{
    private static readonly string[] Modelled = ["memunmap-altmap-reserve", "zone-device-section-collision", "kpageflags-subsection-validity"];

    /// <summary>vmemmap of the observed guests: 4-level paging, no KASLR (RBP/RDI ffffea0005100000 = pfn 0x144000 at 64 bytes a struct page).</summary>
    private const ulong ObservedVmemmap = 0xffff_ea00_0000_0000UL;

    private static Case Load(string name) => SuiteCases.Library(RepoLayout.Discover()).Load(name);

    private static string Console(string name, string variant) => File.ReadAllText(Path.Combine(Load(name).Folder, $"observed-6.1-{variant}.log"));

    private static Prediction Predict(Case c, CaseCell cell, string? line = null)
    {
        return Predictor.Predict(CellExpectationAsserts.ScenarioOf(c, cell, line), c.Model);
    }

    private static IEnumerable<TestCaseData> Cells() =>
        Modelled.SelectMany(n => Load(n).Cells!.Select(cell => new TestCaseData(n, cell.Name).SetName($"{n}/{cell.Name}")));

    /// <summary>A case on the NVDIMM alone: no pc-dimm or virtio-mem device, no host step (QMP) that would add one.</summary>
    private static bool NvdimmOnly(Case c) =>
        c.Scenario.Devices.IsEmpty && c.Scenario.Workload.SetupHosts is null && c.Scenario.Workload.IterationHosts is null;

    [Test]
    public void Every_case_of_the_repository_is_modelled()
    {
        // The simulator models the NVDIMM: cases with pc-dimm or virtio-mem devices are judged by their expectations.
        var cases = SuiteCases.Library(RepoLayout.Discover()).LoadAll().Where(NvdimmOnly).ToList();
        Assert.That(cases.Where(c => !c.Modelled).Select(c => c.Name), Is.Empty);
        Assert.That(cases.Where(c => c.Scenario.Workload.IsCustom).Select(c => c.Model), Has.None.Null);
    }

    [TestCaseSource(nameof(Cells))]
    public void Each_cell_is_predicted_as_its_real_guest_showed(string name, string cellName)
    {
        var c = Load(name);
        var cell = c.Cells!.Single(x => x.Name == cellName);
        var expect = cell.Expect!;
        var p = Predict(c, cell);
        Assert.Multiple(() =>
        {
            Assert.That(p.Outcome, Is.EqualTo(expect.Outcome));
            Assert.That(p.OopsIteration, Is.EqualTo(expect.Iteration));
            Assert.That(expect.TitleMatches(p.OopsTitle), Is.True, $"predicted title '{p.OopsTitle}', expected '{expect.Title}'");
        });
    }

    [TestCaseSource(nameof(Modelled))]
    public void The_unpatched_prediction_is_the_oops_of_the_observed_console(string name)
    {
        var c = Load(name);
        var text = Console(name, "unpatched");
        var p = Predict(c, c.Cells!.Single(x => x.Kernel == KernelVariant.Unpatched));
        Assert.Multiple(() =>
        {
            Assert.That(p.OopsIteration, Is.EqualTo(int.Parse(Regex.Match(text, @"QHH-OOPS-SEEN at iteration (\d+)").Groups[1].Value)));
            Assert.That(p.OopsTitle, Is.EqualTo(OopsScanner.Scan(text).First().Title));
            Assert.That(p.OopsFunction, Is.EqualTo(Regex.Match(text, @"RIP: 0010:(\w+)\+").Groups[1].Value));
            Assert.That(p.OopsStep, Is.EqualTo(StepOfTheOops(text)));
            Assert.That(p.OopsPfn, Is.EqualTo(PfnOfTheOops(name, text)));
        });
    }

    [TestCaseSource(nameof(Modelled))]
    public void The_patched_prediction_is_the_clean_console(string name)
    {
        var c = Load(name);
        var text = Console(name, "patched");
        var p = Predict(c, c.Cells!.Single(x => x.Kernel == KernelVariant.Patched));
        Assert.That(text, Does.Contain("QHH-CASE-EXIT 0").And.Not.Contain("BUG"));
        Assert.That(p.Outcome, Is.EqualTo(Outcome.Clean));
        Assert.That(p.Iterations, Has.Count.EqualTo(Regex.Matches(text, @"^QHH-ITER-END \d+", RegexOptions.Multiline).Count));
    }

    [TestCaseSource(nameof(Modelled))]
    public void On_6_12_the_title_is_the_one_the_6_12_guest_showed(string name)
    {
        var c = Load(name);
        var notes = Regex.Replace(File.ReadAllText(Path.Combine(c.Folder, "NOTES.md")), @"\s+", " ");
        var observed612 = Regex.Match(notes, @"\*\*6\.12\.118.*?`qhh scan`: \*\*`([^`]+)`\*\*").Groups[1].Value;
        var p = Predict(c, c.Cells!.Single(x => x.Kernel == KernelVariant.Unpatched), line: "6.12");
        Assert.That(observed612, Is.Not.Empty, "NOTES.md names the 6.12 guest's title");
        Assert.That(p.OopsTitle, Is.EqualTo(observed612));
    }

    [TestCaseSource(nameof(Modelled))]
    public void The_judge_compares_a_modelled_cell_with_the_simulator_and_the_observed_oops_matches(string name)
    {
        var c = Load(name);
        var cell = SuiteCases.Cells(c, c.Scenario, new KernelRecipe("fix.patch", c.Config)).Single(x => x.Scenario.Kernel.Variant == KernelVariant.Unpatched);
        var text = Console(name, "unpatched");
        var report = OopsScanner.Scan(text).First();
        var observed = new Observation
        {
            Outcome = Outcome.Oops, Seconds = 9,
            OopsIteration = int.Parse(Regex.Match(text, @"QHH-OOPS-SEEN at iteration (\d+)").Groups[1].Value),
            Oopses = [new ObservedOops(report.Title, report.Function, null, null, 100, false, 1)],
        };
        var prediction = cell.Predict();
        Assert.That(cell.Expect, Is.Null, "a modelled cell is judged by the prediction");
        Assert.That(cell.Judge.Kind, Is.EqualTo(QemuHotplugHarness.Orchestration.Judge.Simulator));
        Assert.That(Comparison.Mismatches(prediction, observed), Is.Empty);
        Assert.That(Comparison.Mismatches(prediction, observed with { OopsIteration = 2 }), Is.Not.Empty);
        Assert.That(Comparison.Mismatches(prediction, observed with { Oopses = [new ObservedOops("kernel BUG in elsewhere", null, null, null, 100, false, 1)] }),
            Has.Some.StartsWith("title:"));
    }

    [Test]
    public void A_draw_over_every_case_covers_every_case_of_the_repository_with_an_oops_of_each()
    {
        var cases = SuiteCases.Library(RepoLayout.Discover()).LoadAll().Where(NvdimmOnly).ToList();
        var spaces = cases.Select(c => new QemuHotplugHarness.Orchestration.Validation.ValidationSpace { Base = c.Scenario, Case = c.Name, Model = c.Model }).ToList();
        var sample = QemuHotplugHarness.Orchestration.Validation.ValidationDraw.DrawEveryCase(spaces, 4 * cases.Count, seed: 1);
        var folders = cases.Select(c => c.Name).Order().ToList();
        Assert.That(folders, Has.Count.GreaterThanOrEqualTo(4), "the NVDIMM cases of the repository");
        Assert.That(sample.Scenarios.Select(d => d.Case).Distinct().Order(), Is.EqualTo(folders));
        foreach (var name in folders)
            Assert.That(sample.Scenarios.Where(d => d.Case == name).Select(d => d.OutcomeClass), Has.Some.StartsWith("oops@"), name);
    }

    // Layouts no guest has run yet: the expected values come from reading 6.1's source, not from the model.

    [Test]
    public void Without_an_altmap_memunmap_pages_reads_an_initialised_page()
    {
        // --map=mem: no altmap, pfn_first() == PHYS_PFN(range->start), memmap_init_zone_device() initialises it.
        var c = Load("memunmap-altmap-reserve");
        var s = c.Scenario with
        {
            Workload = c.Scenario.Workload with { Iteration = [["ndctl", "create-namespace", "--mode=devdax", "--map=mem", "--size=16M"], ["ndctl", "destroy-namespace", "--force", "all"]] },
        };
        Assert.That(Predictor.Predict(s.WithKernel(KernelVariant.Unpatched), c.Model).Outcome, Is.EqualTo(Outcome.Clean));
    }

    [Test]
    public void A_namespace_in_a_section_of_its_own_collides_with_no_online_section()
    {
        // 4096M on pc: RAM above 4G ends at 0x140000000, a section boundary; the NVDIMM there shares no section with boot
        // RAM, so pfn_to_online_page() is NULL for it (ZONE_DEVICE never onlines a section), but the altmap reserve is
        // poisoned by sparse_add_section() in any section: memunmap_pages() still reads it.
        Scenario Own(Case c) => c.Scenario.WithRam(ByteSize.FromMiB(4096)).WithNvdimmAddress(0x1_4000_0000UL).WithKernel(KernelVariant.Unpatched);
        var collision = Load("zone-device-section-collision");
        var memunmap = Load("memunmap-altmap-reserve");
        var kpageflags = Load("kpageflags-subsection-validity");
        Assert.Multiple(() =>
        {
            Assert.That(Predictor.Predict(Own(collision), collision.Model).Outcome, Is.EqualTo(Outcome.Clean));
            Assert.That(Predictor.Predict(Own(kpageflags), kpageflags.Model).Outcome, Is.EqualTo(Outcome.Clean));
            var p = Predictor.Predict(Own(memunmap), memunmap.Model);
            Assert.That((p.Outcome, p.OopsIteration, p.OopsPfn), Is.EqualTo((Outcome.Oops, (int?)1, (ulong?)0x140000UL)));
        });
    }

    [Test]
    public void The_section_picture_shows_the_struct_pages_a_reader_meets()
    {
        // After the first destroy: remove_pfn_range_from_zone() poisoned namespace0.0's 16 MiB (sub-sections 32-39 of
        // section 40, 0x144000000 on); boot RAM below it stays initialised for its boot zone.
        var c = Load("kpageflags-subsection-validity");
        var p = Predict(c, c.Cells!.Single(x => x.Kernel == KernelVariant.Patched));
        var picture = p.Iterations[0].SharedSection;
        Assert.Multiple(() =>
        {
            Assert.That(picture.Where(sub => sub.StructPages == StructPageState.Poisoned).Select(sub => sub.Index), Is.EqualTo(Enumerable.Range(32, 8)));
            Assert.That(picture[0].StructPages, Is.EqualTo(StructPageState.Initialised));
            Assert.That(picture[0].Zone, Is.EqualTo(PageZone.Boot));
        });
    }

    [Test]
    public void The_kpageflags_window_of_the_case_is_the_one_its_notes_name()
    {
        // NOTES.md: "dd if=/proc/kpageflags of=/dev/null bs=262144 skip=40 count=1     # pfns 0x140000-0x147fff".
        var step = CaseSteps.Parse(["dd", "if=/proc/kpageflags", "of=/dev/null", "bs=262144", "skip=40", "count=1"])!;
        Assert.That((step.Kind, step.FirstPfn, step.EndPfn), Is.EqualTo((StepKind.ReadKpageflags, 0x140000UL, (ulong?)0x148000UL)));
    }

    [Test]
    public void A_command_the_model_does_not_know_puts_the_case_outside_it()
    {
        var c = Load("kpageflags-subsection-validity");
        var s = c.Scenario with { Workload = c.Scenario.Workload with { Iteration = [.. c.Scenario.Workload.Iteration!, ["dd", "if=/proc/kpagepool", "of=/dev/null"]] } };
        Assert.That(ModelLimits.NotModelled(s, c.Model), Has.Some.Contains("'dd if=/proc/kpagepool of=/dev/null'"));
        Assert.That(ModelLimits.NotModelled(c.Scenario, c.Model), Is.Empty);
        Assert.That(ModelLimits.NotModelled(c.Scenario, c.Model! with { DebugVm = false }), Has.Some.Contains("CONFIG_DEBUG_VM"));
        // A case that says "modelled" with such a step is the harness's data at fault (exit 3), not a crash of the simulator.
        var e = Assert.Throws<InfrastructureException>(() => Predictor.Predict(s, c.Model));
        Assert.That(e!.Message, Does.StartWith("case data: a modelled case's workload is outside the model: the command 'dd if=/proc/kpagepool of=/dev/null'"));
    }

    /// <summary>The command the console echoed last ("+ ndctl ..." with its quotes removed) before the first kernel line after QHH-ITER 1.</summary>
    private static string StepOfTheOops(string text)
    {
        var lines = text[text.IndexOf("QHH-ITER 1", StringComparison.Ordinal)..].Split('\n');
        var kernel = Array.FindIndex(lines, l => Regex.IsMatch(l, @"^\[\s*\d+\.\d+\] "));
        var command = lines.Take(kernel).Last(l => l.StartsWith("+ ndctl ", StringComparison.Ordinal) || l.StartsWith("+ dd ", StringComparison.Ordinal));
        return command[2..].Replace("'", "").Trim();
    }

    /// <summary>Where the console shows the pfn: the struct page in RBP (page_zone) or RDI (stable_page_flags); memunmap_pages prints none, so namespace0.0's first pfn (range->start) from /proc/iomem.</summary>
    private static ulong PfnOfTheOops(string name, string text)
    {
        if (name == "memunmap-altmap-reserve")
            return Convert.ToUInt64(Regex.Match(text, @"^\s+([0-9a-f]+)-[0-9a-f]+ : namespace0\.0", RegexOptions.Multiline).Groups[1].Value, 16) / 4096;
        var register = name == "zone-device-section-collision" ? "RBP" : "RDI";
        var structPage = Convert.ToUInt64(Regex.Match(text, register + @": ([0-9a-f]{16})").Groups[1].Value, 16);
        return (structPage - ObservedVmemmap) / 64;
    }
}
