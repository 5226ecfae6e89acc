using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Guest;

/// <summary>What a ready guest shows about itself before the workload: the facts preconditions are judged on.</summary>
public sealed record BootFacts(string Iomem, ObservedLayout Layout, bool HasPse, KernelFacts? Kernel);

public static class BootFactsReader
{
    /// <summary>
    /// Reads the facts from the guest. A guest restored from a snapshot ran the label prologue before it was saved,
    /// which changes /proc/iomem: its iomem is the one the snapshot's guest read as it booted.
    /// </summary>
    public static async Task<BootFacts> ReadAsync(QemuGuest guest, ILogger log, CancellationToken ct)
    {
        var probe = guest.Configuration.Timeouts.Probe;
        var devices = await guest.MemoryDevicesAsync(ct);
        var iomem = guest.RestoredFrom is { } snapshot
            ? await File.ReadAllTextAsync(snapshot.IomemAtBoot, ct)
            : (await guest.RunShellAsync("cat /proc/iomem", probe, ct)).Stdout;
        var layout = new ObservedLayout(
            Iomem.Find(iomem, "System RAM", above4G: true),
            Iomem.Find(iomem, "Persistent Memory", above4G: true),
            (devices.FirstOrDefault(d => d.Id == QemuArguments.NvdimmId) ?? devices.FirstOrDefault())?.Address);
        var cpuFlags = (await guest.RunShellAsync("grep -m1 '^flags' /proc/cpuinfo", probe, ct)).Stdout;
        var hasPse = (" " + cpuFlags + " ").Contains(" pse ", StringComparison.Ordinal);
        var kernel = await ReadKernelFactsAsync(guest, probe, ct);
        if (kernel is null) log.Warning("could not read VMCOREINFO from /proc/kcore: fault pfns will not be computed");
        return new BootFacts(iomem, layout, hasPse, kernel);
    }

    /// <summary>VMCOREINFO from the ELF notes at the head of /proc/kcore: struct page size and vmemmap base of this kernel.</summary>
    private static async Task<KernelFacts?> ReadKernelFactsAsync(IGuestShell shell, TimeSpan timeout, CancellationToken ct)
    {
        var r = await shell.RunShellAsync("head -c 65536 /proc/kcore | base64", timeout, ct);
        try
        {
            var text = KernelFacts.VmcoreinfoFromKcore(Convert.FromBase64String(string.Concat(r.Stdout.Where(c => !char.IsWhiteSpace(c)))));
            return text is null ? null : KernelFacts.FromVmcoreinfo(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

/// <summary>Reading /proc/iomem.</summary>
public static class Iomem
{
    private const ulong FourGiB = 0x1_0000_0000UL;

    /// <summary>The first top-level range named <paramref name="name"/> (above 4 GiB when asked).</summary>
    public static AddressRange? Find(string iomem, string name, bool above4G)
    {
        foreach (var raw in iomem.Split('\n'))
        {
            var parts = raw.Split(" : ", 2);
            if (parts.Length != 2 || parts[1].Trim() != name) continue;
            if (!AddressRange.TryParseIomem(parts[0], out var range)) continue;
            if (above4G && range.Start < FourGiB) continue;
            return range;
        }
        return null;
    }
}
