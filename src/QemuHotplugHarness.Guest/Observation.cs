namespace QemuHotplugHarness.Guest;

public sealed record ObservedLayout(string? SystemRamAbove4G, string? PersistentMemory, string? NvdimmAddressQmp);

public sealed record ObservedIteration(int Index, string Command, int? ExitCode, double Seconds, bool TimedOut, string? Namespace, string? Dax, string Stderr);

public sealed record ObservedOops(string Title, string? Function, string? FaultAddress, string? FaultPfn, int StartLine, bool Corrupted, int Count);

/// <summary>What one real guest did; the same names as predict --json where they mean the same.</summary>
public sealed record Observation
{
    public required string Outcome { get; init; }
    public required string Accel { get; init; }
    public string? AccelReason { get; init; }
    public double? BootSeconds { get; init; }
    public string? Rejection { get; init; }
    public string? Error { get; init; }
    public ObservedLayout? Layout { get; init; }
    public IReadOnlyList<ObservedIteration> Iterations { get; init; } = [];
    public IReadOnlyList<ObservedOops> Oopses { get; init; } = [];
    public int? OopsIteration { get; init; }
    public string? FaultPfn { get; init; }
    public int? StructPageSize { get; init; }
    public string? VmemmapBase { get; init; }
    public string? KernelFactsSource { get; init; }
    public IReadOnlyList<string> PreconditionFailures { get; init; } = [];
    public string? KernelRelease { get; init; }
    public double Seconds { get; init; }
}
