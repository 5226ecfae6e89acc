using System.Text.Json.Serialization;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Guest;

/// <summary>How the guest's CPU is emulated.</summary>
public enum Accel { Tcg, Kvm }

/// <summary>What the user asked for: probe KVM and fall back to TCG, or one of them.</summary>
public enum AccelChoice { Auto, Kvm, Tcg }

/// <summary>/proc/iomem's top-level ranges above 4 GiB after boot, and where QMP says the NVDIMM is.</summary>
public sealed record ObservedLayout(
    [property: JsonConverter(typeof(AddressRangeJsonConverter))] AddressRange? SystemRamAbove4G,
    [property: JsonConverter(typeof(AddressRangeJsonConverter))] AddressRange? PersistentMemory,
    [property: JsonConverter(typeof(HexJsonConverter))] ulong? NvdimmAddressQmp);

/// <summary>One reconfiguration as the guest ran it.</summary>
/// <remarks>Positional with more than six fields: one parameter per JSON field.</remarks>
public sealed record ObservedIteration(
    int Index, string Command, int? ExitCode, double Seconds, bool TimedOut,
    [property: JsonConverter(typeof(IomemRangeJsonConverter))] AddressRange? Namespace,
    [property: JsonConverter(typeof(IomemRangeJsonConverter))] AddressRange? Dax,
    string Stderr);

/// <remarks>Positional with seven fields: one parameter per JSON field.</remarks>
public sealed record ObservedOops(
    string Title, string? Function,
    [property: JsonConverter(typeof(HexJsonConverter))] ulong? FaultAddress,
    [property: JsonConverter(typeof(HexJsonConverter))] ulong? FaultPfn,
    int StartLine, bool Corrupted, int Count);

/// <summary>What one real guest did; the same names as predict --json where they mean the same.</summary>
public sealed record Observation
{
    public required Outcome Outcome { get; init; }
    /// <summary>Null when the run failed before an accelerator was chosen.</summary>
    public Accel? Accel { get; init; }
    public string? AccelReason { get; init; }
    /// <summary>QEMU start to SSH-ready, seconds.</summary>
    public double? BootSeconds { get; init; }
    /// <summary>QEMU start to the init's ready marker on the console, seconds (a cold boot only).</summary>
    public double? MarkerSeconds { get; init; }
    /// <summary>The snapshot the guest was restored from (its cache key); null for a cold boot.</summary>
    public string? Snapshot { get; init; }
    public string? Rejection { get; init; }
    public string? Error { get; init; }
    /// <summary>What a step's own result said ("infra-error: iteration 1: ...") before an oops on the console overruled it.</summary>
    public string? Superseded { get; init; }
    public ObservedLayout? Layout { get; init; }
    public IReadOnlyList<ObservedIteration> Iterations { get; init; } = [];
    public IReadOnlyList<ObservedOops> Oopses { get; init; } = [];
    public int? OopsIteration { get; init; }

    [JsonConverter(typeof(HexJsonConverter))]
    public ulong? FaultPfn { get; init; }

    public int? StructPageSize { get; init; }

    [JsonConverter(typeof(HexJsonConverter))]
    public ulong? VmemmapBase { get; init; }

    public string? KernelFactsSource { get; init; }

    /// <summary>The kernel's section size (NUMBER(SECTION_SIZE_BITS) of VMCOREINFO), checked against the model's before the workload.</summary>
    public int? SectionSizeBits { get; init; }

    /// <summary>memory_block_size_bytes() (/sys/devices/system/memory/block_size_bytes), checked against the model's when it predicts memory blocks.</summary>
    [JsonConverter(typeof(HexJsonConverter))]
    public ulong? MemoryBlockSize { get; init; }

    /// <summary>Where <see cref="MemoryBlockSize"/> was read (the guest's sysfs file); null when the guest gave none.</summary>
    public string? MemoryBlockSizeSource { get; init; }
    public IReadOnlyList<string> PreconditionFailures { get; init; } = [];
    public string? KernelRelease { get; init; }

    /// <summary>The kernel line the kernel was built from (kernel-lines/NAME.json); null for a prebuilt kernel.</summary>
    public string? KernelLine { get; init; }
    public double Seconds { get; init; }

    /// <summary>Earlier attempts of this cell that ended as infra-error and were retried (their files in attempt-N/).</summary>
    public IReadOnlyList<EarlierAttempt> EarlierAttempts { get; init; } = [];
}

/// <summary>An attempt of a cell that could not be observed (infra-error) and was run again: how it ended and where its files are.</summary>
public sealed record EarlierAttempt(int Attempt, Outcome Outcome, string? Error, string Folder);
