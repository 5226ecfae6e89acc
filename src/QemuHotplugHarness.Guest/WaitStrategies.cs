using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Guest;

/// <summary>One readiness condition of a guest (Testcontainers-style): each is a small class.</summary>
public interface IWaitStrategy
{
    string Name { get; }
    Task UntilReadyAsync(QemuProcess qemu, TimeSpan timeout, CancellationToken ct);
}

/// <summary>Ready when the console prints a marker (the guest's /init prints QHH-READY).</summary>
public sealed record ConsoleMarkerWait(string Marker) : IWaitStrategy
{
    public string Name => $"console marker '{Marker}'";

    public async Task UntilReadyAsync(QemuProcess qemu, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!qemu.ConsoleContains(Marker))
        {
            if (qemu.HasExited) throw new GuestFailedException("qemu exited before the guest was ready", qemu.Stderr);
            if (qemu.Oopses.Count > 0) throw new GuestFailedException($"the guest crashed while booting: {qemu.Oopses[0].Title}", "");
            if (DateTime.UtcNow > deadline) throw new InfrastructureException($"the guest did not print '{Marker}' within {timeout.TotalSeconds:F0} s (see console.log)");
            await Task.Delay(50, ct);
        }
    }
}

/// <summary>QEMU failed or refused to start; <see cref="Stderr"/> holds what it said.</summary>
public sealed class GuestFailedException(string message, string stderr) : Exception(message)
{
    public string Stderr { get; } = stderr;
}
