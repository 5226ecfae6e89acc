using QemuHotplugHarness.Build;

namespace QemuHotplugHarness.Tests.Build;

/// <summary>A case's config beyond the fragment: appended to the fragment's text (which keys and names builds); none = the fragment unchanged.</summary>
public class ExtraConfigTests
{
    private const string Fragment = "CONFIG_MEMORY_HOTPLUG=y\nCONFIG_ZONE_DEVICE=y\n";

    [Test]
    public void No_extra_config_leaves_the_fragment_and_so_the_seed_kernel_keys_unchanged()
    {
        Assert.That(KernelBuilder.WithExtraConfig(Fragment, []), Is.EqualTo(Fragment));
        Assert.That(new KernelBuilder(null!).ExtraConfig, Is.Empty);
    }

    [Test]
    public void Extra_config_lines_are_appended_one_per_line()
    {
        Assert.That(KernelBuilder.WithExtraConfig(Fragment, ["CONFIG_DEBUG_VM=y", "# CONFIG_KASAN is not set"]),
            Is.EqualTo("CONFIG_MEMORY_HOTPLUG=y\nCONFIG_ZONE_DEVICE=y\nCONFIG_DEBUG_VM=y\n# CONFIG_KASAN is not set\n"));
        Assert.That(KernelBuilder.WithExtraConfig("CONFIG_A=y", ["CONFIG_B=y"]), Is.EqualTo("CONFIG_A=y\nCONFIG_B=y\n"), "a fragment without a final newline");
    }
}
