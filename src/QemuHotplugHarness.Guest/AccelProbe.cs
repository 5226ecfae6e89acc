using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Guest;

/// <summary>
/// Whether KVM really works: /dev/kvm may open while nested guests hang, so the probe boots the guest kernel
/// once under KVM, bounded, and reports TCG with the reason otherwise. Choosing and caching is the caller's.
/// </summary>
public static class AccelProbe
{
    private const string KernelStartedMarker = "Run /init";
    public const string KvmDevice = "/dev/kvm";

    /// <summary>
    /// Probes with <paramref name="timeouts"/>' KVM bound (default <see cref="GuestTimeouts.KvmProbe"/>); <paramref name="device"/>
    /// is the device whose presence starts a probe (a seam: tests give a stand-in that exists while KVM hangs).
    /// </summary>
    public static async Task<(Accel Accel, string Reason)> ProbeAsync(string qemuBinary, IReadOnlyList<string> firmware, string kernel, string initrd, ILogger log, CancellationToken ct,
        GuestTimeouts? timeouts = null, string device = KvmDevice)
    {
        var bounds = timeouts ?? new GuestTimeouts();
        if (!File.Exists(device)) return (Accel.Tcg, $"no {device}");
        log.Information("accel: {Device} exists; probing a KVM boot ({Seconds} s at most)", device, bounds.KvmProbe.TotalSeconds);
        var dir = Directory.CreateTempSubdirectory("qhh-probe-");
        try
        {
            var args = new QemuArguments().Firmware(firmware).Machine(MachineType.Pc, nvdimm: false).Accel(Accel.Kvm).Cpu(Accel.Kvm, pse: true)
                .Memory(ByteSize.FromMiB(512)).Kernel(kernel, initrd, "console=ttyS0 nokaslr panic=-1").HeadlessSerialConsole().Build();
            await using var qemu = new QemuProcess(qemuBinary, args, Path.Combine(dir.FullName, "console.log"), bounds.Teardown, log);
            qemu.Start();
            var booted = await Poll.UntilAsync(() => qemu.MarkerTime(KernelStartedMarker) is not null || qemu.HasExited,
                Deadline.In(bounds.KvmProbe), TimeSpan.FromMilliseconds(50), ct);
            if (qemu.MarkerTime(KernelStartedMarker) is not null) return (Accel.Kvm, "KVM probe booted the guest kernel");
            if (qemu.HasExited) return (Accel.Tcg, "KVM probe: QEMU failed under KVM: " + qemu.LastError());
            return booted ? (Accel.Tcg, "KVM probe: no kernel start") : (Accel.Tcg, $"KVM probe: the guest did not boot within {bounds.KvmProbe.TotalSeconds:F0} s under KVM (nested KVM hangs)");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
