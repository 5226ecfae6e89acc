using QemuHotplugHarness.Scenarios;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>
/// The dev_pagemap of a pfn/dax namespace at the start of an empty region (nvdimm_setup_pfn()): its range is the whole
/// namespace; with --map=dev an altmap whose reserve (the 8 KiB info block, plus the pad to a sub-section) never gets
/// its struct pages initialised.
/// </summary>
public sealed record DevicePagemap(AddressRange Range, MemmapLocation Map)
{
    public ulong StartPfn => Range.Start / Page;
    public ulong EndPfn => Range.End / Page;

    /// <summary>altmap->reserve (init_altmap_reserve()): the info block and the pad down to a sub-section; 0 without an altmap.</summary>
    public ulong ReservePfns => Map == MemmapLocation.Device
        ? Predictor.InfoBlockReserve / Page + (StartPfn - AlignDown(Range.Start, Sparsemem.SubsectionSize) / Page)
        : 0;

    /// <summary>pfn_first(): the first pfn whose struct page memmap_init_zone_device() initialises.</summary>
    public ulong FirstInitialisedPfn => StartPfn + ReservePfns;

    public bool Contains(ulong pfn) => StartPfn <= pfn && pfn < EndPfn;

    public static DevicePagemap In(AddressRange region, ulong size, MemmapLocation map) => new(AddressRange.FromLength(region.Start, size), map);
}
