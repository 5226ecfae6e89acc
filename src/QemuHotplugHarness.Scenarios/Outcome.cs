namespace QemuHotplugHarness.Scenarios;

/// <summary>What a run ends in; the same words for predictions and observations (kebab case in JSON).</summary>
public enum Outcome
{
    Clean,
    Oops,
    /// <summary>QEMU refused the machine.</summary>
    Rejected,
    /// <summary>An ndctl step failed without a crash.</summary>
    WorkloadFailed,
    /// <summary>A command did not return within its timeout and no oops explains it.</summary>
    Hung,
    /// <summary>The guest booted, but not as the scenario asked (layout, CPU flags): nothing was run.</summary>
    PreconditionFailed,
    /// <summary>The harness could not tell (build, QEMU, SSH, disk).</summary>
    InfraError,
}
