using QemuHotplugHarness.Cli;
using QemuHotplugHarness.Cli.Commands;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Scenarios;

public class ScenarioTests
{
    [TestCase("16M", 16UL << 20)]
    [TestCase("4160M", 4160UL << 20)]
    [TestCase("8G", 8UL << 30)]
    [TestCase("128K", 128UL << 10)]
    [TestCase("128k", 128UL << 10)]
    [TestCase("0x144000000", 0x144000000UL)]
    [TestCase("4096", 4096UL)]
    [TestCase("16MiB", 16UL << 20)]
    public void Sizes_parse(string text, ulong bytes) =>
        Assert.That(ByteSize.Parse(text, InputKind.Ram).Bytes, Is.EqualTo(bytes));

    [TestCase(16UL << 20, "16M")]
    [TestCase(4160UL << 20, "4160M")]
    [TestCase(8UL << 30, "8G")]
    [TestCase(4097UL, "4097")]
    public void Sizes_format(ulong bytes, string text) => Assert.That(new ByteSize(bytes).ToString(), Is.EqualTo(text));

    [Test]
    public void Seed_defaults_are_the_thread_recipe()
    {
        var s = Scenario.Seed;
        Assert.Multiple(() =>
        {
            Assert.That(s.Machine.Type, Is.EqualTo(MachineType.Pc));
            Assert.That(s.Machine.Ram.ToString(), Is.EqualTo("4160M"));
            Assert.That(s.Machine.MaxMem.ToString(), Is.EqualTo("20G"));
            Assert.That(s.Machine.Slots, Is.EqualTo(1));
            Assert.That(s.Qemu, Is.EqualTo(QemuFlavour.Patched));
            Assert.That(s.Nvdimm.Address, Is.EqualTo(0x144000000UL));
            Assert.That(s.Nvdimm.LabelSize.ToString(), Is.EqualTo("128K"));
            Assert.That(s.Cpu.Pse, Is.False);
            Assert.That(s.Kernel.Variant, Is.EqualTo(KernelVariant.Unpatched));
            Assert.That(string.Join(' ', s.Workload.ReconfigureArguments()),
                Is.EqualTo("ndctl create-namespace --force --reconfig=namespace0.0 --mode=devdax --size=16M"));
            Assert.That(s.Workload.Steps(), Has.Count.EqualTo(6));
            Assert.That(ScenarioValidator.Validate(s), Is.Empty);
        });
    }

    [Test]
    public void Json_round_trips()
    {
        // Every field away from its seed default, so a field the serializer drops cannot come back as the default unnoticed.
        var s = new Scenario
        {
            Name = "round-trip",
            Machine = new MachineSpec { Type = MachineType.Q35, Ram = ByteSize.FromGiB(4), MaxMem = ByteSize.FromGiB(16), Slots = 2, Smp = 4 },
            Qemu = QemuFlavour.Stock,
            Nvdimm = new NvdimmSpec { Size = ByteSize.FromGiB(4), LabelSize = new ByteSize(256 * ByteSize.KiB), Address = null },
            Cpu = new CpuSpec { Pse = true },
            Kernel = new KernelSpec { Variant = KernelVariant.Patched, Image = "nightly", StructPageSize = 56, VmemmapBase = 0xffd4_0000_0000_0000UL },
            Workload = new WorkloadSpec { Mode = NamespaceMode.Fsdax, NamespaceSize = ByteSize.FromMiB(32), Iterations = 7, InitLabels = false },
        };
        var json = ScenarioJson.Serialize(s);
        Assert.Multiple(() =>
        {
            Assert.That(json, Does.Contain("""
                  "machine": {
                    "type": "q35",
                    "ram": "4G",
                    "maxMem": "16G",
                    "slots": 2,
                    "smp": 4
                  },
                  "qemu": "stock",
                  "nvdimm": {
                    "size": "4G",
                    "labelSize": "256K",
                    "address": "auto"
                  },
                  "cpu": {
                    "pse": true
                  },
                  "kernel": {
                    "variant": "patched",
                    "image": "nightly",
                    "structPageSize": 56,
                    "vmemmapBase": "0xffd4000000000000"
                  },
                  "workload": {
                    "mode": "fsdax",
                    "namespaceSize": "32M",
                    "iterations": 7,
                    "initLabels": false
                  }
                """));
            Assert.That(json, Does.StartWith("{\n  \"name\": \"round-trip\",\n"));
        });
        var back = ScenarioJson.Parse(json, "test");
        Assert.Multiple(() =>
        {
            Assert.That(back.Name, Is.EqualTo("round-trip"));
            Assert.That(back.Machine, Is.EqualTo(new MachineSpec { Type = MachineType.Q35, Ram = ByteSize.FromGiB(4), MaxMem = ByteSize.FromGiB(16), Slots = 2, Smp = 4 }));
            Assert.That(back.Qemu, Is.EqualTo(QemuFlavour.Stock));
            Assert.That(back.Nvdimm, Is.EqualTo(new NvdimmSpec { Size = ByteSize.FromGiB(4), LabelSize = new ByteSize(256 * 1024), Address = null }));
            Assert.That(back.Cpu.Pse, Is.True);
            Assert.That(back.Kernel, Is.EqualTo(new KernelSpec { Variant = KernelVariant.Patched, Image = "nightly", StructPageSize = 56, VmemmapBase = 0xffd4_0000_0000_0000UL }));
            Assert.That(back.Workload, Is.EqualTo(new WorkloadSpec { Mode = NamespaceMode.Fsdax, NamespaceSize = ByteSize.FromMiB(32), Iterations = 7, InitLabels = false }));
            Assert.That(back, Is.EqualTo(s), "record equality: nothing else differs");
        });
    }

