using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;

namespace QemuHotplugHarness.Orchestration;

/// <summary>What a cell boots: the QEMU, the kernel, the image (from the builders or the user).</summary>
public sealed record GuestInputs(QemuBuild Qemu, KernelBuild Kernel, GuestImage Image);

/// <summary>How guests are run: accelerator choice, every timeout, the SSH port, progress for live views.</summary>
public sealed record RunOptions
{
    public AccelChoice Accel { get; init; } = AccelChoice.Auto;
    public GuestTimeouts Timeouts { get; init; } = new();
    /// <summary>A fixed host port for the guest's sshd; null = a free one per guest.</summary>
    public int? SshPort { get; init; }
    /// <summary>Start guests from snapshots (made by one cold boot per distinct guest); false = every guest boots cold (--no-snapshot).</summary>
    public bool Snapshots { get; init; } = true;
    /// <summary>Called with progress words ("booting", "iteration 2") for live views.</summary>
    public Action<string>? Progress { get; init; }
}
