namespace QemuHotplugHarness.Guest;

/// <summary>The NIC the guest's sshd is reached through (QEMU user networking behind it either way).</summary>
public enum GuestNic
{
    E1000,
    VirtioNet,
}