    [Test]
    public void Json_missing_fields_take_seed_defaults()
    {
        var s = ScenarioJson.Parse("""{ "cpu": { "pse": true }, "nvdimm": { "address": "0x148000000" } }""", "f.json");
        Assert.Multiple(() =>
        {
            Assert.That(s.Cpu.Pse, Is.True);
            Assert.That(s.Nvdimm.Address, Is.EqualTo(0x148000000UL));
            Assert.That(s.Nvdimm.Size.ToString(), Is.EqualTo("8G"));
            Assert.That(s.Machine.Ram.ToString(), Is.EqualTo("4160M"));
        });
    }

    [TestCase("""{ "cpu": { "pes": true } }""", "f.json: not a valid scenario")]
    [TestCase("""{ "machine": { "ram": "lots" } }""", "'lots' is not a size")]
    [TestCase("""{ "machine": { "type": "virt" } }""", "f.json: not a valid scenario at $.machine.type")]
    [TestCase("""[1,2]""", "f.json: not a valid scenario")]
    public void Bad_json_names_the_file_and_field(string json, string expected)
    {
        var e = Assert.Throws<BadInputException>(() => ScenarioJson.Parse(json, "f.json"))!;
        Assert.That(e.Message, Does.Contain(expected));
    }

    [Test]
    public void Missing_scenario_file_is_bad_input()
    {
        var e = Assert.Throws<BadInputException>(() => ScenarioJson.Load("/nonexistent/x.json"))!;
        Assert.That((e.Input, e.Value, e.Reason), Is.EqualTo((InputKind.Scenario, "/nonexistent/x.json", "no such file")));
        Assert.That(HarnessApp.Failure(e).Lines, Is.EqualTo(new[] { "--scenario /nonexistent/x.json: no such file" }));
    }

    private const string NotASize = "not a size or address (use e.g. 16M, 4160M, 8G, 128K or 0x144000000)";

