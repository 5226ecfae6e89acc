using System.Text.Json.Serialization;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Simulator;

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
    VmemmapPageState Vmemmap);

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

    public required int StructPageSize { get; init; }

    [JsonConverter(typeof(HexJsonConverter))]
    public required ulong VmemmapBase { get; init; }

    public required ByteSize VmemmapPageSize { get; init; }
    public IReadOnlyList<string> Explanation { get; init; } = [];
}
