using QemuHotplugHarness.Guest;

namespace QemuHotplugHarness.Tests.Guest;

/// <summary>Frames are given file:line relative to the kernel tree, whatever folder the kernel was built from.</summary>
public class SymbolizerTests
{
    [TestCase("/home/u/.cache/qemu-hotplug-harness/kernel-build/67a9e2b96e145417/src/mm/page_alloc.c:1648", "mm/page_alloc.c:1648")]
    [TestCase("/tmp/ci-cache/kernel-build/0123456789abcdef/src/drivers/dax/device.c:12 (discriminator 3)", "drivers/dax/device.c:12 (discriminator 3)")]
    [TestCase("/root/.cache/qemu-hotplug-harness/kernel-tree/e36d212bcf981882/linux/mm/sparse.c:700", "mm/sparse.c:700")]
    [TestCase("mm/sparse.c:700", "mm/sparse.c:700")]
    [TestCase("??:?", "??:?")]
    public void A_location_is_given_relative_to_the_tree(string addr2line, string expected) =>
        Assert.That(Symbolizer.ShortPath(addr2line), Is.EqualTo(expected));
}
