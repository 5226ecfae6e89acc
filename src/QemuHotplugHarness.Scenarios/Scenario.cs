using System.Text.Json.Serialization;

namespace QemuHotplugHarness.Scenarios;


public enum MachineType { Pc, Q35 }


public enum QemuFlavour { Patched, Stock }


public enum KernelVariant { Unpatched, Patched }


public enum NamespaceMode { Devdax, Fsdax }

/// <summary>The QEMU machine: <c>-machine TYPE,nvdimm=on -m RAM,maxmem=MAXMEM,slots=SLOTS -smp SMP</c>.</summary>
public sealed record MachineSpec
{
    public MachineType Type { get; init; } = MachineType.Pc;
    public ByteSize Ram { get; init; } = ByteSize.FromMiB(4160);
    public ByteSize MaxMem { get; init; } = ByteSize.FromGiB(20);
    public int Slots { get; init; } = 1;
    public int Smp { get; init; } = 2;

    public MachineSpec WithRam(ByteSize ram) => this with { Ram = ram };
}

/// <summary>The NVDIMM: a RAM backend of <see cref="Size"/> with a label area, at <see cref="Address"/> (null = QEMU places it).</summary>
public sealed record NvdimmSpec
{
    public ByteSize Size { get; init; } = ByteSize.FromGiB(8);
    public ByteSize LabelSize { get; init; } = new(128 * ByteSize.KiB);

    [JsonConverter(typeof(AddressJsonConverter))]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public ulong? Address { get; init; } = 0x1_4400_0000UL;
}

/// <summary>The guest CPU. Without PSE the kernel maps vmemmap with 4 KiB pages.</summary>
public sealed record CpuSpec
{
    public bool Pse { get; init; }
}

/// <summary>The guest kernel: a variant the harness builds, or a prebuilt image registered by name.</summary>
public sealed record KernelSpec
{
    public KernelVariant Variant { get; init; } = KernelVariant.Unpatched;

    /// <summary>Name of a prebuilt kernel registered with <c>--kernel-image NAME=PATH</c>; null = build <see cref="Variant"/>.</summary>
    public string? Image { get; init; }

    /// <summary>The kernel line (kernel-lines/NAME.json) whose Debian source is built; null = the default line (6.1).</summary>
    public string? Line { get; init; }

    /// <summary>Size of struct page in the guest kernel (64 with SLUB, 56 with SLOB); learned from the build when known.</summary>
    public int StructPageSize { get; init; } = 64;

    /// <summary>Where vmemmap starts; 4-level paging without KASLR by default, 5-level is 0xffd4000000000000.</summary>
    [JsonConverter(typeof(AddressJsonConverter))]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public ulong? VmemmapBase { get; init; } = VmemmapBase4Level;

    public const ulong VmemmapBase4Level = 0xffff_ea00_0000_0000UL;
    public const ulong VmemmapBase5Level = 0xffd4_0000_0000_0000UL;
}

/// <summary>
/// One command of the workload (an argument array, run over SSH without a shell). <see cref="Iteration"/> is 0 for a
/// setup step (the label steps of the ndctl loop, a case's "setup") and k for a step of iteration k.
/// </summary>
public sealed record WorkloadStep(string Name, IReadOnlyList<string> Arguments, bool IsReconfigure)
{
    public int Iteration { get; init; }

    /// <summary>A step the harness runs itself (QMP, a wait, a memory-block or file step); null = <see cref="Arguments"/> over SSH.</summary>
    public HostStep? Host { get; init; }

    /// <summary>Runs before the first iteration (and before a snapshot is saved).</summary>
    public bool IsSetup => Iteration == 0;
}

/// <summary>What runs in the guest: label initialisation, then <see cref="Iterations"/> reconfigurations of namespace0.0.</summary>
public sealed record WorkloadSpec
{
    public NamespaceMode Mode { get; init; } = NamespaceMode.Devdax;
    public ByteSize NamespaceSize { get; init; } = ByteSize.FromMiB(16);
    public int Iterations { get; init; } = 3;
    public bool InitLabels { get; init; } = true;

    /// <summary>A case's setup commands (argument arrays), run once before the iterations; used only with <see cref="Iteration"/>.</summary>
    public IReadOnlyList<IReadOnlyList<string>>? Setup { get; init; }

    /// <summary>A case's commands of one iteration, repeated <see cref="Iterations"/> times; null = the ndctl reconfigure loop.</summary>
    public IReadOnlyList<IReadOnlyList<string>>? Iteration { get; init; }

    /// <summary>The host-side step at each position of <see cref="Setup"/> (null where the step is a guest command).</summary>
    public IReadOnlyList<HostStep?>? SetupHosts { get; init; }

    /// <summary>The host-side step at each position of <see cref="Iteration"/> (null where the step is a guest command).</summary>
    public IReadOnlyList<HostStep?>? IterationHosts { get; init; }

    /// <summary>Whether a setup step runs on the host: such a prologue changes the machine, so it is not saved in a snapshot.</summary>
    [JsonIgnore]
    public bool HasHostSetup => SetupHosts?.Any(h => h is not null) == true;

