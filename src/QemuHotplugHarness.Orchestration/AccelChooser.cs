using System.Text.Json;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using Serilog;

namespace QemuHotplugHarness.Orchestration;

/// <summary>The accelerator of a run and why.</summary>
public sealed record AccelDecision(Accel Accel, string Reason);

/// <summary>
/// Turns the user's choice into an accelerator: kvm/tcg as asked; auto runs <see cref="AccelProbe"/> (KVM only
/// when a guest kernel really boots under it) and keeps its answer in the cache for a day.
/// </summary>
public sealed class AccelChooser(HarnessCache cache, ILogger log)
{
    private static readonly TimeSpan Freshness = TimeSpan.FromDays(1);

    /// <summary>The device whose presence makes auto probe KVM (a seam for tests: a stand-in that exists while KVM hangs).</summary>
    public string KvmDevice { get; init; } = AccelProbe.KvmDevice;

    /// <summary>The probe's bounds (<see cref="GuestTimeouts.KvmProbe"/>).</summary>
    public GuestTimeouts Timeouts { get; init; } = new();

    public async Task<AccelDecision> ChooseAsync(AccelChoice choice, GuestInputs inputs, CancellationToken ct)
    {
        if (choice == AccelChoice.Tcg) return new(Accel.Tcg, "asked for tcg");
        if (choice == AccelChoice.Kvm) return new(Accel.Kvm, "asked for kvm");
        if (!File.Exists(KvmDevice)) return new(Accel.Tcg, $"no {KvmDevice}"); // nothing to probe, nothing to cache
        var file = Path.Combine(cache.Root, "probes", "accel-" + HarnessCache.Key([inputs.Qemu.Key, inputs.Kernel.BzImage]) + ".json");
        if (File.Exists(file) && File.GetLastWriteTimeUtc(file) > DateTime.UtcNow - Freshness)
        {
            var cached = JsonSerializer.Deserialize<AccelDecision>(await File.ReadAllTextAsync(file, ct))!;
            return cached with { Reason = cached.Reason + " (probed " + File.GetLastWriteTimeUtc(file).ToString("u") + ")" };
        }
        var (accel, reason) = await AccelProbe.ProbeAsync(inputs.Qemu.Binary, inputs.Qemu.FirmwareDirs, inputs.Kernel.BzImage, inputs.Image.Initramfs, log, ct, Timeouts, KvmDevice);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new AccelDecision(accel, reason)), ct);
        return new(accel, reason);
    }
}
