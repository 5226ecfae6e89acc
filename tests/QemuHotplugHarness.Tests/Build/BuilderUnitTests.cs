using QemuHotplugHarness.Build;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Tests.Build;

public class BuilderUnitTests
{
    private string _dir = "";
    private ToolRunner _runner = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("qhh-test-").FullName;
        _runner = new ToolRunner(new LoggerConfiguration().CreateLogger(), Path.Combine(_dir, "tool.log"));
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static string RepoRoot => RepoLayout.Discover().Root;

    [Test]
    [Category("HostTools")] // runs patch(1)
    public async Task A_patch_that_does_not_apply_names_the_patch_and_the_hunk()
    {
        HostTools.Require("patch", "patch");
        var tree = Path.Combine(_dir, "tree");
        Directory.CreateDirectory(Path.Combine(tree, "hw/i386"));
        File.WriteAllText(Path.Combine(tree, "hw/i386/pc.c"), string.Join('\n', Enumerable.Range(0, 900).Select(i => $"line {i};")) + "\n");
        var patch = Path.Combine(RepoRoot, "qemu-patches", "0001-pc-do-not-round-device-memory-base-to-1GiB.patch");
        var e = (await Assert.ThrowsAsync<BadInputException>(() => PatchSeries.ProbeAsync(_runner, tree, patch, CancellationToken.None)))!;
        Assert.That(e.Message, Does.StartWith("patch 0001-pc-do-not-round-device-memory-base-to-1GiB.patch does not apply to"));
        Assert.That(e.Message, Does.Contain("hunk #1 FAILED at line 838"));
    }

    [Test]
    [Category("HostTools")] // needs the linux-source-6.1 package, tar and patch(1)
    public async Task The_kernel_patch_is_detected_as_applied_or_not_on_the_real_linux_source()
    {
        const string tarball = "/usr/src/linux-source-6.1.tar.xz";
        if (!File.Exists(tarball)) { Assert.Ignore($"{tarball} is not installed (run.ps1 setup installs it)"); return; }
        HostTools.Require("patch", "patch");
        var tree = Path.Combine(_dir, "linux");
        Directory.CreateDirectory(tree);
        await _runner.RunAsync(new ToolCall("extract sparse.c", "tar", ["-xaf", tarball, "-C", tree, "--strip-components=1", "linux-source-6.1/mm/sparse.c"], _dir, TimeSpan.FromMinutes(5)), CancellationToken.None);
        var patch = Path.Combine(RepoRoot, "cases", "early-section-memmap", "fix-6.1.patch");
        Assert.That(await PatchSeries.ProbeAsync(_runner, tree, patch, CancellationToken.None), Is.EqualTo(PatchState.AlreadyApplied), "6.1 contains the fix");
        await PatchSeries.ApplyAsync(_runner, tree, patch, reverse: true, CancellationToken.None);
        Assert.That(await PatchSeries.ProbeAsync(_runner, tree, patch, CancellationToken.None), Is.EqualTo(PatchState.Applies), "after reverting, the fix applies again");
        Assert.That(File.ReadAllText(Path.Combine(tree, "mm/sparse.c")), Does.Contain("if (section_is_early && memmap)"));
    }

    [Test]
    public void Config_options_that_did_not_stick_are_named()
    {
        var fragment = "CONFIG_SLUB=y\n# CONFIG_SLOB is not set\nCONFIG_ZONE_DEVICE=y\nCONFIG_NR_CPUS=8\n";
        var config = "CONFIG_SLUB=y\nCONFIG_SLOB=y\n# CONFIG_ZONE_DEVICE is not set\nCONFIG_NR_CPUS=64\n";
        Assert.That(KernelConfig.NotStuck(fragment, config), Is.EqualTo(new[] { "CONFIG_SLOB=n (got y)", "CONFIG_ZONE_DEVICE=y (got n)", "CONFIG_NR_CPUS=8 (got 64)" }));
    }

