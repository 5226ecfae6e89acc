using QemuHotplugHarness.Build;
using QemuHotplugHarness.Cli.Commands;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;

namespace QemuHotplugHarness.Tests.Scenarios;

/// <summary>
/// One kernel configuration per line for the whole suite: the union of the cases' config lines, in first-seen order
/// over the cases by name; a contradiction in the harness's own cases is its fault; a user's case adds to the union
/// with its own value winning; every repository case of every line is planned on that one configuration.
/// </summary>
public class SuiteKernelConfigTests
{
    private static readonly RepoLayout Repo = RepoLayout.Discover();

    private static Case Named(string name, params string[] config) =>
        SuiteCases.Library(Repo).Load("early-section-memmap") with { Name = name, Config = config };

    [Test]
    public void The_union_keeps_each_option_once_in_the_order_first_seen_over_the_cases_by_name()
    {
        var union = SuiteKernelConfig.Union([
            Named("b", "CONFIG_VIRTIO_MEM=y", "CONFIG_DEBUG_VM=y"),
            Named("a", "CONFIG_DEBUG_VM=y", "# CONFIG_KASAN is not set"),
        ]);
        Assert.That(union, Is.EqualTo(new[] { "CONFIG_DEBUG_VM=y", "# CONFIG_KASAN is not set", "CONFIG_VIRTIO_MEM=y" }));
    }

    [Test]
    public void Two_cases_asking_different_values_of_one_option_are_the_harness_s_fault_naming_both()
    {
        var e = Assert.Throws<InfrastructureException>(() => SuiteKernelConfig.Union([
            Named("a", "CONFIG_NODES_SHIFT=6"), Named("b", "CONFIG_NODES_SHIFT=3"),
        ]))!;
        Assert.That(e.Message, Does.Contain("cases a and b").And.Contain("CONFIG_NODES_SHIFT"));
    }

    [Test]
    public void A_user_case_gets_the_union_plus_its_own_options_its_value_winning()
    {
        var mine = Named("mine", "# CONFIG_DEBUG_VM is not set", "CONFIG_KFENCE=y");
        Assert.That(SuiteKernelConfig.For(mine, ["CONFIG_DEBUG_VM=y", "CONFIG_VIRTIO_MEM=y"]),
            Is.EqualTo(new[] { "# CONFIG_DEBUG_VM is not set", "CONFIG_VIRTIO_MEM=y", "CONFIG_KFENCE=y" }));
    }

    [TestCase("6.1")]
    [TestCase("6.12")]
    [TestCase("latest")]
    public void Every_case_of_the_suite_is_planned_on_one_configuration_of_the_line_holding_what_each_case_needs(string line)
    {
        var plan = ReproduceCommand.PlanOf(new ReproduceCommand.Settings { Suite = true, KernelLine = line }, KernelSources.Default, bisectTree: false);
        Assert.That(plan.Configurations, Is.EqualTo(1), string.Join("\n", plan.Describe()));
        var config = plan.Kernels.First().Recipe.ExtraConfig;
        foreach (var c in plan.Cases) Assert.That(c.Config, Is.SubsetOf(config), c.Name);
        Assert.That(config, Does.Contain("CONFIG_DEBUG_ATOMIC_SLEEP=y").And.Contain("CONFIG_DEBUG_VM=y"), "the QMP cases' and the DEBUG_VM cases' options");
    }
}
