using QemuHotplugHarness.Build;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Build;

/// <summary>Kernel lines as data: the line files, which line a tree belongs to, and the config requirements resolved per tree.</summary>
public class KernelLineTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("qhh-lines-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static KernelLines RepoLines => RepoLayout.Discover().Lines();

    [Test]
    public void The_repository_has_the_three_lines_and_a_tree_belongs_to_the_newest_line_that_starts_at_or_before_it()
    {
        Assert.That(RepoLines.All.Select(l => l.Name), Is.EqualTo(new[] { "6.1", "6.12", "latest" }));
        Assert.That(RepoLines.Default.Debian.Package, Is.EqualTo("linux-source-6.1"));
        Assert.That(RepoLines.Get("latest").Debian, Is.EqualTo(new DebianKernelSource(null, "linux-source-", "sid", "http://deb.debian.org/debian")));
        Assert.That(RepoLines.ForVersion(new LinuxVersion(6, 1))?.Name, Is.EqualTo("6.1"));
        Assert.That(RepoLines.ForVersion(new LinuxVersion(6, 6))?.Name, Is.EqualTo("6.1"), "between lines: the older line's fix is tried");
        Assert.That(RepoLines.ForVersion(new LinuxVersion(6, 12))?.Name, Is.EqualTo("6.12"));
        Assert.That(RepoLines.ForVersion(new LinuxVersion(7, 2))?.Name, Is.EqualTo("latest"));
        Assert.That(RepoLines.ForVersion(new LinuxVersion(5, 15)), Is.Null);
        Assert.That(RepoLines.ForVersion(new LinuxVersion(6, 10))?.Name, Is.EqualTo("6.1"), "6.10 > 6.1 by number, not by text");
    }

    [TestCase("7", "2", "latest")]
    [TestCase("6", "12", "6.12")]
    [TestCase("6", "6", "6.1")]
    public void A_users_tree_takes_the_fix_of_the_line_its_Makefile_version_belongs_to(string version, string patchlevel, string line)
    {
        File.WriteAllText(Path.Combine(_dir, "Makefile"), $"# SPDX\nVERSION = {version}\nPATCHLEVEL = {patchlevel}\nSUBLEVEL = 0\n");
        Assert.That(new QemuHotplugHarness.Cli.Commands.GuestSettings { KernelSrc = _dir }.EffectiveKernelLine(), Is.EqualTo(line));
        Assert.That(new QemuHotplugHarness.Cli.Commands.GuestSettings { KernelSrc = _dir, KernelLine = "6.1" }.EffectiveKernelLine(), Is.EqualTo("6.1"),
            "--kernel-line wins");
        Assert.That(new QemuHotplugHarness.Cli.Commands.GuestSettings().EffectiveKernelLine(), Is.EqualTo("6.1"), "Debian's source: the default line");
    }

    [Test]
    public void An_unknown_line_is_bad_input_naming_the_lines_there_are()
    {
        var e = Assert.Throws<BadInputException>(() => RepoLines.Get("5.4"));
        Assert.That(e!.Input, Is.EqualTo(InputKind.KernelLine));
        Assert.That(e.Reason, Is.EqualTo("no such kernel line (kernel-lines/ has 6.1, 6.12, latest)"));
    }

    [TestCase("{\"name\": \"x\", \"from\": \"7.0\", \"debian\": {\"package\": \"p\", \"suite\": \"s\", \"mirror\": \"m\"}}", "name: \"x\" is not the file's name")]
    [TestCase("{\"name\": \"bad\", \"from\": \"seven\", \"debian\": {\"package\": \"p\", \"suite\": \"s\", \"mirror\": \"m\"}}", "from: \"seven\" is not a version")]
    [TestCase("{\"name\": \"bad\", \"from\": \"7.0\", \"debian\": {\"suite\": \"s\", \"mirror\": \"m\"}}", "debian: give exactly one of package and packagePrefix")]
    [TestCase("{\"name\": \"bad\", \"from\": \"7.0\", \"debain\": {}}", "not a kernel line at $.debain")]
    public void A_malformed_line_file_is_the_harness_s_own_error_naming_file_and_field(string json, string expected)
    {
        File.WriteAllText(Path.Combine(_dir, "bad.json"), json);
        var e = Assert.Throws<InfrastructureException>(() => KernelLines.Load(_dir));
        Assert.That(e!.Message, Does.StartWith(Path.Combine(_dir, "bad.json") + ": " + expected));
    }

    private static readonly ConfigRequirement VmcoreInfo =
        new("vmcore-info", "VMCOREINFO", ["CONFIG_VMCORE_INFO", "CONFIG_CRASH_CORE"], "y", WhenAbsent.Missing);

    private static readonly ConfigRequirement FiveLevel = new("5-level", "la57", ["CONFIG_X86_5LEVEL"], "y", WhenAbsent.BuiltIn);

    [Test]
    public void Each_requirement_takes_the_first_spelling_the_tree_defines()
    {
        var base61 = new HashSet<string> { "SMP", "CRASH_CORE", "X86_5LEVEL", "SLOB" };
        var tree72 = new HashSet<string> { "SMP", "VMCORE_INFO", "CRASH_DUMP" };
        const string fragment = "# comment\nCONFIG_SMP=y\n# CONFIG_SLOB is not set\n";

        var on61 = ConfigRequirements.Resolve(fragment, [VmcoreInfo, FiveLevel], base61);
        var on72 = ConfigRequirements.Resolve(fragment, [VmcoreInfo, FiveLevel], tree72, ["CONFIG_DEBUG_VM=y"]);

        Assert.That(on61.Text, Is.EqualTo("# comment\nCONFIG_SMP=y\n# CONFIG_SLOB is not set\nCONFIG_CRASH_CORE=y\nCONFIG_X86_5LEVEL=y\n"));
        Assert.That(on61.Missing, Is.Empty);
        Assert.That(on72.Text, Is.EqualTo("# comment\nCONFIG_SMP=y\nCONFIG_VMCORE_INFO=y\n"),
            "SLOB's 'is not set' is dropped where SLOB does not exist; 5-level paging is always on");
        Assert.That(on72.Missing, Is.EqualTo(new[] { "CONFIG_DEBUG_VM (the tree's Kconfig does not define it)" }), "a case's option the tree lacks");
        var withCase = ConfigRequirements.Resolve(fragment, [VmcoreInfo], new HashSet<string>(tree72) { "DEBUG_VM" }, ["CONFIG_DEBUG_VM=y", "# CONFIG_KASAN is not set"]);
        Assert.That(withCase.Text, Is.EqualTo("# comment\nCONFIG_SMP=y\nCONFIG_DEBUG_VM=y\nCONFIG_VMCORE_INFO=y\n"),
            "a case's options after the fragment's; its 'is not set' for an option the tree lacks dropped");
        Assert.That(withCase.Missing, Is.Empty);
    }

    [Test]
    public void A_requirement_no_spelling_of_which_the_tree_defines_is_named_with_why_it_is_needed()
    {
        var resolved = ConfigRequirements.Resolve("CONFIG_SMP=y\n", [VmcoreInfo], new HashSet<string> { "SMP" });
        Assert.That(resolved.Missing, Is.EqualTo(new[] { "vmcore-info: none of CONFIG_VMCORE_INFO, CONFIG_CRASH_CORE (needed: VMCOREINFO)" }));
    }

    [Test]
    public void The_repository_requirements_load_and_the_symbols_of_a_tree_come_from_its_Kconfig_files()
    {
        var requirements = ConfigRequirements.Load(RepoLayout.Discover().KernelRequirements);
        Assert.That(requirements.Select(r => r.Name), Is.EqualTo(new[] { "vmcore-info", "5-level-paging", "reliable-unwinder" }));
        Assert.That(requirements[1].WhenAbsent, Is.EqualTo(WhenAbsent.BuiltIn));
        Directory.CreateDirectory(Path.Combine(_dir, "arch/x86"));
        File.WriteAllText(Path.Combine(_dir, "Kconfig"), "config SMP\n\tbool \"SMP\"\n  menuconfig EXPERT\n# config COMMENTED\n\tdepends on FOO\n");
        File.WriteAllText(Path.Combine(_dir, "arch/x86/Kconfig.debug"), "config UNWINDER_ORC\n");
        File.WriteAllText(Path.Combine(_dir, "arch/x86/Makefile"), "config NOT_KCONFIG\n");
        Assert.That(KconfigSymbols.Scan(_dir), Is.EquivalentTo(new[] { "SMP", "EXPERT", "UNWINDER_ORC" }));
    }

    [Test]
    public void The_nic_follows_the_kernel_built_in_first_then_modules()
    {
        Dictionary<string, string> Config(string virtioPci, string virtioNet, string e1000) =>
            new() { ["CONFIG_VIRTIO_PCI"] = virtioPci, ["CONFIG_VIRTIO_NET"] = virtioNet, ["CONFIG_E1000"] = e1000 };
        Assert.That(KernelRequirements.ChooseNic(Config("y", "y", "y"), true)?.Nic, Is.EqualTo(NicDriver.VirtioNet), "the harness's own kernels");
        Assert.That(KernelRequirements.ChooseNic(Config("y", "m", "m"), true)?.Nic, Is.EqualTo(NicDriver.E1000), "Debian's generic kernels");
        Assert.That(KernelRequirements.ChooseNic(Config("y", "m", "n"), true)?.Nic, Is.EqualTo(NicDriver.VirtioNet), "Debian's 6.12 cloud kernel");
        Assert.That(KernelRequirements.ChooseNic(Config("y", "m", "n"), false), Is.Null, "modular without modules");
        Assert.That(KernelRequirements.ChooseNic(Config("n", "y", "n"), true), Is.Null, "virtio-net without its PCI transport");
        Assert.That(KernelRequirements.ModularDrivers(Config("y", "m", "n")), Does.Contain("virtio_net").And.Not.Contain("e1000"));
    }

    [Test]
    public void Kernel_debs_group_by_name_and_a_folder_stands_for_its_debs()
    {
        var folder = Path.Combine(_dir, "7.2");
        Directory.CreateDirectory(folder);
        foreach (var f in new[] { "linux-image-7.2_a.deb", "linux-binary-7.2_a.deb", "linux-image-7.2-dbg_a.deb", "notes.txt" })
            File.WriteAllText(Path.Combine(folder, f), "");
        var single = Path.Combine(_dir, "linux-image-6.12.deb");
        File.WriteAllText(single, "");

        var sets = KernelDebSet.Group(["latest=" + folder, "old=" + single, single]);

        Assert.That(sets.Select(s => s.Name), Is.EqualTo(new[] { "latest", "old", "deb" }));
        Assert.That(sets[0].Files.Select(Path.GetFileName), Is.EqualTo(new[] { "linux-binary-7.2_a.deb", "linux-image-7.2_a.deb" }), "no -dbg package");
        var e = Assert.Throws<BadInputException>(() => KernelDebSet.Group(["x=" + single + "," + Path.Combine(_dir, "gone.deb")]));
        Assert.That(e!.Reason, Is.EqualTo(Path.Combine(_dir, "gone.deb") + ": no such file or folder"));
    }
}

/// <summary>One nightly matrix over several kernel lines: each cell names its line, and the cells of two lines are two kernels.</summary>
public class KernelLineMatrixTests
{
    [Test]
    public void A_matrix_cell_picks_its_kernel_line()
    {
        var file = Path.Combine(Path.GetTempPath(), $"qhh-lines-matrix-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """
            [{ "name": "u-6.12", "scenario": { "kernel": { "line": "6.12", "variant": "unpatched" } } },
             { "name": "p-latest", "scenario": { "kernel": { "line": "latest", "variant": "patched" } } },
             { "name": "seed" }]
            """);
        try
        {
            var cells = QemuHotplugHarness.Orchestration.Matrix.Load(file);
            Assert.That(cells.Select(c => (c.Scenario.Kernel.Line, c.Scenario.Kernel.Variant)), Is.EqualTo(new (string?, KernelVariant)[]
            {
                ("6.12", KernelVariant.Unpatched), ("latest", KernelVariant.Patched), (null, KernelVariant.Unpatched),
            }));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
