using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using QemuHotplugHarness.Tests.Orchestration;

namespace QemuHotplugHarness.Tests.Guest;

public class GuestUnitTests
{
    [Test]
    public void Qemu_command_line_is_the_seed_recipe_with_forwards_on_loopback()
    {
        var config = GuestBuilder.For(Scenario.Seed, "/x/qemu", "/k/bzImage", "ssh-ed25519 AAAA", _ => { })
            .WithFirmware(["/usr/share/qemu"]).WithAccel(Accel.Tcg).Build();
        var line = string.Join(' ', config.Arguments(new GuestWiring("/r/initrd", 10022, "/p/qmp.sock", "/p/keys.sock")));
        Assert.That(line, Does.Contain("-L /usr/share/qemu"));
        Assert.That(line, Does.Contain("-machine pc,nvdimm=on"));
        Assert.That(line, Does.Contain("-m 4160M,maxmem=20480M,slots=1"));
        Assert.That(line, Does.Contain("-cpu max,pse=off"));
        Assert.That(line, Does.Contain("-device nvdimm,id=nv0,memdev=mem0,addr=0x144000000,label-size=128k"));
        Assert.That(line, Does.Contain("hostfwd=tcp:127.0.0.1:10022-:22"));
        Assert.That(line, Does.Contain("-qmp unix:/p/qmp.sock,server=on,wait=off"));
        var kvm = config with { Scenario = Scenario.Seed.WithPse(true).WithNvdimmAddress(null), Accel = Accel.Kvm };
        Assert.That(string.Join(' ', kvm.Arguments(new GuestWiring("i", 1, "q", "k"))), Does.Contain("-cpu host ").And.Not.Contain("pse=off").And.Not.Contain("addr="));
    }

    [Test]
    public void The_seed_guest_starts_with_exactly_these_qemu_arguments()
    {
        var config = GuestBuilder.For(Scenario.Seed, "/x/qemu", "/k/bzImage", "ssh-ed25519 AAAA", _ => { })
            .WithFirmware(["/usr/share/qemu"]).WithFastFirmware("qboot.rom").WithAccel(Accel.Tcg).Build();
        Assert.That(config.Arguments(new GuestWiring("/r/initrd", 10022, "/p/qmp.sock", "/p/keys.sock")), Is.EqualTo(new[]
        {
            "-L", "/usr/share/qemu",
            "-bios", "qboot.rom",
            "-machine", "pc,nvdimm=on",
            "-accel", "tcg",
            "-m", "4160M,maxmem=20480M,slots=1",
            "-smp", "2",
            "-cpu", "max,pse=off",
            "-object", "memory-backend-ram,id=mem0,size=8192M",
            "-device", "nvdimm,id=nv0,memdev=mem0,addr=0x144000000,label-size=128k",
            "-kernel", "/k/bzImage", "-initrd", "/r/initrd", "-append", "console=ttyS0 nokaslr panic=-1 random.trust_cpu=on no_timer_check loglevel=5 vm_debug=-",
            "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:10022-:22",
            "-device", "e1000,netdev=n0,romfile=,autonegotiation=off",
            "-qmp", "unix:/p/qmp.sock,server=on,wait=off",
            "-display", "none", "-nodefaults", "-no-reboot", "-serial", "stdio", "-monitor", "none",
            "-chardev", "socket,id=keys,path=/p/keys.sock,server=on,wait=off", "-serial", "chardev:keys",
        }));
    }

