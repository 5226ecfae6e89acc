using QemuHotplugHarness.Build;
using QemuHotplugHarness.Cli.Commands;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Orchestration;

/// <summary>
/// The kernel under test against the plan: a case whose options its config lacks is skipped naming them (the others
/// run); none left is the kernel's problem (exit 2); a kernel registered under a name no cell boots is refused.
/// </summary>
public class RunPlanKernelTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("qhh-plan-kernels-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static RunPlan Suite() => ReproduceCommand.PlanOf(new ReproduceCommand.Settings { Suite = true }, KernelSources.Default, bisectTree: false);

    /// <summary>A registered kernel whose config is the text given (the harness reads nothing else of it here).</summary>
    private KernelBuild Registered(string name, string config)
    {
        var path = Path.Combine(_dir, "config-" + name);
        File.WriteAllText(path, config);
        return new KernelBuild(name, Path.Combine(_dir, "bzImage"), null, null, null, "7.2.0", "registered", name) { Config = path, IsPrebuilt = true };
    }

    [Test]
    public void A_kernel_under_test_without_debug_vm_skips_the_cases_that_need_it_naming_the_options_and_runs_the_rest()
    {
        var plan = Suite();
        var kernel = Registered("patched", "CONFIG_DEBUG_VM=y\n# CONFIG_DEBUG_VM_PGFLAGS is not set\nCONFIG_ACPI_HOTPLUG_MEMORY=y\n");
        var left = plan.WithoutCasesTheKernelsLack(new Dictionary<string, KernelBuild> { ["patched"] = kernel });
        var has = new[] { "CONFIG_DEBUG_VM=y", "CONFIG_ACPI_HOTPLUG_MEMORY=y" };
        var needing = plan.Cases.Where(c => c.Config.Contains("CONFIG_DEBUG_VM_PGFLAGS=y")).Select(c => c.Name).ToList();
        var lacking = plan.Cases.Where(c => c.Config.Except(has).Any()).Select(c => c.Name).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(needing, Is.Not.Empty, "the suite has cases that need DEBUG_VM_PGFLAGS");
            Assert.That(left.Cases.Select(c => c.Name), Is.EquivalentTo(plan.Cases.Select(c => c.Name).Except(lacking)));
            Assert.That(left.Cases, Is.Not.Empty, "the seed needs nothing beyond hotplug.config");
            Assert.That(left.Cells.Select(c => c.Case), Has.None.AnyOf(lacking.ToArray()));
            Assert.That(left.Skipped.Select(s => s.Case), Is.EquivalentTo(lacking));
            Assert.That(left.Skipped.Where(s => needing.Contains(s.Case)).Select(s => s.Reason),
                Has.All.StartWith($"kernel patched ({kernel.BzImage}) lacks CONFIG_DEBUG_VM_PGFLAGS=y, CONFIG_PROC_PAGE_MONITOR=y"));
        });
    }

    [Test]
    public void A_kernel_whose_config_is_unknown_or_complete_skips_nothing()
    {
        var plan = Suite();
        var complete = Registered("patched", string.Join("\n", plan.Cases.SelectMany(c => c.Config).Distinct()));
        Assert.That(plan.WithoutCasesTheKernelsLack(new Dictionary<string, KernelBuild> { ["patched"] = complete }), Is.SameAs(plan));
        var unknown = complete with { Config = null };
        Assert.That(plan.WithoutCasesTheKernelsLack(new Dictionary<string, KernelBuild> { ["patched"] = unknown }), Is.SameAs(plan));
    }

    [Test]
    public void A_plan_no_case_of_which_the_kernel_can_run_is_bad_input_naming_what_it_lacks()
    {
        var plan = ReproduceCommand.PlanOf(new ReproduceCommand.Settings { Case = "zone-device-section-collision" }, KernelSources.Default, false);
        var kernel = Registered("patched", "CONFIG_DEBUG_VM=y\n");
        var e = Assert.Throws<BadInputException>(() => plan.WithoutCasesTheKernelsLack(new Dictionary<string, KernelBuild> { ["patched"] = kernel }))!;
        Assert.That(e.Problems.Single().ToString(), Does.StartWith("case zone-device-section-collision: kernel patched (").And.Contain("lacks CONFIG_DEBUG_VM_PGFLAGS=y"));
    }

    [Test]
    public void A_kernel_deb_registered_under_a_name_no_cell_boots_is_refused_not_silently_unused()
    {
        var deb = Path.Combine(_dir, "linux-image-7.2.0_amd64.deb");
        File.WriteAllText(deb, "");
        var sources = KernelSources.Default with { KernelDebs = [deb] };
        var e = Assert.Throws<BadInputException>(() => Suite().CheckEveryKernelIsUsed(sources))!;
        Assert.That(e.Problems.Select(p => (p.Input, p.Value)), Is.EqualTo(new[] { ((InputKind?)InputKind.KernelDeb, "deb=…") }));
        Assert.That(e.Problems.Single().Reason, Does.StartWith("no cell boots a kernel named \"deb\""));
        Assert.DoesNotThrow(() => Suite().CheckEveryKernelIsUsed(KernelSources.Default with { KernelDebs = ["patched=" + deb] }));
    }
}
