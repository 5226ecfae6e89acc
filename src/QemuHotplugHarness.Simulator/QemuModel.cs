using QemuHotplugHarness.Scenarios;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>Where QEMU 7.2 puts guest RAM, the device-memory region and the NVDIMM.</summary>
public sealed record QemuLayout
{
    public required AddressRange RamBelow4G { get; init; }
    public required AddressRange RamAbove4G { get; init; }
    public ulong DeviceMemoryBase { get; init; }
    public ulong DeviceMemorySize { get; init; }
    /// <summary>The NVDIMM's persistent range: backend less labels, aligned down to 2 MiB.</summary>
    public AddressRange? Nvdimm { get; init; }
    /// <summary>QEMU's error when it refuses the machine; null when it starts.</summary>
    public string? Rejection { get; init; }
}

/// <summary>Models hw/i386/pc.c, pc_piix.c/pc_q35.c and hw/mem/memory-device.c of QEMU 7.2.</summary>
public static class QemuModel
{
    /// <summary>Alignment of a RAM backend on an x86 host (QEMU_VMALLOC_ALIGN): the NVDIMM region and address align to it.</summary>
    public const ulong BackendAlignment = 2 * MiB;

    public static QemuLayout Plan(Scenario s)
    {
        var ram = s.Machine.Ram.Bytes;
        var (below, above) = SplitRam(s.Machine.Type, ram);
        var layout = new QemuLayout
        {
            RamBelow4G = new AddressRange(0, below),
            RamAbove4G = AddressRange.FromLength(4 * GiB, above),
        };

        var maxmem = s.Machine.MaxMem.Bytes;
        if (maxmem <= ram)
            return layout with { Rejection = "memory devices (e.g. for memory hotplug) are not enabled, please specify the maxmem option" };

        var above4GEnd = 4 * GiB + above;
        // Stock QEMU: addr = ROUND_UP(pc_above_4g_end(pcms), 1 * GiB); the harness's patch drops the rounding.
        var baseAddress = s.Qemu == QemuFlavour.Stock ? AlignUp(above4GEnd, GiB) : above4GEnd;
        // enforce_aligned_dimm: size the region assuming 1 GiB max alignment per slot.
        var size = maxmem - ram + GiB * (ulong)s.Machine.Slots;
        layout = layout with { DeviceMemoryBase = baseAddress, DeviceMemorySize = size };

        var labels = s.Nvdimm.LabelSize.Bytes;
        var backend = s.Nvdimm.Size.Bytes;
        var pmemSize = AlignDown(backend - Math.Min(labels, backend), BackendAlignment);
        if (pmemSize == 0)
            return layout with { Rejection = $"nvdimm: the label area ({s.Nvdimm.LabelSize}) leaves no persistent memory in {s.Nvdimm.Size}" };

        var deviceRange = AddressRange.FromLength(baseAddress, size);
        var address = s.Nvdimm.Address ?? baseAddress; // first free, aligned address of an empty region
        if (address % BackendAlignment != 0)
            return layout with { Rejection = $"address must be aligned to 0x{BackendAlignment:x} bytes" };
        var nvdimm = AddressRange.FromLength(address, pmemSize);
        if (!deviceRange.Contains(nvdimm))
            return layout with
            {
                Rejection = $"can't add memory device [0x{address:x}:0x{pmemSize:x}], usable range for memory devices [0x{baseAddress:x}:0x{size:x}]",
            };
        return layout with { Nvdimm = nvdimm };
    }

    /// <summary>pc: 3 GiB below 4G once RAM reaches 3.5 GiB (gigabyte_align); q35: 2 GiB once RAM reaches 2.75 GiB.</summary>
    public static (ulong Below, ulong Above) SplitRam(MachineType type, ulong ram)
    {
        ulong lowmem = type switch
        {
            MachineType.Pc => ram >= 0xe000_0000UL ? 0xc000_0000UL : 0xe000_0000UL,
            _ => ram >= 0xb000_0000UL ? 0x8000_0000UL : 0xb000_0000UL,
        };
        return ram >= lowmem ? (lowmem, ram - lowmem) : (ram, 0);
    }
}
