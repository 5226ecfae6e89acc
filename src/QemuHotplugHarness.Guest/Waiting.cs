using System.Diagnostics;

namespace QemuHotplugHarness.Guest;

/// <summary>A point on the monotonic clock (never the wall clock, which can jump).</summary>
public readonly record struct Deadline(long Timestamp)
{
    public static Deadline In(TimeSpan span) => new(Stopwatch.GetTimestamp() + (long)(span.TotalSeconds * Stopwatch.Frequency));
    public TimeSpan Remaining => TimeSpan.FromSeconds(Math.Max(0, Timestamp - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);
    public bool Expired => Stopwatch.GetTimestamp() >= Timestamp;
}

/// <summary>The one wait primitive: poll a condition until it holds or the deadline passes.</summary>
public static class Poll
{
    /// <summary>True when <paramref name="condition"/> held before <paramref name="deadline"/>.</summary>
    public static async Task<bool> UntilAsync(Func<bool> condition, Deadline deadline, TimeSpan interval, CancellationToken ct)
    {
        while (!condition())
        {
            if (deadline.Expired) return false;
            await Task.Delay(interval < deadline.Remaining ? interval : deadline.Remaining, ct);
        }
        return true;
    }
}

/// <summary>Why a guest did not become ready.</summary>
public enum NotReadyReason
{
    /// <summary>QEMU exited before the guest was ready: it refused the machine (its message says why).</summary>
    QemuExited,
    /// <summary>QEMU could not forward the SSH port (taken between the probe and the bind).</summary>
    HostForwardFailed,
    /// <summary>The kernel crashed before the guest was ready.</summary>
    CrashedWhileBooting,
    /// <summary>The ready marker did not appear in time.</summary>
    BootTimeout,
    /// <summary>The guest's init said it cannot go on (QHH-FAILED: a module that did not load, no network device).</summary>
    GuestInitFailed,
    QmpUnavailable,
    SshUnavailable,
    /// <summary>The guest did not take the run's key on its key port.</summary>
    KeyNotDelivered,
    /// <summary>A saved state could not be loaded into the new QEMU.</summary>
    RestoreFailed,
    HostKeyMismatch,
}

/// <summary>The guest did not become ready; <see cref="Reason"/> says how, <see cref="Exception.Message"/> says what.</summary>
public sealed class GuestNotReadyException(NotReadyReason reason, string message) : Exception(message)
{
    public NotReadyReason Reason { get; } = reason;
}

/// <summary>One readiness condition of a guest (Testcontainers-style): each is a small class.</summary>
public interface IWaitStrategy
{
    Task UntilReadyAsync(QemuGuest guest, CancellationToken ct);
}

/// <summary>
/// Ready when the console prints the marker (the guest's /init prints it once sshd runs); a QHH-FAILED line from
/// init ends the wait at once with init's reason.
/// </summary>
public sealed record ConsoleMarkerWait(string Marker, TimeSpan Timeout) : IWaitStrategy
{
    public const string FailureMarker = "QHH-FAILED:";

    public async Task UntilReadyAsync(QemuGuest guest, CancellationToken ct)
    {
        var qemu = guest.Qemu;
        var seen = await Poll.UntilAsync(() => qemu.MarkerTime(Marker) is not null || qemu.MarkerLine(FailureMarker) is not null || qemu.HasExited || qemu.Oopses.Count > 0,
            Deadline.In(Timeout), TimeSpan.FromMilliseconds(50), ct);
        if (qemu.MarkerLine(FailureMarker) is { } failed)
            throw new GuestNotReadyException(NotReadyReason.GuestInitFailed, "guest init: " + failed[(failed.IndexOf(FailureMarker, StringComparison.Ordinal) + FailureMarker.Length)..].Trim());
        if (qemu.MarkerTime(Marker) is not null) return;
        // A panic ends the console and QEMU with it (-no-reboot): the report still being read is the reason, not "exited".
        if (qemu.HasExited) qemu.FlushDetector();
        if (qemu.Oopses.Count > 0) throw new GuestNotReadyException(NotReadyReason.CrashedWhileBooting, $"the kernel crashed while booting: {qemu.Oopses[0].Title}");
        if (qemu.HasExited) throw await guest.ExitedAsync();
        if (!seen) throw new GuestNotReadyException(NotReadyReason.BootTimeout, $"the guest did not print '{Marker}' within {Timeout.TotalSeconds:F0} s (see console.log)");
    }
}

/// <summary>Ready when QMP answers its greeting on the guest's private socket.</summary>
public sealed record QmpWait(TimeSpan Timeout) : IWaitStrategy
{
    public Task UntilReadyAsync(QemuGuest guest, CancellationToken ct) => guest.ConnectQmpAsync(Timeout, ct);
}

/// <summary>Ready when the guest has taken the run's key on its key port (the only way a key gets in).</summary>
public sealed record KeyDeliveryWait(TimeSpan Timeout) : IWaitStrategy
{
    public Task UntilReadyAsync(QemuGuest guest, CancellationToken ct) => guest.DeliverKeyAsync(Timeout, ct);
}

/// <summary>Ready when an SSH session with the run's key and the pinned host key is open.</summary>
public sealed record SshWait(TimeSpan Timeout) : IWaitStrategy
{
    public Task UntilReadyAsync(QemuGuest guest, CancellationToken ct) => guest.ConnectSshAsync(Timeout, ct);
}