    /// <summary>Whether the steps are a case's own (setup and iteration commands) rather than the ndctl reconfigure loop.</summary>
    [JsonIgnore]
    public bool IsCustom => Iteration is not null;

    /// <summary>
    /// The argument arrays, in order: a case's setup then its iteration steps, else the ndctl loop (label steps first when
    /// <see cref="InitLabels"/>).
    /// </summary>
    public IReadOnlyList<WorkloadStep> Steps() => IsCustom ? CustomSteps() : ReconfigureSteps();

    private List<WorkloadStep> CustomSteps()
    {
        var steps = (Setup ?? []).Select((argv, j) => new WorkloadStep($"setup-{j + 1}", argv, false) { Host = At(SetupHosts, j) }).ToList();
        for (var i = 1; i <= Iterations; i++)
            steps.AddRange(Iteration!.Select((argv, j) => new WorkloadStep($"iteration-{i}-step-{j + 1}", argv, false) { Iteration = i, Host = At(IterationHosts, j) }));
        return steps;
    }

    private static HostStep? At(IReadOnlyList<HostStep?>? hosts, int j) => hosts is not null && j < hosts.Count ? hosts[j] : null;

    private List<WorkloadStep> ReconfigureSteps()
    {
        var steps = new List<WorkloadStep>();
        if (InitLabels)
        {
            steps.Add(new("disable-region", ["ndctl", "disable-region", "all"], false));
            steps.Add(new("init-labels", ["ndctl", "init-labels", "all"], false));
            steps.Add(new("enable-region", ["ndctl", "enable-region", "all"], false));
        }
        for (var i = 1; i <= Iterations; i++)
            steps.Add(new($"reconfigure-{i}", ReconfigureArguments(), true) { Iteration = i });
        return steps;
    }

    public IReadOnlyList<string> ReconfigureArguments() =>
        ["ndctl", "create-namespace", "--force", "--reconfig=namespace0.0",
         "--mode=" + Mode.ToString().ToLowerInvariant(), "--size=" + NamespaceSize];
}

/// <summary>One run: an immutable description shared by predict, run and reproduce.</summary>
public sealed record Scenario
{
    public string Name { get; init; } = "seed";
    public MachineSpec Machine { get; init; } = new();
    public QemuFlavour Qemu { get; init; } = QemuFlavour.Patched;
    public NvdimmSpec Nvdimm { get; init; } = new();
    public CpuSpec Cpu { get; init; } = new();
    public KernelSpec Kernel { get; init; } = new();
    public WorkloadSpec Workload { get; init; } = new();

    /// <summary>Memory devices beside the NVDIMM (pc-dimms, virtio-mem and their backends), on the command line from boot.</summary>
    public MemoryDeviceSet Devices { get; init; } = MemoryDeviceSet.None;

    /// <summary>
    /// Kernel command-line arguments the scenario adds (memhp_default_state=offline, …); null = none. The scenario
    /// format's default is the seed's (<see cref="SeedKernelArgs"/>), so a --scenario or --matrix file that says
    /// nothing keeps the seed's modelled oops; a case's scenario takes its case.json "kernelArgs" (none when absent).
    /// </summary>
    public string? KernelArgs { get; init; } = SeedKernelArgs;

    /// <summary>
    /// The seed case of the mailing-list thread (patched QEMU, unpatched kernel, PSE off, 3 iterations). Its kernel
    /// turns struct page poisoning off (vm_debug=-): the suite's one configuration has DEBUG_VM, which would memset the
    /// memmap of a re-added range before initialising it and move the seed's oops from __init_single_page at the first
    /// initialised pfn to page_init_poison at the range's first pfn; the seed's mechanism, as production kernels run it,
    /// is without poisoning (a kernel without DEBUG_VM ignores the argument).
    /// </summary>
    public static Scenario Seed { get; } = new();

    /// <summary>The seed's kernel arguments (cases/early-section-memmap/case.json says the same).</summary>
    public const string SeedKernelArgs = "vm_debug=-";

    public Scenario WithName(string name) => this with { Name = name };
    public Scenario WithQemu(QemuFlavour qemu) => this with { Qemu = qemu };
    public Scenario WithKernel(KernelVariant variant) => this with { Kernel = Kernel with { Variant = variant } };
    public Scenario WithPse(bool pse) => this with { Cpu = Cpu with { Pse = pse } };
    public Scenario WithIterations(int iterations) => this with { Workload = Workload with { Iterations = iterations } };
    public Scenario WithNvdimmAddress(ulong? address) => this with { Nvdimm = Nvdimm with { Address = address } };
    public Scenario WithRam(ByteSize ram) => this with { Machine = Machine with { Ram = ram } };
    public Scenario WithNamespaceSize(ByteSize size) => this with { Workload = Workload with { NamespaceSize = size } };

    /// <summary>A short label: "patched-qemu/unpatched/pse-off".</summary>
    public string Describe() =>
        $"{Qemu.ToString().ToLowerInvariant()}-qemu/{Kernel.Image ?? Kernel.Variant.ToString().ToLowerInvariant()}/pse-{(Cpu.Pse ? "on" : "off")}";
}