    private static readonly object[] BadOptions =
    [
        new object[] { new ScenarioOptions { NvdimmAddr = "0x144100000" }, "--nvdimm-addr 0x144100000: not 2 MiB aligned" },
        new object[] { new ScenarioOptions { NvdimmAddr = "0x1000000" }, "--nvdimm-addr 0x1000000: below 4 GiB, where QEMU has no device memory" },
        new object[] { new ScenarioOptions { NvdimmAddr = "zero" }, "--nvdimm-addr zero: " + NotASize },
        new object[] { new ScenarioOptions { NvdimmSize = "24G" }, "--nvdimm-size 24G: larger than maxmem minus RAM (16320M)" },
        new object[] { new ScenarioOptions { NvdimmSize = "8193M" }, "--nvdimm-size 8193M: must be a multiple of 2M" },
        new object[] { new ScenarioOptions { NvdimmSize = "0" }, "--nvdimm-size 0: the NVDIMM needs a backend" },
        new object[] { new ScenarioOptions { NamespaceSize = "16G" }, "--namespace-size 16G: larger than the NVDIMM (8G less 128K of labels)" },
        new object[] { new ScenarioOptions { NamespaceSize = "3M" }, "--namespace-size 3M: must be a multiple of 2M" },
        new object[] { new ScenarioOptions { NamespaceSize = "0" }, "--namespace-size 0: a namespace needs a size" },
        new object[] { new ScenarioOptions { LabelSize = "64K" }, "--label-size 64K: too small: QEMU needs at least 128K" },
        new object[] { new ScenarioOptions { Ram = "24G" }, "--ram 24G: above maxmem (20G)" },
        new object[] { new ScenarioOptions { Ram = "4160.5M" }, "--ram 4160.5M: " + NotASize },
        new object[] { new ScenarioOptions { Ram = "0" }, "--ram 0: the guest needs RAM" },
        new object[] { new ScenarioOptions { MaxMem = "-1G" }, "--maxmem -1G: " + NotASize },
        new object[] { new ScenarioOptions { Mode = "sector" }, "--mode sector: unknown value (use devdax or fsdax)" },
        new object[] { new ScenarioOptions { Machine = "virt" }, "--machine virt: unknown value (use pc or q35)" },
        new object[] { new ScenarioOptions { Qemu = "upstream" }, "--qemu upstream: unknown value (use patched or stock)" },
        new object[] { new ScenarioOptions { Pse = "maybe" }, "--pse maybe: use on or off" },
        new object[] { new ScenarioOptions { Iterations = 0 }, "--iterations 0: at least one reconfiguration is needed" },
        new object[] { new ScenarioOptions { Iterations = 100_000 }, "--iterations 100000: at most 10000" },
        new object[] { new ScenarioOptions { Slots = 0 }, "--slots 0: an NVDIMM needs at least one memory slot" },
        new object[] { new ScenarioOptions { Slots = 300 }, "--slots 300: QEMU allows at most 256 memory slots" },
        new object[] { new ScenarioOptions { Smp = 0 }, "--smp 0: must be between 1 and 255" },
        new object[] { new ScenarioOptions { Mode = "1" }, "--mode 1: unknown value (use devdax or fsdax)" },
        new object[] { new ScenarioOptions { Kernel = " " }, "--kernel ' ': an empty kernel image name" },
    ];

    /// <summary>The error names the input neutrally (no flag text below the CLI); the CLI renders it as the flag.</summary>
    [TestCaseSource(nameof(BadOptions))]
    public void Bad_input_is_rendered_as_the_flag_the_user_typed(ScenarioOptions options, string expected)
    {
        var e = Assert.Throws<BadInputException>(() => ScenarioValidator.EnsureValid(options.Apply(Scenario.Seed)))!;
        Assert.That(e.Problems.Select(p => p.Input), Has.All.Not.Null);
        Assert.That(e.Message, Does.Not.Contain("--"), "lower layers do not name CLI flags");
        var (code, lines) = HarnessApp.Failure(e);
        Assert.That(code, Is.EqualTo(ExitCode.BadInput));
        Assert.That(lines, Is.EqualTo(new[] { expected }));
    }

    [Test]
    public void Every_problem_is_reported_once_in_one_exception()
    {
        var s = new ScenarioOptions { NvdimmAddr = "0x144100000", Iterations = 0, LabelSize = "4K" }.Apply(Scenario.Seed);
        Assert.That(ScenarioValidator.Validate(s), Has.Count.EqualTo(3));
        var e = Assert.Throws<BadInputException>(() => ScenarioValidator.EnsureValid(s))!;
        Assert.That(HarnessApp.Failure(e).Lines, Is.EqualTo(new[]
        {
            "--label-size 4K: too small: QEMU needs at least 128K",
            "--nvdimm-addr 0x144100000: not 2 MiB aligned",
            "--iterations 0: at least one reconfiguration is needed",
        }));
    }

    [Test]
    public void Kernel_flag_takes_a_variant_or_an_image_name()
    {
        Assert.That(new ScenarioOptions { Kernel = "patched" }.Apply(Scenario.Seed).Kernel.Variant, Is.EqualTo(KernelVariant.Patched));
        var img = new ScenarioOptions { Kernel = "nightly" }.Apply(Scenario.Seed).Kernel;
        Assert.That(img.Image, Is.EqualTo("nightly"));
    }

    [Test]
    public void A_scenario_file_that_says_nothing_of_kernel_arguments_keeps_the_seed_s_and_a_case_without_them_has_none()
    {
        var file = ScenarioJson.Parse("""{ "kernel": { "variant": "unpatched" }, "workload": { "iterations": 2 } }""", "m.json");
        Assert.That(file.KernelArgs, Is.EqualTo("vm_debug=-"), "struct page poisoning off: the seed's modelled oops on the DEBUG_VM build");
        var debugVmCase = QemuHotplugHarness.Orchestration.SuiteCases.Library(QemuHotplugHarness.Build.RepoLayout.Discover()).Load("memunmap-altmap-reserve");
        Assert.That(debugVmCase.Scenario.KernelArgs, Is.Null, "a DEBUG_VM case needs the poisoning its bug reads");
    }
}
