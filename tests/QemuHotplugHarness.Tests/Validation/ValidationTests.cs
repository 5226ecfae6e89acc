using System.Text.Json;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Orchestration.Validation;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using Serilog;

namespace QemuHotplugHarness.Tests.Validation;

public class ValidationDrawTests
{
    private static ValidationSample Draw(int sample, int seed = 1, Func<Scenario, Prediction>? predict = null) =>
        ValidationDraw.Draw(new ValidationSpace(), sample, seed, predict ?? Predictor.Predict);

    [Test]
    public void The_same_seed_draws_the_same_scenarios_and_another_seed_others()
    {
        var a = Draw(12, seed: 7).Scenarios.Select(d => d.Scenario).ToList();
        var b = Draw(12, seed: 7).Scenarios.Select(d => d.Scenario).ToList();
        var c = Draw(12, seed: 8).Scenarios.Select(d => d.Scenario).ToList();
        Assert.That(a, Is.EqualTo(b));
        Assert.That(a, Is.Not.EqualTo(c));
        Assert.That(a.Select(s => s.Name).Distinct().Count(), Is.EqualTo(12), "names are unique (they are folder names)");
    }

    [Test]
    public void Six_scenarios_cover_every_outcome_class_and_both_values_of_every_dimension()
    {
        var drawn = Draw(6).Scenarios;
        Assert.That(drawn, Has.Count.EqualTo(6));
        Assert.That(drawn.Select(d => d.OutcomeClass).Distinct(), Is.EquivalentTo(new[] { "oops@2", "clean", "workload-failed", "rejected" }));
        var scenarios = drawn.Select(d => d.Scenario).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(scenarios.Select(s => s.Machine.Type).Distinct(), Is.EquivalentTo(new[] { MachineType.Pc, MachineType.Q35 }));
            Assert.That(scenarios.Select(s => s.Workload.Mode).Distinct(), Is.EquivalentTo(new[] { NamespaceMode.Devdax, NamespaceMode.Fsdax }));
            Assert.That(scenarios.Select(s => s.Cpu.Pse).Distinct(), Is.EquivalentTo(new[] { false, true }));
            Assert.That(scenarios.Select(s => s.Kernel.Variant).Distinct(), Is.EquivalentTo(new[] { KernelVariant.Unpatched, KernelVariant.Patched }));
            Assert.That(scenarios.Select(s => s.Qemu).Distinct(), Is.EquivalentTo(new[] { QemuFlavour.Patched, QemuFlavour.Stock }));
            Assert.That(scenarios.Select(s => s.Workload.NamespaceSize).Distinct().Count(), Is.GreaterThan(2));
            Assert.That(scenarios.Select(s => s.Workload.Iterations).Distinct().Count(), Is.GreaterThan(2));
        });
    }

    [Test]
    public void The_workload_failed_class_is_the_ram_buffer_and_the_oops_class_names_its_iteration()
    {
        var drawn = Draw(12).Scenarios;
        Assert.That(drawn.Where(d => d.OutcomeClass == "workload-failed").Select(d => d.Prediction.WorkloadError), Is.All.Contains("RAM buffer"));
        Assert.That(drawn.Where(d => d.Prediction.Outcome == Outcome.Oops).Select(d => d.OutcomeClass), Is.All.EqualTo("oops@2"));
        Assert.That(drawn.Where(d => d.OutcomeClass == "rejected").Select(d => d.Scenario.Qemu), Is.All.EqualTo(QemuFlavour.Stock));
    }

    [Test]
    public void Clean_scenarios_take_each_of_the_models_paths_to_clean_in_turn()
    {
        var clean = Draw(16).Scenarios.Where(d => d.OutcomeClass == "clean").Select(d => ValidationDraw.Substratum(d.Scenario, d.Prediction));
        Assert.That(clean, Is.EquivalentTo(new[] { "patched-kernel", "pse", "no-re-add", "no-early-section" }));
    }

    [Test]
    public void A_pinned_dimension_has_one_value_in_every_drawn_scenario()
    {
        var space = new ValidationSpace { Machines = [MachineType.Q35], Modes = [NamespaceMode.Fsdax] };
        var drawn = ValidationDraw.Draw(space, 8, 1, Predictor.Predict).Scenarios;
        Assert.That(drawn.Select(d => (d.Scenario.Machine.Type, d.Scenario.Workload.Mode)), Is.All.EqualTo((MachineType.Q35, NamespaceMode.Fsdax)));
    }

    [Test]
    public void Scenarios_outside_the_model_are_never_drawn()
    {
        var noLabels = Scenario.Seed with { Workload = Scenario.Seed.Workload with { InitLabels = false } };
        Assert.That(ModelLimits.NotModelled(noLabels), Has.Count.EqualTo(1).And.Some.Contains("init-labels"));
        Assert.That(ModelLimits.NotModelled(Scenario.Seed with { Kernel = new KernelSpec { Image = "nightly" } }), Has.Some.Contains("'nightly'"));
        Assert.That(ModelLimits.NotModelled(Scenario.Seed), Is.Empty);
        Assert.That(ValidationDraw.Draw(new ValidationSpace { Base = noLabels }, 6, 1, Predictor.Predict).Scenarios, Is.Empty);
        Assert.That(Draw(12).Scenarios.Select(d => d.Scenario), Is.All.Matches<Scenario>(s => ModelLimits.IsModelled(s!)));
    }
}

