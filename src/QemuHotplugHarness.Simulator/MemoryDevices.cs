using QemuHotplugHarness.Scenarios;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>What kind of memory device QEMU placed in the device-memory window.</summary>
public enum MemoryDeviceKind { Nvdimm, PcDimm, VirtioMem }

/// <summary>A memory device where QEMU put it: its id, kind, range and RAM backend (a virtio-mem's range is its whole region, max-size).</summary>
public sealed record PlacedDevice(string Id, MemoryDeviceKind Kind, AddressRange Range, string? Backend)
{
    /// <summary>A virtio-mem device's block-size (QEMU's unit of plug and unplug); 0 for other devices.</summary>
    public ulong BlockSize { get; init; }

    /// <summary>A virtio-mem device's requested-size at boot.</summary>
    public ulong Requested { get; init; }
}

/// <summary>
/// QEMU 7.2's placement of memory devices (hw/mem/memory-device.c memory_device_get_free_addr(), hw/mem/pc-dimm.c):
/// an asked address must be aligned and free inside the window, else the first free aligned address is taken; pc-dimms
/// and NVDIMMs take a slot each. Errors are QEMU's own words.
/// </summary>
public static class MemoryDevicePlacement
{
    /// <summary>
    /// The harness's QEMU is built with a device list without virtio-mem (Build/QemuBuilder.cs Devices); Debian's QEMU
    /// (<see cref="QemuFlavour.Stock"/>) has it.
    /// </summary>
    public const string NoVirtioMem = "'virtio-mem-pci' is not a valid device model name";

    /// <summary>The alignment QEMU asks of a device: a virtio-mem's block-size, else its RAM backend's (2 MiB on an x86 host).</summary>
    public static ulong Alignment(MemoryDeviceKind kind, ulong blockSize) =>
        kind == MemoryDeviceKind.VirtioMem ? Math.Max(blockSize, QemuModel.BackendAlignment) : QemuModel.BackendAlignment;

    /// <summary>Where a device of <paramref name="size"/> goes among <paramref name="placed"/>; the error when QEMU refuses it.</summary>
    public static (AddressRange? Range, string? Error) Place(AddressRange window, IReadOnlyList<PlacedDevice> placed, ulong? address, ulong size, ulong alignment)
    {
        if (address is { } at && at % alignment != 0) return (null, $"address must be aligned to 0x{alignment:x} bytes");
        var candidate = AddressRange.FromLength(address ?? AlignUp(window.Start, alignment), size);
        if (address is not null && !window.Contains(candidate))
            return (null, $"can't add memory device [0x{candidate.Start:x}:0x{size:x}], usable range for memory devices [0x{window.Start:x}:0x{window.Length:x}]");
        foreach (var d in placed.OrderBy(d => d.Range.Start))
        {
            if (d.Range.Overlaps(candidate))
            {
                if (address is not null) return (null, $"address range conflicts with memory device id='{d.Id}'");
                candidate = AddressRange.FromLength(AlignUp(d.Range.End, alignment), size);
            }
            else if (d.Range.Start >= candidate.End) break;
        }
        return window.Contains(candidate)
            ? (candidate, null)
            : (null, "could not find position in guest address space for memory device - memory fragmented due to alignments");
    }

    /// <summary>
    /// The devices of the command line in QEMU's order (the NVDIMM, then pc-dimms, then virtio-mem), or QEMU's refusal.
    /// </summary>
    public static (IReadOnlyList<PlacedDevice> Devices, string? Rejection) Boot(Scenario s, QemuLayout qemu)
    {
        var placed = new List<PlacedDevice>();
        if (qemu.Nvdimm is { } nv) placed.Add(new PlacedDevice("nv0", MemoryDeviceKind.Nvdimm, nv, "mem0"));
        var window = AddressRange.FromLength(qemu.DeviceMemoryBase, qemu.DeviceMemorySize);
        var devices = s.Devices;
        foreach (var d in devices.Dimms)
        {
            if (placed.Count >= s.Machine.Slots) return (placed, $"no free slots, {s.Machine.Slots} slot(s) in use");
            var size = BackendSize(devices, d.Memdev);
            var (range, error) = Place(window, placed, d.Address, size, Alignment(MemoryDeviceKind.PcDimm, 0));
            if (error is not null) return (placed, error);
            placed.Add(new PlacedDevice(d.Id, MemoryDeviceKind.PcDimm, range!.Value, d.Memdev));
        }
        foreach (var v in devices.VirtioMem)
        {
            if (s.Qemu == QemuFlavour.Patched) return (placed, NoVirtioMem);
            var size = BackendSize(devices, v.Memdev);
            if (v.RequestedSize.Bytes > size) return (placed, "'requested-size' property exceeds the memory backend size");
            var (range, error) = Place(window, placed, null, size, Alignment(MemoryDeviceKind.VirtioMem, v.BlockSize.Bytes));
            if (error is not null) return (placed, error);
            placed.Add(new PlacedDevice(v.Id, MemoryDeviceKind.VirtioMem, range!.Value, v.Memdev) { BlockSize = v.BlockSize.Bytes, Requested = v.RequestedSize.Bytes });
        }
        return (placed, null);
    }

    private static ulong BackendSize(MemoryDeviceSet devices, string memdev) => devices.Backends.First(b => b.Id == memdev).Size.Bytes;

    /// <summary>The device-memory window of a layout.</summary>
    public static AddressRange Window(QemuLayout qemu) => AddressRange.FromLength(qemu.DeviceMemoryBase, qemu.DeviceMemorySize);
}
