using System.Text;
using CliWrap;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Cli;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Build;

/// <summary>Prebuilt kernels: the bzImage header, modules trees (with and without modules.dep, compressed), config checks, the modules archive.</summary>
[NonParallelizable] // the CLI tests redirect the process's console
public class PrebuiltKernelTests
{
    private const string Release = "6.1.0-99-amd64";
    private string _dir = "";
    private HarnessCache _cache = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("qhh-prebuilt-").FullName;
        _cache = new HarnessCache(Path.Combine(_dir, "cache"));
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string Image(string? config = null, string folder = "boot")
    {
        const string version = Release + " (test@example) #1 SMP PREEMPT_DYNAMIC Debian 6.1.999-1";
        var boot = Path.Combine(_dir, folder);
        Directory.CreateDirectory(boot);
        var path = Path.Combine(boot, "vmlinuz-" + Release);
        File.WriteAllBytes(path, FakeKernelFiles.BzImage(version));
        if (config is not null) File.WriteAllText(Path.Combine(boot, "config-" + Release), config);
        return path;
    }

    private KernelBuild Register(string image, string? modules) => KernelBuilder.Prebuilt("debian", image, modules, _cache);

    [Test]
    public void The_release_is_the_first_word_of_the_boot_headers_version_string()
    {
        var header = BzImage.TryParse(FakeKernelFiles.BzImage("6.1.0-26-amd64 (debian-kernel@lists.debian.org) #1 SMP"), out var reason);
        Assert.That(header?.Release, Is.EqualTo("6.1.0-26-amd64"), reason);
        Assert.That(header!.Version, Does.StartWith("6.1.0-26-amd64 (debian-kernel"));
    }

    [Test]
    public void A_file_without_HdrS_at_0x202_is_not_a_bzImage()
    {
        var bytes = FakeKernelFiles.BzImage("6.1.0");
        bytes[0x203] = (byte)'x';
        Assert.That(BzImage.TryParse(bytes, out var reason), Is.Null);
        Assert.That(reason, Does.Contain("HdrS"));
    }

    [Test]
    public async Task A_kernel_image_that_is_not_a_bzImage_is_exit_2_with_one_line_before_anything_runs()
    {
        var garbage = Path.Combine(_dir, "garbage");
        File.WriteAllText(garbage, new string('x', 5000));
        var (code, stderr) = await Cli("run", "--kernel-image", $"x={garbage}", "--kernel", "x", "--artifacts", Path.Combine(_dir, "art"));
        Assert.That(code, Is.EqualTo((int)ExitCode.BadInput));
        Assert.That(stderr.TrimEnd().Split('\n'), Is.EqualTo(new[] { $"qhh: --kernel-image x={garbage}: not a bzImage (no \"HdrS\" boot header at 0x202)" }));
        Assert.That(Directory.Exists(Path.Combine(_dir, "art")), Is.False, "nothing was started");
    }

    [Test]
    public void Modinfo_gives_the_release_from_vermagic_and_the_dependencies()
    {
        var info = ModInfo.TryRead(FakeKernelFiles.Module(Release, "libnvdimm", "nd-btt"));
        Assert.That(info?.Release, Is.EqualTo(Release));
        Assert.That(info!.Depends, Is.EqualTo(new[] { "libnvdimm", "nd_btt" }), "dashes are underscores, as the kernel names modules");
    }

    [Test]
    public void Without_modules_dep_the_load_order_comes_from_each_modules_depends_and_puts_dependencies_first()
    {
        var tree = ModuleTree.Open(FakeKernelFiles.ModulesTree(_dir, Release));
        Assert.That(tree.HasModulesDep, Is.False);
        var order = tree.LoadOrder(KernelRequirements.Drivers.Select(d => d.Module!).Append("e1000")).Select(m => m.Name).ToList();
        Assert.That(order, Is.EquivalentTo(new[] { "libnvdimm", "nfit", "nd_btt", "nd_pmem", "device_dax", "dax_pmem", "e1000" }));
        Assert.That(order.IndexOf("libnvdimm"), Is.LessThan(order.IndexOf("nfit")));
        Assert.That(order.IndexOf("nd_btt"), Is.LessThan(order.IndexOf("nd_pmem")));
        Assert.That(order.IndexOf("device_dax"), Is.LessThan(order.IndexOf("dax_pmem")));
        Assert.That(tree.Builtin, Does.Contain("dax"));
    }

