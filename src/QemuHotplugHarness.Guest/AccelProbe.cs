using System.Text.Json;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Guest;

/// <summary>
/// Chooses KVM only when it really works: /dev/kvm may open while nested guests hang, so "auto" boots the
/// guest kernel once under KVM and falls back to TCG, with the reason. The answer is cached for a day.
/// </summary>
public static class AccelProbe
{
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(20);

    public static async Task<(Accel Accel, string Reason)> ChooseAsync(string mode, HarnessCache cache, QemuBuild qemu, string kernel, string initrd, ILogger log, CancellationToken ct)
    {
        switch (mode.ToLowerInvariant())
        {
            case "tcg": return (Accel.Tcg, "--accel tcg");
            case "kvm": return (Accel.Kvm, "--accel kvm");
            case "auto": break;
            default: throw new BadInputException($"--accel {mode}: unknown value (use auto, kvm or tcg)");
        }
        if (!File.Exists("/dev/kvm")) return (Accel.Tcg, "no /dev/kvm");
        var file = Path.Combine(cache.Root, "probes", "accel-" + HarnessCache.Key([qemu.Key, kernel]) + ".json");
        if (File.Exists(file) && File.GetLastWriteTimeUtc(file) > DateTime.UtcNow.AddDays(-1))
        {
            var cached = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(file))!;
            return (Enum.Parse<Accel>(cached["accel"]), cached["reason"] + " (probed " + File.GetLastWriteTimeUtc(file).ToString("u") + ")");
        }
        var (accel, reason) = await ProbeAsync(qemu, kernel, initrd, log, ct);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, JsonSerializer.Serialize(new Dictionary<string, string> { ["accel"] = accel.ToString(), ["reason"] = reason }));
        return (accel, reason);
    }

    private static async Task<(Accel, string)> ProbeAsync(QemuBuild qemu, string kernel, string initrd, ILogger log, CancellationToken ct)
    {
        log.Information("accel: /dev/kvm exists; probing a KVM boot ({Seconds} s at most)", ProbeTimeout.TotalSeconds);
        var dir = Directory.CreateTempSubdirectory("qhh-probe-");
        try
        {
            var args = new List<string>();
            foreach (var d in qemu.FirmwareDirs) args.AddRange(["-L", d]);
            args.AddRange(["-machine", "pc", "-accel", "kvm", "-cpu", "host", "-m", "512M", "-kernel", kernel, "-initrd", initrd,
                "-append", "console=ttyS0 nokaslr panic=-1", "-display", "none", "-nodefaults", "-no-reboot", "-serial", "stdio", "-monitor", "none"]);
            await using var qemuProcess = new QemuProcess(qemu.Binary, args, Path.Combine(dir.FullName, "console.log"), log);
            qemuProcess.Start();
            try
            {
                await new ConsoleMarkerWait("Run /init").UntilReadyAsync(qemuProcess, ProbeTimeout, ct);
                return (Accel.Kvm, "KVM probe booted the guest kernel");
            }
            catch (GuestFailedException e)
            {
                return (Accel.Tcg, "KVM probe: QEMU failed under KVM: " + e.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault());
            }
            catch (InfrastructureException)
            {
                return (Accel.Tcg, $"KVM probe: the guest did not boot within {ProbeTimeout.TotalSeconds:F0} s under KVM (nested KVM hangs)");
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