    [Test]
    public void A_config_that_lacks_a_fragment_option_reports_it_and_a_complete_one_reports_nothing()
    {
        const string fragment = "CONFIG_ZONE_DEVICE=y\n# CONFIG_SLOB is not set\nCONFIG_NR_CPUS=8\n";
        // What olddefconfig writes when every option stuck: its own order, comments, options the fragment does not name,
        // and CONFIG_SLOB simply absent (absent means n).
        const string complete = "#\n# Automatically generated file; DO NOT EDIT.\n#\nCONFIG_64BIT=y\nCONFIG_NR_CPUS=8\nCONFIG_SLUB=y\nCONFIG_ZONE_DEVICE=y\n";
        Assert.That(KernelConfig.NotStuck(fragment, complete), Is.Empty);
        // olddefconfig dropped CONFIG_ZONE_DEVICE (an unmet dependency): the line is gone, not set to n.
        const string lacking = "CONFIG_64BIT=y\nCONFIG_NR_CPUS=8\nCONFIG_SLUB=y\n";
        Assert.That(KernelConfig.NotStuck(fragment, lacking), Is.EqualTo(new[] { "CONFIG_ZONE_DEVICE=y (got n)" }));
    }

    [Test]
    public void The_repo_fragment_has_what_the_scenario_needs()
    {
        var options = KernelConfig.Parse(File.ReadAllText(Path.Combine(RepoRoot, "images", "kernel", "hotplug.config")));
        foreach (var o in new[] { "CONFIG_ACPI_NFIT", "CONFIG_LIBNVDIMM", "CONFIG_ZONE_DEVICE", "CONFIG_SPARSEMEM_VMEMMAP", "CONFIG_MEMORY_HOTREMOVE", "CONFIG_DEV_DAX_PMEM", "CONFIG_PARAVIRT_XXL", "CONFIG_SLUB", "CONFIG_E1000", "CONFIG_VIRTIO_PCI", "CONFIG_VIRTIO_NET", "CONFIG_PVH", "CONFIG_PROC_KCORE" })
            Assert.That(options.GetValueOrDefault(o), Is.EqualTo("y"), o);
    }

    [Test]
    public void The_repo_fragment_keeps_out_what_the_guest_does_not_use()
    {
        // "is not set" lines are verified after olddefconfig like the others, so these stay out of every build.
        var options = KernelConfig.Parse(File.ReadAllText(Path.Combine(RepoRoot, "images", "kernel", "hotplug.config")));
        foreach (var o in new[] { "CONFIG_VT", "CONFIG_INPUT", "CONFIG_SERIO", "CONFIG_XEN_DOM0", "CONFIG_XEN_NETDEV_FRONTEND", "CONFIG_XEN_BLKDEV_FRONTEND", "CONFIG_KVM_GUEST", "CONFIG_RD_ZSTD", "CONFIG_ETHTOOL_NETLINK" })
            Assert.That(options.GetValueOrDefault(o), Is.EqualTo("n"), o);
        Assert.That(options.GetValueOrDefault("CONFIG_KERNEL_LZ4"), Is.EqualTo("y"), "LZ4: cheapest to compress per build and to decompress per boot");
    }

    [Test]
    public void Qemu_is_configured_with_only_the_guest_devices_when_the_tree_takes_a_device_list()
    {
        var src = Path.Combine(_dir, "qemu");
        Directory.CreateDirectory(src);
        Assert.That(QemuBuilder.ConfigureArgs(src), Is.EqualTo(QemuBuilder.ConfigureFlags), "an old tree without configs/devices keeps QEMU's default devices");
        var devices = Path.Combine(src, "configs", "devices", "x86_64-softmmu");
        Directory.CreateDirectory(devices);
        var args = QemuBuilder.ConfigureArgs(src);
        Assert.That(args, Does.Contain("--without-default-devices").And.Contain("--with-devices-x86_64=qhh"));
        var mak = File.ReadAllLines(Path.Combine(devices, "qhh.mak"));
        Assert.That(mak, Is.SupersetOf(new[] { "CONFIG_I440FX=y", "CONFIG_Q35=y", "CONFIG_NVDIMM=y", "CONFIG_E1000_PCI=y", "CONFIG_VIRTIO_NET=y", "CONFIG_VIRTIO_SERIAL=y" }));
    }

