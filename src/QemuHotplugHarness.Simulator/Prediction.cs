using System.Text.Json.Serialization;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Simulator;

/// <summary>How much a prediction says: everything (the section picture per iteration), or its outcome for a sweep or a draw.</summary>
public enum PredictionDetail { Full, Outcome }

/// <summary>Who owns a 2 MiB sub-section of the shared section.</summary>
public enum SubsectionOwner { BootRam, Device, NvdimmIdle, Absent }

public sealed record PredictedLayout
{
    /// <summary>The top-level System RAM range above 4 GiB; null when all RAM is below 4 GiB ("none" in JSON).</summary>
    [JsonConverter(typeof(AddressRangeJsonConverter))]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public required AddressRange? SystemRamAbove4G { get; init; }

    [JsonConverter(typeof(AddressRangeJsonConverter))]
    public AddressRange? PersistentMemory { get; init; }

    [JsonConverter(typeof(HexJsonConverter))]
    public required ulong DeviceMemoryBase { get; init; }

    [JsonConverter(typeof(HexJsonConverter))]
    public ulong? DeviceMemorySize { get; init; }

    /// <summary>The /proc/iomem lines the guest shows after boot (top-level System RAM above 4G and Persistent Memory).</summary>
    public IReadOnlyList<string> Iomem { get; init; } = [];

    /// <summary>The 128 MiB section shared by boot RAM and the NVDIMM, if any.</summary>
    public string? SharedSection { get; init; }
}

/// <summary>The state of one 2 MiB sub-section of the shared section after an iteration, for the report's picture.</summary>
public sealed record SubsectionSnapshot(
    int Index,
    [property: JsonConverter(typeof(IomemRangeJsonConverter))] AddressRange Range,
    SubsectionOwner Owner,
    VmemmapPageState Vmemmap)
{
    /// <summary>A case's workload: what a reader meets in the sub-section's struct pages (poisoned wins over uninitialised over initialised); null for the seed's loop.</summary>
    public StructPageState? StructPages { get; init; }

    /// <summary>The zone of the sub-section's struct pages when all are initialised.</summary>
    public PageZone? Zone { get; init; }
}

/// <summary>A memory block after an iteration (a case with memory devices): its range, online state and the struct pages a reader meets.</summary>
public sealed record MemoryBlockSnapshot(
    ulong Number,
    string Device,
    [property: JsonConverter(typeof(IomemRangeJsonConverter))] AddressRange Range,
    bool Online,
    StructPageState StructPages,
    PageZone? Zone);

public sealed record IterationPrediction
{
    public required int Index { get; init; }

    [JsonConverter(typeof(IomemRangeJsonConverter))]
    public AddressRange? Namespace { get; init; }

    [JsonConverter(typeof(IomemRangeJsonConverter))]
    public AddressRange? Dax { get; init; }

    public IReadOnlyList<string> Events { get; init; } = [];
    public required Outcome Outcome { get; init; }
    public IReadOnlyList<SubsectionSnapshot> SharedSection { get; init; } = [];

    /// <summary>The memory blocks of the scenario's memory devices (pc-dimms, virtio-mem) after the iteration.</summary>
    public IReadOnlyList<MemoryBlockSnapshot> MemoryBlocks { get; init; } = [];
}

public sealed record Prediction
{
    public required Outcome Outcome { get; init; }
    public string? Rejection { get; init; }
    public string? WorkloadError { get; init; }
    public required PredictedLayout Layout { get; init; }
    public IReadOnlyList<IterationPrediction> Iterations { get; init; } = [];
    public int? OopsIteration { get; init; }

    [JsonConverter(typeof(HexJsonConverter))]
    public ulong? FirstFaultPfn { get; init; }

    [JsonConverter(typeof(AddressRangeJsonConverter))]
    public AddressRange? FaultAddressRange { get; init; }

    [JsonConverter(typeof(HexJsonConverter))]
    public ulong? FirstFaultAddress { get; init; }

    /// <summary>The title the scanner gives the predicted oops (a case's reader on a kernel line); null for the seed's loop.</summary>
    public string? OopsTitle { get; init; }

    /// <summary>The function the predicted oops names (RIP), where the model knows it.</summary>
    public string? OopsFunction { get; init; }

    /// <summary>The pfn whose struct page the failing reader read (not a fault address: the kernel may print it only in a register).</summary>
    [JsonConverter(typeof(HexJsonConverter))]
    public ulong? OopsPfn { get; init; }

    /// <summary>The workload command during which the oops comes.</summary>
    public string? OopsStep { get; init; }

    public required int StructPageSize { get; init; }

    [JsonConverter(typeof(HexJsonConverter))]
    public required ulong VmemmapBase { get; init; }

    public required ByteSize VmemmapPageSize { get; init; }

    /// <summary>memory_block_size_bytes() the model takes (a case's workload; x86's rule for the boot memory's end).</summary>
    [JsonConverter(typeof(HexJsonConverter))]
    public ulong? MemoryBlockSize { get; init; }
    public IReadOnlyList<string> Explanation { get; init; } = [];
}
