using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Scenarios;
using Serilog.Core;

namespace QemuHotplugHarness.Tests.Build;

/// <summary>
/// A kernel split into several Debian packages (as sid ships it: linux-image = dependencies only, linux-binary = the
/// image in /usr/lib/modules/RELEASE/vmlinuz, linux-base = config, linux-modules = the .ko files), made here with
/// dpkg-deb --build from fake files, unpacked into one kernel.
/// </summary>
[Category("HostTools")] // dpkg-deb
public class KernelDebSetTests
{
    private const string Release = "7.2.99+deb14-cloud-amd64";
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("qhh-debset-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private async Task<string> DebAsync(string package, Action<string> fill)
    {
        var root = Path.Combine(_dir, "pkg-" + package);
        Directory.CreateDirectory(Path.Combine(root, "DEBIAN"));
        File.WriteAllText(Path.Combine(root, "DEBIAN", "control"),
            $"Package: {package}\nVersion: 7.2.99-1\nArchitecture: amd64\nMaintainer: test <t@example.org>\nDescription: test\n");
        fill(root);
        var deb = Path.Combine(_dir, package + "_7.2.99-1_amd64.deb");
        var r = await CliWrap.Cli.Wrap("dpkg-deb").WithArguments(["--root-owner-group", "--build", root, deb])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        Assert.That(r.ExitCode, Is.EqualTo(0), r.StandardError);
        return deb;
    }

    private static void Put(string root, string rel, byte[] bytes)
    {
        var path = Path.Combine(root, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    private async Task<(string Image, string Binary, string Base, string Modules)> SplitSetAsync()
    {
        var modules = $"usr/lib/modules/{Release}";
        var image = await DebAsync("linux-image-" + Release, _ => { });
        var binary = await DebAsync("linux-binary-" + Release, r => Put(r, $"{modules}/vmlinuz", FakeKernelFiles.BzImage(Release + " (test@example) #1 SMP")));
        var config = FakeKernelFiles.Config("m", "CONFIG_E1000") + "CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_NET=m\n";
        var linuxBase = await DebAsync("linux-base-" + Release, r => Put(r, $"{modules}/config", System.Text.Encoding.ASCII.GetBytes(config)));
        var mods = await DebAsync("linux-modules-" + Release, r =>
        {
            var tree = FakeKernelFiles.ModulesTree(Path.Combine(r, "usr/lib/modules"), Release);
            File.Delete(Path.Combine(tree, "kernel/drivers/net/ethernet/intel/e1000/e1000.ko"));
            Put(tree, "kernel/drivers/net/virtio_net.ko", FakeKernelFiles.Module(Release, "net_failover"));
            Put(tree, "kernel/drivers/net/net_failover.ko", FakeKernelFiles.Module(Release));
        });
        return (image, binary, linuxBase, mods);
    }

    private KernelPackage Packages() => new(new BuildContext(new HarnessCache(Path.Combine(_dir, "cache")), RepoLayout.Discover(), Logger.None, _dir));

    [Test]
    public async Task The_split_set_is_one_kernel_whose_nic_is_the_modular_virtio_net_it_has()
    {
        HostTools.Require("dpkg-deb", "dpkg");
        var (image, binary, linuxBase, modules) = await SplitSetAsync();
        var sets = KernelDebSet.Group([$"cloud={image}", $"cloud={binary},{linuxBase}", $"cloud={modules}"]);

        var kernel = await Packages().RegisterAsync(sets.Single(), CancellationToken.None);

        Assert.That(kernel.Release, Is.EqualTo(Release));
        Assert.That(kernel.Nic(), Is.EqualTo(NicDriver.VirtioNet));
        Assert.That(kernel.Modules!.LoadOrder, Does.Contain("virtio_net").And.Contain("net_failover").And.Not.Contain("e1000"));
        var order = kernel.Modules.LoadOrder.ToList();
        Assert.That(order.IndexOf("net_failover"), Is.LessThan(order.IndexOf("virtio_net")), "dependencies first");
        Assert.That(kernel.Source, Does.Contain("linux-binary-" + Release).And.Contain("linux-modules-" + Release));
    }

    [Test]
    public async Task A_set_without_the_binary_package_says_the_kernel_is_split_and_what_to_add()
    {
        HostTools.Require("dpkg-deb", "dpkg");
        var (image, _, linuxBase, modules) = await SplitSetAsync();
        var set = KernelDebSet.Group([$"x={image},{linuxBase},{modules}"]).Single();

        var e = await Assert.ThrowsAsync<BadInputException>(async () => await Packages().RegisterAsync(set, CancellationToken.None));

        Assert.That(e!.Input, Is.EqualTo(InputKind.KernelDeb));
        Assert.That(e.Reason, Does.StartWith($"no kernel image in linux-image-{Release}, linux-base-{Release}, linux-modules-{Release}")
            .And.Contain("linux-binary-RELEASE (the image)"));
    }
}