    [Test]
    [Category("HostTools")] // runs sh
    public async Task Tool_steps_are_timed_when_the_context_asks()
    {
        var timings = new ToolTimings();
        var runner = new ToolRunner(new LoggerConfiguration().CreateLogger(), Path.Combine(_dir, "timed.log"), timings);
        await runner.RunAsync(new ToolCall("sleep a little", "sh", ["-c", "sleep 0.3"], _dir, TimeSpan.FromMinutes(1)), CancellationToken.None);
        await _runner.RunAsync(new ToolCall("untimed", "true", [], _dir, TimeSpan.FromMinutes(1)), CancellationToken.None);
        var steps = timings.Snapshot();
        Assert.That(steps.Select(s => s.Step), Is.EqualTo(new[] { "sleep a little" }));
        Assert.That(steps[0].Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(0.3)));
    }

    [Test]
    [Category("HostTools")] // runs readelf
    public async Task A_missing_library_is_named()
    {
        HostTools.Require("readelf", "binutils");
        var root = Path.Combine(_dir, "root");
        Directory.CreateDirectory(Path.Combine(root, "usr/bin"));
        File.Copy("/bin/ls", Path.Combine(root, "usr/bin/ls"));
        var missing = await ElfDependencies.MissingAsync(_runner, root, CancellationToken.None);
        Assert.That(missing, Has.Some.EqualTo("usr/bin/ls needs libc.so.6"));
        Directory.CreateDirectory(Path.Combine(root, "lib/x86_64-linux-gnu"));
        foreach (var lib in missing.Select(m => m.Split(" needs ")[1]))
            File.WriteAllText(Path.Combine(root, "lib/x86_64-linux-gnu", lib), "");
        Assert.That(await ElfDependencies.MissingAsync(_runner, root, CancellationToken.None), Is.Empty);
    }

    [Test]
    [Category("HostTools")] // runs cpio
    public async Task Newc_archives_list_with_cpio_and_own_everything_by_root()
    {
        HostTools.Require("cpio", "cpio");
        var tree = Path.Combine(_dir, "tree");
        Directory.CreateDirectory(Path.Combine(tree, "etc"));
        File.WriteAllText(Path.Combine(tree, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\n");
        File.CreateSymbolicLink(Path.Combine(tree, "sh"), "busybox");
        var archive = Path.Combine(_dir, "a.cpio");
        using (var f = File.Create(archive))
        using (var a = new NewcArchive(f)) a.AddTree(tree);
        var listing = await _runner.RunAsync(new ToolCall("cpio -t", "cpio", ["-itv", "-F", archive], _dir, TimeSpan.FromMinutes(1)), CancellationToken.None);
        Assert.That(listing, Does.Contain("etc/passwd").And.Contain("sh -> busybox"));
        Assert.That(listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).All(l => l.Contains(" root ") || l.Contains(" 0 ")), Is.True, listing);
    }

    [Test]
    public void Cache_keys_change_with_any_input_and_commit_is_atomic()
    {
        Assert.That(HarnessCache.Key(["a", "b"]), Is.Not.EqualTo(HarnessCache.Key(["ab"])));
        Assert.That(HarnessCache.Key(["a", "b"]), Is.EqualTo(HarnessCache.Key(["a", "b"])));
        var cache = new HarnessCache(Path.Combine(_dir, "cache"));
        var tmp = cache.NewTempDir("x");
        Assert.That(cache.TryGet("x", "k"), Is.Null);
        File.WriteAllText(Path.Combine(tmp, "manifest.json"), "{}");
        var final = cache.Commit("x", "k", tmp);
        Assert.That(cache.TryGet("x", "k"), Is.EqualTo(final));
        Assert.That(Directory.Exists(tmp), Is.False);
    }
}
