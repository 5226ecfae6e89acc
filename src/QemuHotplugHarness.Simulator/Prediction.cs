namespace QemuHotplugHarness.Simulator;

/// <summary>What a run ends in; the same words for predictions and observations.</summary>
public static class Outcomes
{
    public const string Oops = "oops";
    public const string Clean = "clean";
    public const string Rejected = "rejected";
    public const string WorkloadFailed = "workload-failed";
    public const string Hung = "hung";
    public const string InfraError = "infra-error";
}

public sealed record PredictedLayout
{
    public required string SystemRamAbove4G { get; init; }
    public string? PersistentMemory { get; init; }
    public required string DeviceMemoryBase { get; init; }
    public string? DeviceMemorySize { get; init; }
    /// <summary>The /proc/iomem lines the guest shows after boot (top-level System RAM above 4G and Persistent Memory).</summary>
    public IReadOnlyList<string> Iomem { get; init; } = [];
    /// <summary>The 128 MiB section shared by boot RAM and the NVDIMM, if any.</summary>
    public string? SharedSection { get; init; }
}

/// <summary>The state of one 2 MiB sub-section of the shared section after an iteration, for the report's picture.</summary>
public sealed record SubsectionSnapshot(int Index, string Range, string Owner, string Vmemmap);

public sealed record IterationPrediction
{
    public required int Index { get; init; }
    public string? Namespace { get; init; }
    public string? Dax { get; init; }
    public IReadOnlyList<string> Events { get; init; } = [];
    public required string Outcome { get; init; }
    public IReadOnlyList<SubsectionSnapshot> SharedSection { get; init; } = [];
}

public sealed record Prediction
{
    public required string Outcome { get; init; }
    public string? Rejection { get; init; }
    public string? WorkloadError { get; init; }
    public required PredictedLayout Layout { get; init; }
    public IReadOnlyList<IterationPrediction> Iterations { get; init; } = [];
    public int? OopsIteration { get; init; }
    public string? FirstFaultPfn { get; init; }
    public string? FaultAddressRange { get; init; }
    public string? FirstFaultAddress { get; init; }
    public required string StructPageSize { get; init; }
    public required string VmemmapBase { get; init; }
    public required string VmemmapPageSize { get; init; }
    public IReadOnlyList<string> Explanation { get; init; } = [];
}