    [Test]
    public void With_modules_dep_depmod_decides_the_dependencies()
    {
        var root = FakeKernelFiles.ModulesTree(_dir, Release);
        // depmod says e1000 needs the unrelated module; its own modinfo says nothing.
        File.WriteAllText(Path.Combine(root, "modules.dep"),
            "kernel/drivers/net/ethernet/intel/e1000/e1000.ko: kernel/fs/unrelated.ko\nkernel/fs/unrelated.ko:\n");
        var order = ModuleTree.Open(root).LoadOrder(["e1000"]).Select(m => m.Name);
        Assert.That(order, Is.EqualTo(new[] { "unrelated", "e1000" }));
    }

    [Test]
    public void A_dependency_the_tree_lacks_is_named_with_what_needs_it()
    {
        var root = FakeKernelFiles.ModulesTree(_dir, Release);
        File.Delete(Path.Combine(root, "kernel/drivers/nvdimm/libnvdimm.ko"));
        var e = Assert.Throws<ModuleTreeException>(() => ModuleTree.Open(root).LoadOrder(["nfit"]));
        Assert.That(e!.Message, Is.EqualTo("no module libnvdimm (needed by nfit)"));
    }

    [Test]
    [Category("HostTools")] // xz, zstd, gzip make the compressed modules
    public async Task Compressed_modules_are_decompressed_on_the_host()
    {
        var root = FakeKernelFiles.ModulesTree(_dir, Release);
        var plain = new Dictionary<string, byte[]>();
        foreach (var (name, tool) in new[] { ("nfit", "xz"), ("libnvdimm", "zstd"), ("e1000", "gzip") })
        {
            HostTools.Require(tool, tool);
            var path = Directory.GetFiles(root, name + ".ko", SearchOption.AllDirectories).Single();
            plain[name] = File.ReadAllBytes(path);
            await CliWrap.Cli.Wrap(tool).WithArguments(tool == "zstd" ? ["-q", "--rm", path] : [path]).ExecuteAsync();
        }
        var tree = ModuleTree.Open(root);
        Assert.That(tree.Find("nfit")!.Path, Does.EndWith("nfit.ko.xz"));
        Assert.That(tree.Find("libnvdimm")!.Path, Does.EndWith("libnvdimm.ko.zst"));
        Assert.That(tree.Find("e1000")!.Path, Does.EndWith("e1000.ko.gz"));
        foreach (var (name, bytes) in plain) Assert.That(tree.Find(name)!.ReadObject(), Is.EqualTo(bytes), name);
        Assert.That(tree.LoadOrder(["nfit"]).Select(m => m.Name), Is.EqualTo(new[] { "libnvdimm", "nfit" }), "depends= read from inside the .xz");
    }

    [Test]
    public void A_modular_kernel_with_its_modules_packs_them_in_load_order_for_the_guests_init()
    {
        var kernel = Register(Image(FakeKernelFiles.Config("m")), FakeKernelFiles.ModulesTree(_dir, Release));
        Assert.That(kernel.Release, Is.EqualTo(Release));
        Assert.That(kernel.Modules, Is.Not.Null);
        var order = kernel.Modules!.LoadOrder.ToList();
        Assert.That(order, Has.Count.EqualTo(7));
        Assert.That(order.IndexOf("libnvdimm"), Is.LessThan(order.IndexOf("nfit")));
        var entries = Newc(File.ReadAllBytes(kernel.Modules.Archive));
        Assert.That(Encoding.ASCII.GetString(entries[GuestModules.ListPath]).TrimEnd().Split('\n'),
            Is.EqualTo(order.Select(m => $"/{GuestModules.Folder}/{m}.ko")));
        Assert.That(entries[$"{GuestModules.Folder}/nfit.ko"], Is.EqualTo(FakeKernelFiles.Module(Release, "libnvdimm")));
        Assert.That(entries.Keys, Has.None.Contains("unrelated"));
    }