    [TestCase("CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_NET=y\n", "virtio-net-pci,netdev=n0,romfile=")]
    [TestCase("CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_NET=m\nCONFIG_E1000=m\n", "e1000,netdev=n0,romfile=,autonegotiation=off")] // Debian's
    [TestCase("# CONFIG_VIRTIO_PCI is not set\nCONFIG_VIRTIO_NET=y\n", "e1000,netdev=n0,romfile=,autonegotiation=off")]
    [TestCase(null, "e1000,netdev=n0,romfile=,autonegotiation=off")] // a user's image without a config
    public void The_guest_gets_virtio_net_only_from_a_kernel_with_it_built_in(string? config, string nic)
    {
        var dir = Directory.CreateTempSubdirectory("qhh-nic-").FullName;
        try
        {
            var path = Path.Combine(dir, "config");
            if (config is not null) File.WriteAllText(path, config);
            var kernel = new KernelBuild("k", "/k/bzImage", null, null, null, "6.1", "test", "k") { Config = config is null ? null : path };
            var inputs = new GuestInputs(new QemuBuild(QemuFlavour.Patched, "/x/qemu", [], "s", "q"), kernel, new GuestImage("/i", "ssh-ed25519 AAAA x", "img"));
            var guest = CellRunner.Configure(inputs, Scenario.Seed, Accel.Tcg, Path.Combine(dir, "console.log"), new RunOptions());
            var args = guest.Arguments(new GuestWiring("i", 1, "q", "k"));
            Assert.That(args, Does.Contain(nic));
            Assert.That(args.Count(a => a.Contains("netdev=n0")), Is.EqualTo(1), "one NIC");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCase("CONFIG_PVH=y\n", false, "vmlinux")]
    [TestCase("# CONFIG_PVH is not set\n", false, "bzImage")]
    [TestCase("CONFIG_PVH=y\n", true, "bzImage")] // a registered image or package: its bzImage, whatever its config says
    [TestCase(null, false, "bzImage")] // no config known
    public void The_guest_boots_vmlinux_through_pvh_only_from_the_harness_s_own_pvh_kernel(string? config, bool prebuilt, string booted)
    {
        var dir = Directory.CreateTempSubdirectory("qhh-pvh-").FullName;
        try
        {
            var configPath = Path.Combine(dir, "config");
            if (config is not null) File.WriteAllText(configPath, config);
            File.WriteAllText(Path.Combine(dir, "vmlinux"), "elf");
            var kernel = new KernelBuild("k", Path.Combine(dir, "bzImage"), Path.Combine(dir, "vmlinux"), null, null, "6.1", "test", "k")
            {
                Config = config is null ? null : configPath, IsPrebuilt = prebuilt,
            };
            var inputs = new GuestInputs(new QemuBuild(QemuFlavour.Patched, "/x/qemu", [], "s", "q"), kernel, new GuestImage("/i", "ssh-ed25519 AAAA x", "img"));
            var args = CellRunner.Configure(inputs, Scenario.Seed, Accel.Tcg, Path.Combine(dir, "console.log"), new RunOptions()).Arguments(new GuestWiring("i", 1, "q", "k"));
            Assert.That(args[args.ToList().IndexOf("-kernel") + 1], Is.EqualTo(Path.Combine(dir, booted)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void Only_the_pc_machine_boots_with_qboot_and_only_when_it_was_found()
    {
        var config = GuestBuilder.For(Scenario.Seed, "/x/qemu", "/k/bzImage", "ssh-ed25519 AAAA", _ => { }).WithFastFirmware("qboot.rom").Build();
        var wiring = new GuestWiring("i", 1, "q", "k");
        Assert.That(config.Arguments(wiring), Does.Contain("-bios"));
        var q35 = config with { Scenario = Scenario.Seed with { Machine = Scenario.Seed.Machine with { Type = MachineType.Q35 } } };
        Assert.That(q35.Arguments(wiring), Does.Not.Contain("-bios"));
        Assert.That((config with { FastFirmware = null }).Arguments(wiring), Does.Not.Contain("-bios"));
        Assert.That(new QemuBuild(QemuFlavour.Patched, "/x/qemu", ["/nonexistent-firmware"], "s", "k").FastFirmware, Is.Null);
    }

    [Test]
    public void Every_qemu_is_headless_with_the_console_on_stdio_and_no_reboot()
    {
        Assert.That(new QemuArguments().HeadlessSerialConsole().Build(),
            Is.EqualTo(new[] { "-display", "none", "-nodefaults", "-no-reboot", "-serial", "stdio", "-monitor", "none" }));
        // The other QEMU the harness starts (the KVM probe) is built from the same calls; the builder is the only place
        // QEMU options are spelled out.
        var src = Path.Combine(RepoLayout.Discover().Root, "src");
        var spelled = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != "QemuArguments.cs" && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => new[] { "\"-nodefaults\"", "\"-no-reboot\"", "\"-serial\"", "\"-machine\"", "\"-device\"", "\"-netdev\"", "\"-qmp\"", "\"-initrd\"" }.Any(x.line.Contains))
            .Select(x => $"{Path.GetRelativePath(src, x.f)}:{x.i + 1}")
            .ToList();
        Assert.That(spelled, Is.Empty, "QEMU options written outside QemuArguments");
    }

    [Test]
    public void The_command_line_file_quotes_what_a_shell_would_split()
    {
        var text = QemuArguments.Render("/x/qemu-system-x86_64", ["-append", "console=ttyS0 nokaslr panic=-1", "-device", "e1000,netdev=n0,romfile=", "-L", "/it's"]);
        Assert.That(text, Is.EqualTo("/x/qemu-system-x86_64 \\\n  -append \\\n  'console=ttyS0 nokaslr panic=-1' \\\n  -device \\\n  e1000,netdev=n0,romfile= \\\n  -L \\\n  '/it'\\''s'"));
    }

    [Test]
    public void Iomem_ranges_are_read_above_4G()
    {
        const string iomem = "00100000-bffdefff : System RAM\n100000000-143ffffff : System RAM\n144000000-343dfffff : Persistent Memory\n  144000000-1441fffff : namespace0.0\n  144200000-144ffffff : dax0.0\n";
        Assert.That(Iomem.Find(iomem, "System RAM", true), Is.EqualTo(new AddressRange(0x1_0000_0000, 0x1_4400_0000)));
        Assert.That(Iomem.Find(iomem, "Persistent Memory", true), Is.EqualTo(new AddressRange(0x1_4400_0000, 0x3_43e0_0000)));
        Assert.That(Iomem.Find(iomem, "dax0.0", true)?.ToIomem(), Is.EqualTo("144200000-144ffffff"));
        Assert.That(Iomem.Find(iomem, "System RAM", false), Is.EqualTo(new AddressRange(0x10_0000, 0xbffdf000)));
        Assert.That(Iomem.Find(iomem, "nothing", true), Is.Null);
    }

    [Test]
    public void Fault_pfn_comes_from_the_kernel_facts_not_a_constant()
    {
        var log = string.Join('\n', File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Corpus", "oops", "ref-6.1-init_single_page.txt")).SkipWhile(l => l.Length > 0));
        var report = OopsScanner.Scan(log).Single();
        Assert.That(Hex.TryParse(report.FaultAddress, out var address), Is.True);
        var fiveLevel = KernelFacts.FromVmcoreinfo("OSRELEASE=6.1.192\nSIZE(page)=64\nNUMBER(pgtable_l5_enabled)=1\n");
        Assert.That(fiveLevel.PfnOfStructPage(address), Is.EqualTo(0x144002UL));
        var fourLevel = KernelFacts.FromVmcoreinfo("SIZE(page)=64\nNUMBER(pgtable_l5_enabled)=0\n");
        Assert.That(fourLevel.PfnOfStructPage(address), Is.Null, "a 5-level address read with the 4-level base is no struct page");
    }

    [Test]
    public void Vmcoreinfo_is_found_in_an_elf_core_header()
    {
        var note = "SIZE(page)=56\nNUMBER(pgtable_l5_enabled)=0\n"u8.ToArray();
        var name = "VMCOREINFO\0"u8.ToArray();
        var head = new byte[4096];
        head[0] = 0x7f; head[1] = (byte)'E'; head[2] = (byte)'L'; head[3] = (byte)'F'; head[4] = 2;
        BitConverter.GetBytes(64UL).CopyTo(head, 0x20); // phoff
        BitConverter.GetBytes((ushort)56).CopyTo(head, 0x36);
        BitConverter.GetBytes((ushort)1).CopyTo(head, 0x38);
        BitConverter.GetBytes(4u).CopyTo(head, 64); // PT_NOTE
        BitConverter.GetBytes(200UL).CopyTo(head, 64 + 8);
        BitConverter.GetBytes((ulong)(12 + 12 + note.Length + 4)).CopyTo(head, 64 + 32);
        BitConverter.GetBytes((uint)name.Length).CopyTo(head, 200);
        BitConverter.GetBytes((uint)note.Length).CopyTo(head, 204);
        name.CopyTo(head, 212);
        note.CopyTo(head, 212 + 12);
        var text = KernelFacts.VmcoreinfoFromKcore(head);
        Assert.That(text, Is.EqualTo(System.Text.Encoding.ASCII.GetString(note)));
        Assert.That(KernelFacts.FromVmcoreinfo(text!).StructPageSize, Is.EqualTo(56));
    }

    private static Observation Obs(Outcome outcome, int? it = null, ulong? pfn = null) =>
        new() { Outcome = outcome, Accel = Accel.Tcg, OopsIteration = it, FaultPfn = pfn };

    [Test]
    public void Comparison_names_the_field_that_differs()
    {
        var p = Predictor.Predict(Scenario.Seed);
        Assert.That(Comparison.Mismatches(p, Obs(Outcome.Oops, 2, 0x144002)), Is.Empty);
        Assert.That(Comparison.Mismatches(p, Obs(Outcome.Oops, 3, 0x144002)), Is.EqualTo(new[] { "oopsIteration: predicted 2, observed 3" }));
        Assert.That(Comparison.Mismatches(p, Obs(Outcome.Oops, 2, 0x144010)), Is.EqualTo(new[] { "faultPfn: predicted 0x144002, observed 0x144010" }));
        Assert.That(Comparison.Mismatches(p, Obs(Outcome.Clean)), Is.EqualTo(new[] { "outcome: predicted oops, observed clean" }));
    }

    /// <summary>The default matrix judged on observations written in the test; the predictions are the judge's input.</summary>
    private static List<CellResult> Judged(Func<string, Observation> observe) =>
        SeedMatrix.Cells(Scenario.Seed).Select(c =>
        {
            var p = Predictor.Predict(c.Scenario);
            var o = observe(c.Name);
            return new CellResult(c.Name, 1, c.Scenario, p, o, Comparison.Mismatches(p, o));
        }).ToList();

    private static Func<string, Observation> SeedExcept(string cell, Observation instead) =>
        name => name == cell ? instead : SeedObservations.Of(name);

    [Test]
    public void Verdicts_follow_the_cells()
    {
        var seed = Judged(SeedObservations.Of);
        Assert.That(seed.Select(c => (c.Name, c.Mismatches.Count)), Is.EqualTo(new[]
        {
            ("stock-qemu-unpatched-pse-off", 0), ("unpatched-pse-off", 0), ("unpatched-pse-on", 0), ("patched-pse-off", 0), ("patched-pse-on", 0),
        }), "the seed's real outcomes are what the simulator predicts");
        Assert.That(Verdicts.Decide(seed), Is.EqualTo(Verdict.PatchFixes));
        Assert.Multiple(() =>
        {
            Assert.That(Verdicts.Decide(Judged(SeedExcept("unpatched-pse-off", SeedObservations.Clean()))), Is.EqualTo(Verdict.NotReproduced));
            Assert.That(Verdicts.Decide(Judged(SeedExcept("patched-pse-off", SeedObservations.OopsAtIteration2()))), Is.EqualTo(Verdict.PatchDoesNotFix));
            Assert.That(Verdicts.Decide(Judged(SeedExcept("unpatched-pse-off", SeedObservations.OopsAtIteration2() with { OopsIteration = 3 }))), Is.EqualTo(Verdict.Mismatch));
            Assert.That(Verdicts.Decide(Judged(SeedExcept("stock-qemu-unpatched-pse-off", SeedObservations.Clean()))), Is.EqualTo(Verdict.Mismatch));
            Assert.That(Verdicts.Decide(Judged(SeedExcept("patched-pse-on", Obs(Outcome.InfraError)))), Is.EqualTo(Verdict.InfraError));
            Assert.That(Verdicts.Decide(Judged(SeedExcept("patched-pse-on", Obs(Outcome.PreconditionFailed)))), Is.EqualTo(Verdict.InfraError));
            Assert.That(Verdicts.Decide([]), Is.EqualTo(Verdict.InfraError), "no cell, no judgement");
            var glitchAndRegression = Judged(name => name switch
            {
                "unpatched-pse-off" => Obs(Outcome.InfraError),
                "patched-pse-on" => SeedObservations.OopsAtIteration2(),
                _ => SeedObservations.Of(name),
            });
            Assert.That(Verdicts.Decide(glitchAndRegression), Is.EqualTo(Verdict.PatchDoesNotFix), "a lab glitch never hides a real regression");
            Assert.That(Verdicts.Decide(Judged(SeedExcept("unpatched-pse-off", Obs(Outcome.InfraError)))), Is.EqualTo(Verdict.InfraError),
                "an unjudged reproducing cell is not a bug not reproduced");
        });
    }

    [Test]
    public void A_shard_says_partial_never_patch_fixes_but_reports_what_its_cells_prove()
    {
        // Shard 1/2 of the default matrix: the stock cell and two clean cells, no reproducing cell.
        var firstHalf = new[] { "stock-qemu-unpatched-pse-off", "unpatched-pse-on", "patched-pse-on" };
        var shard = Judged(SeedObservations.Of).Where(c => firstHalf.Contains(c.Name)).ToList();
        Assert.That(Verdicts.DecideShard(shard), Is.EqualTo(Verdict.Partial));
        Assert.That(Verdicts.Decide(shard), Is.EqualTo(Verdict.PatchFixes), "the unsharded rule alone would claim what the shard cannot know");
        var patchedOops = Judged(SeedExcept("patched-pse-on", SeedObservations.OopsAtIteration2())).Where(c => firstHalf.Contains(c.Name)).ToList();
        Assert.That(Verdicts.DecideShard(patchedOops), Is.EqualTo(Verdict.PatchDoesNotFix));
        Assert.That(Verdicts.DecideShard(Judged(SeedObservations.Of)), Is.EqualTo(Verdict.Partial), "a shard holding every cell is still a shard");
    }

    [Test]
    public void Shards_partition_the_matrix()
    {
        var cells = SeedMatrix.Cells(Scenario.Seed);
        var all = Matrix.Shard(cells, 2, null);
        var parts = Enumerable.Range(1, 3).SelectMany(k => Matrix.Shard(cells, 2, $"{k}/3")).ToList();
        Assert.That(parts, Is.EquivalentTo(all));
        Assert.Throws<BadInputException>(() => Matrix.Shard(cells, 1, "4/3"));
    }
}