public class ValidatorTests
{
    private string _root = "";
    private readonly ILogger _log = new LoggerConfiguration().CreateLogger();

    [SetUp]
    public void MakeFolder() => _root = Directory.CreateTempSubdirectory("qhh-validate-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_root, recursive: true);

    private async Task<Summary> Validate(Func<Scenario, Prediction> model, int sample, string folder = "run", string? shard = null)
    {
        var draw = ValidationDraw.Draw(new ValidationSpace(), sample, 1, model);
        return await new Validator(new FakeGuest(), _log).RunAsync(draw, Validator.Shard(draw, shard), Path.Combine(_root, folder),
            new RunOptions(), shard, null, CancellationToken.None);
    }

    [Test]
    public async Task A_scenario_drawn_from_a_case_builds_and_boots_the_case_s_kernel_and_is_reported_under_the_case()
    {
        var recipe = new KernelRecipe("/cases/mine/fix-6.1.patch", ["CONFIG_DEBUG_VM=y"]);
        var draw = ValidationDraw.Draw(new ValidationSpace(), 4, 1, Predictor.Predict);
        draw = draw with { Scenarios = draw.Scenarios.Select(d => d with { Case = "mine", Kernel = recipe }).ToList() };
        var guest = new FakeGuest();
        var summary = await new Validator(guest, _log).RunAsync(draw, draw.Scenarios, Path.Combine(_root, "case"), new RunOptions(), null, null, CancellationToken.None);
        Assert.Multiple(() =>
        {
            Assert.That(guest.PreparedKernels.Select(p => p.Kernel).ToList(), Is.Not.Empty.And.All.SameAs(recipe), "each build is the case's kernel");
            Assert.That(guest.ObservedKernels.Select(p => p.Kernel).ToList(), Has.Count.EqualTo(4).And.All.SameAs(recipe), "each run boots it");
            Assert.That(summary.Cells.Select(c => c.Case), Has.All.EqualTo("mine"));
        });
    }

    [Test]
    public async Task The_real_model_agrees_with_a_guest_that_behaves_as_it_predicts()
    {
        var summary = await Validate(Predictor.Predict, 12);
        Assert.That(summary.Verdict, Is.EqualTo(Verdict.ModelAgrees));
        Assert.That(summary.Cells.Select(c => c.Match), Is.All.True);
        Assert.That(summary.Kind, Is.EqualTo(RunKind.Validate));
        var run = new RunArtifacts(Path.Combine(_root, "run"));
        Assert.That(new[] { run.Summary, run.Junit, run.Kcidb, run.Html }, Is.All.Matches<string>(File.Exists));
        Assert.That(File.ReadAllText(run.Html), Does.Contain("<b>12/12</b> scenarios agree"));
        using var json = JsonDocument.Parse(File.ReadAllText(run.Summary));
        Assert.That(json.RootElement.GetProperty("kind").GetString(), Is.EqualTo("validate"));
        Assert.That(json.RootElement.GetProperty("validation").GetProperty("seed").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public async Task A_model_that_ignores_the_ram_buffer_is_caught_naming_the_outcome_field()
    {
        var summary = await Validate(RamBufferBlindPredictor.Predict, 12);
        Assert.That(summary.Verdict, Is.EqualTo(Verdict.ModelDisagrees));
        var wrong = summary.Cells.Where(c => !c.Match).ToList();
        Assert.That(wrong, Is.Not.Empty);
        Assert.That(wrong.SelectMany(c => c.Mismatches), Has.Some.EqualTo("outcome: predicted clean, observed workload-failed"));
        Assert.That(wrong.SelectMany(c => c.Mismatches).Select(Agreement.Field), Is.All.EqualTo("outcome"));
        Assert.That(File.ReadAllText(new RunArtifacts(Path.Combine(_root, "run")).Junit), Does.Contain("<failure message=\"outcome: predicted clean, observed workload-failed"));
    }

    [Test]
    public async Task Shards_of_a_draw_merge_into_the_whole_sample()
    {
        var one = await Validate(Predictor.Predict, 6, "shard1", "1/2");
        var two = await Validate(Predictor.Predict, 6, "shard2", "2/2");
        Assert.That(one.Cells.Count + two.Cells.Count, Is.EqualTo(6));
        Assert.That(one.Verdict, Is.EqualTo(Verdict.ModelAgrees), "a validate shard whose scenarios agree says so");
        var merged = Merge.Run([Path.Combine(_root, "shard1"), Path.Combine(_root, "shard2")], Path.Combine(_root, "merged"));
        Assert.That(merged.Kind, Is.EqualTo(RunKind.Validate));
        Assert.That(merged.Verdict, Is.EqualTo(Verdict.ModelAgrees));
        Assert.That(merged.Cells.Select(c => c.Name), Is.EquivalentTo(ValidationDraw.Draw(new ValidationSpace(), 6, 1, Predictor.Predict).Scenarios.Select(d => d.Name)));
    }

    [Test]
    public void A_guest_whose_layout_is_not_the_models_disagrees_naming_the_layout_field()
    {
        var s = Scenario.Seed;
        var p = Predictor.Predict(s);
        var moved = FakeGuest.Observe(s) with
        {
            Outcome = Outcome.PreconditionFailed, OopsIteration = null, FaultPfn = null,
            Layout = new ObservedLayout(p.Layout.SystemRamAbove4G, AddressRange.FromLength(0x1_8000_0000UL, 0x1_0000_0000UL), 0x1_8000_0000UL),
        };
        var fields = Agreement.Disagreements(p, moved).Select(Agreement.Field).ToList();
        Assert.That(fields, Is.EqualTo(new[] { "layout.persistentMemory", "outcome" }));
        var cell = new CellResult("seed", 1, s, p, moved, Agreement.Disagreements(p, moved));
        Assert.That(Verdicts.DecideValidation([cell]), Is.EqualTo(Verdict.ModelDisagrees), "a layout unlike the model's is a finding, not an infrastructure error");
        var infra = cell with { Observation = new Observation { Outcome = Outcome.InfraError }, Mismatches = ["outcome: predicted oops, observed infra-error"] };
        Assert.That(Verdicts.DecideValidation([infra]), Is.EqualTo(Verdict.InfraError));
    }
}