    [Test]
    public void Modules_of_another_release_are_refused_naming_both_releases()
    {
        var image = Image(FakeKernelFiles.Config("m"));
        var other = FakeKernelFiles.ModulesTree(_dir, "6.1.0-40-amd64");
        var e = Assert.Throws<BadInputException>(() => Register(image, other));
        Assert.That(e!.Input, Is.EqualTo(InputKind.Modules));
        Assert.That(e.Value, Is.EqualTo(other));
        Assert.That(e.Reason, Does.StartWith("modules are for 6.1.0-40-amd64 (").And.EndWith($"is {Release}"));
    }

    [Test]
    public void A_config_without_what_the_scenario_needs_names_each_option()
    {
        var image = Image(FakeKernelFiles.Config("y", "CONFIG_ZONE_DEVICE", "CONFIG_PROC_KCORE"));
        var e = Assert.Throws<BadInputException>(() => Register(image, null));
        Assert.That(e!.Problems.Select(p => p.Input), Is.All.EqualTo(InputKind.KernelImage));
        Assert.That(e.Problems.Select(p => p.Reason), Is.EqualTo(new[]
        {
            $"CONFIG_ZONE_DEVICE is not set (needed: devdax/fsdax namespaces are ZONE_DEVICE memory) (config config-{Release})",
            $"CONFIG_PROC_KCORE is not set (needed: the harness reads VMCOREINFO from /proc/kcore) (config config-{Release})",
        }));
    }

    [Test]
    public void A_modular_kernel_without_modules_is_one_problem_naming_the_modular_options()
    {
        var e = Assert.Throws<BadInputException>(() => Register(Image(FakeKernelFiles.Config("m")), null));
        Assert.That(e!.Problems, Has.Count.EqualTo(1));
        Assert.That(e.Reason, Does.Contain("CONFIG_E1000=m").And.Contain("CONFIG_ACPI_NFIT=m").And.Contain("no modules were given"));
    }

    [Test]
    public void A_built_in_kernel_needs_no_modules_and_without_a_config_is_checked_after_boot()
    {
        Assert.That(Register(Image(FakeKernelFiles.Config("y")), null).Modules, Is.Null);
        var unknown = Register(Image(folder: "no-config"), null);
        Assert.That(unknown.Config, Is.Null);
        Assert.That(unknown.IsPrebuilt, Is.True);
    }

    [Test]
    public void The_run_initrd_carries_the_modules_archive_after_the_image_and_no_key()
    {
        var kernel = Register(Image(FakeKernelFiles.Config("m")), FakeKernelFiles.ModulesTree(_dir, Release));
        var baseImage = Path.Combine(_dir, "base.cpio");
        File.WriteAllBytes(baseImage, new byte[1000]);
        var initrd = Path.Combine(_dir, "initrd");
        ImageBuilder.WriteRunInitrd(new GuestImage(baseImage, "ssh-ed25519 AAAA host", "k"), initrd, kernel.Modules!.Archive);
        var bytes = File.ReadAllBytes(initrd);
        var modules = File.ReadAllBytes(kernel.Modules.Archive);
        Assert.That(bytes.AsSpan(1024, modules.Length).SequenceEqual(modules), Is.True, "the modules archive starts at the next 512-byte block");
        Assert.That(bytes, Has.Length.EqualTo(1024 + modules.Length), "nothing after the modules: the run's key goes through the key port, not the initrd");
    }

    /// <summary>The files of a newc archive, read independently of the writer (fields at their fixed offsets).</summary>
    private static Dictionary<string, byte[]> Newc(byte[] archive)
    {
        var files = new Dictionary<string, byte[]>();
        var at = 0;
        while (at + 110 <= archive.Length && Encoding.ASCII.GetString(archive, at, 6) == "070701")
        {
            int Field(int i) => Convert.ToInt32(Encoding.ASCII.GetString(archive, at + 6 + i * 8, 8), 16);
            var (mode, size, nameSize) = (Field(1), Field(6), Field(11));
            var name = Encoding.ASCII.GetString(archive, at + 110, nameSize - 1);
            var data = (at + 110 + nameSize + 3) & ~3;
            if (name == "TRAILER!!!") break;
            if ((mode & 0xF000) == 0x8000) files[name] = archive[data..(data + size)];
            at = (data + size + 3) & ~3;
        }
        return files;
    }

    private static async Task<(int Code, string Stderr)> Cli(params string[] args)
    {
        var (code, _, stderr) = await QhhCli.RunAsync(args);
        return (code, stderr);
    }
}
