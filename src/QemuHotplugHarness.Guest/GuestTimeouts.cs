namespace QemuHotplugHarness.Guest;

/// <summary>Every bound a guest run waits under, in one place (no literals at call sites).</summary>
public sealed record GuestTimeouts
{
    /// <summary>QEMU start to the init's ready marker on the console.</summary>
    public TimeSpan Boot { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>QMP socket connect and greeting.</summary>
    public TimeSpan Qmp { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>Marker to an SSH session (connect retries included).</summary>
    public TimeSpan Ssh { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Delivering the run's key on the key port until the guest answers.</summary>
    public TimeSpan Key { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Saving a guest's state to a snapshot, or loading it into a new QEMU.</summary>
    public TimeSpan Snapshot { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>One workload command (ndctl); past it the command counts as hung.</summary>
    public TimeSpan Command { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>A short read in the guest (cat /proc/iomem, dmesg, the head of /proc/kcore).</summary>
    public TimeSpan Probe { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>ssh-keygen on the host.</summary>
    public TimeSpan Keygen { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Each teardown step: SIGINT, then SIGKILL.</summary>
    public TimeSpan Teardown { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>The KVM probe: a guest kernel that does not start under KVM within this means KVM is not usable.</summary>
    public TimeSpan KvmProbe { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>
    /// A step that did not exit 0 (killed by a signal, connection lost, timed out) waits this long for the console to
    /// show an oops before it is judged: the kernel may kill the command (and end the SSH channel) before its report
    /// reaches the serial console, most of all where printk hands the console to a thread (6.12, 7.x) under TCG.
    /// </summary>
    public TimeSpan OopsWitness { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>An oops still being printed gets this long to finish before it is cut.</summary>
    public TimeSpan OopsSettle { get; init; } = TimeSpan.FromSeconds(5);
}
