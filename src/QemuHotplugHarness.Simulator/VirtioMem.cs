using QemuHotplugHarness.Scenarios;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>
/// A virtio-mem device as its 6.1 driver (drivers/virtio/virtio_mem.c) and QEMU 7.2 (hw/virtio/virtio-mem.c) see it:
/// Sub Block Mode when a sub-block is smaller than a memory block (plugged sub-blocks per memory block), else Big Block
/// Mode (whole big blocks). Plugging adds a memory block once its sub-blocks are plugged; onlining it walks it in
/// MAX_ORDER chunks through virtio_mem_online_page(): plugged chunks are onlined, unplugged ones fake-offlined.
/// </summary>
public sealed class VirtioMem
{
    /// <summary>QEMU (x86): the usable region is requested-size plus 256 MiB, so a badly aligned start loses nothing requested.</summary>
    public const ulong UsableExtent = 256 * MiB;
    /// <summary>VIRTIO_MEM_DEFAULT_OFFLINE_THRESHOLD: the driver adds no more memory while this much of it is offline.</summary>
    public const ulong OfflineThreshold = GiB;
    /// <summary>online_pages_range() calls the online callback per MAX_ORDER_NR_PAGES (1024 pages in 6.1).</summary>
    public const ulong OnlineChunk = 1024 * Page;

    private readonly Dictionary<ulong, ulong> _pluggedSubBlocks = [];
    private readonly ulong _memoryBlock;

    public VirtioMem(PlacedDevice device, ulong memoryBlockSize)
    {
        (Device, _memoryBlock) = (device, memoryBlockSize);
        // virtio_mem_init_hotplug(): sub-blocks of at least a pageblock; SBM when smaller than a memory block.
        SubBlockSize = Math.Max(MemmapBookkeeping.PageblockPages * Page, device.BlockSize);
        SubBlockMode = SubBlockSize < memoryBlockSize;
        Unit = SubBlockMode ? memoryBlockSize : Math.Max(device.BlockSize, memoryBlockSize);
        NextUnit = AlignUp(device.Range.Start, Unit) / Unit;
    }

    public PlacedDevice Device { get; }
    public ulong SubBlockSize { get; }
    public bool SubBlockMode { get; }
    /// <summary>What the driver adds at a time: a memory block (SBM) or a big block (BBM).</summary>
    public ulong Unit { get; }
    public ulong NextUnit { get; private set; }
    public ulong Requested { get; private set; }
    /// <summary>QEMU's "size" property: what the guest plugged.</summary>
    public ulong Plugged { get; private set; }

    public string Mode => SubBlockMode ? $"Sub Block Mode, sub-blocks of {SubBlockSize / MiB} MiB" : $"Big Block Mode, big blocks of {Unit / MiB} MiB";

    /// <summary>QEMU's checks of qom-set requested-size; null when it takes the value.</summary>
    public string? Refuses(ulong requested) =>
        requested % Device.BlockSize != 0 ? $"'requested-size' has to be multiples of 'block-size' (0x{Device.BlockSize:x})"
        : requested > Device.Range.Length ? $"'requested-size' cannot exceed the memory backend size (0x{Device.Range.Length:x})"
        : null;

    /// <summary>
    /// virtio_mem_run_wq() -> virtio_mem_plug_request(): plug whole units of the difference, first into partly plugged
    /// memory blocks, then into new ones (added with <paramref name="add"/>) up to the last usable one; an oops while adding ends it.
    /// </summary>
    public MemmapOops? Plug(ulong requested, Func<AddressRange, MemmapOops?> add, Func<ulong> offlineBytes, EventLog events)
    {
        Requested = requested;
        var count = requested > Plugged ? (requested - Plugged) / SubBlockSize : 0;
        if (!SubBlockMode) count = requested > Plugged ? (requested - Plugged) / Unit : 0;
        count = PlugPartial(count, events);
        while (count > 0 && NextUnit <= LastUsableUnit())
        {
            if (offlineBytes() + Unit > Math.Max(2 * _memoryBlock, OfflineThreshold))
            {
                events.Add($"virtio-mem {Device.Id}: {offlineBytes() / MiB} MiB of its memory offline, no more added (-ENOSPC until some is onlined)");
                break;
            }
            var unit = AddressRange.FromLength(NextUnit * Unit, Unit);
            var take = SubBlockMode ? Math.Min(count, Unit / SubBlockSize) : 1;
            if (SubBlockMode) _pluggedSubBlocks[NextUnit] = Mask(0, take);
            Plugged += take * (SubBlockMode ? SubBlockSize : Unit);
            count -= take;
            NextUnit++;
            events.Add($"virtio-mem {Device.Id}: plug {take * (SubBlockMode ? SubBlockSize : Unit) / MiB} MiB of {unit.ToIomem()}, add it (add_memory_driver_managed)");
            if (add(unit) is { } oops) return oops;
        }
        events.Add($"virtio-mem {Device.Id}: requested {requested / MiB} MiB, plugged {Plugged / MiB} MiB ({Mode})");
        return null;
    }

    /// <summary>virtio_mem_sbm_plug_any_sb(): more sub-blocks of an added, partly plugged memory block (onlined ones by fake-onlining).</summary>
    private ulong PlugPartial(ulong count, EventLog events)
    {
        var perBlock = (int)(Unit / SubBlockSize);
        foreach (var mb in _pluggedSubBlocks.Keys.Order().ToList())
        {
            for (var sb = 0; sb < perBlock && count > 0; sb++)
            {
                if ((_pluggedSubBlocks[mb] & (1UL << sb)) != 0) continue;
                _pluggedSubBlocks[mb] |= 1UL << sb;
                Plugged += SubBlockSize;
                count--;
                events.Add($"virtio-mem {Device.Id}: plug sub-block {sb} of memory{mb} (virtio_mem_fake_online(), no RCU read side)");
            }
        }
        return count;
    }

    /// <summary>The last unit the usable region (QEMU: requested-size + 256 MiB, in block-size) holds whole.</summary>
    private ulong LastUsableUnit()
    {
        var usable = Math.Min(Device.Range.Length, AlignUp(Requested + UsableExtent, Device.BlockSize));
        var end = Device.Range.Start + usable;
        return end / Unit == 0 ? 0 : end / Unit - 1;
    }

    /// <summary>Whether the online chunk at <paramref name="address"/> is plugged (a BBM big block is plugged whole).</summary>
    public bool IsPlugged(ulong address)
    {
        if (!SubBlockMode) return true;
        var mb = address / Unit;
        var sb = (int)((address - mb * Unit) / SubBlockSize);
        return _pluggedSubBlocks.TryGetValue(mb, out var mask) && (mask & (1UL << sb)) != 0;
    }

    public bool Contains(ulong address) => Device.Range.Contains(address);

    private static ulong Mask(int first, ulong count) => count >= 64 ? ulong.MaxValue : ((1UL << (int)count) - 1) << first;
}
