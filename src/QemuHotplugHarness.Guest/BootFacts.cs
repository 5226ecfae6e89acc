using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Guest;

/// <summary>What a ready guest shows about itself before the workload: the facts preconditions are judged on.</summary>
public sealed record BootFacts(string Iomem, ObservedLayout Layout, bool HasPse, KernelFacts? Kernel)
{
    /// <summary>memory_block_size_bytes() as /sys/devices/system/memory/block_size_bytes says; null without memory hotplug.</summary>
    public ulong? MemoryBlockSize { get; init; }
}

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
        // One round trip for both: the CPU's flags, then the memory block size (absent without CONFIG_MEMORY_HOTPLUG).
        var cpuFlags = (await guest.RunShellAsync($"grep -m1 '^flags' /proc/cpuinfo; cat {MemoryBlockSizeFile} 2>/dev/null || true", probe, ct)).Stdout;
        var hasPse = (" " + cpuFlags.Split('\n')[0] + " ").Contains(" pse ", StringComparison.Ordinal);
        var kernel = await ReadKernelFactsAsync(guest, probe, ct);
        if (kernel is null) log.Warning("could not read VMCOREINFO from /proc/kcore: fault pfns will not be computed");
        return new BootFacts(iomem, layout, hasPse, kernel) { MemoryBlockSize = MemoryBlockSize(cpuFlags) };
    }

    public const string MemoryBlockSizeFile = "/sys/devices/system/memory/block_size_bytes";

    /// <summary>The hex number block_size_bytes prints ("8000000"), from the lines after the CPU flags; null when none.</summary>
    public static ulong? MemoryBlockSize(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Skip(1)
            .Select(l => ulong.TryParse(l, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : (ulong?)null)
            .FirstOrDefault(v => v is > 0);

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
