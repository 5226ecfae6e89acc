using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>
/// The kernel's memmap bookkeeping for a case's workload (mm/memremap.c, mm/memory_hotplug.c, mm/sparse*.c,
/// mm/page_alloc.c, fs/proc/page.c of 6.1/6.12/7.x): sections and sub-sections (<see cref="Sparsemem"/>), the struct
/// pages (<see cref="Memmap"/>), the SECTION_TAINT_ZONE_DEVICE taint, the live dev_pagemaps, ZONE_DEVICE's span and
/// max_pfn. Which checks the kernel has is <see cref="Checks"/>: a fix is a switch of this mechanism.
/// </summary>
public sealed class MemmapBookkeeping
{
    /// <summary>pageblock_nr_pages: 1 &lt;&lt; pageblock_order, 10 without CONFIG_HUGETLB_PAGE (RBX 0x1443ff, the block's last pfn, in the observed 6.1 oops).</summary>
    public const ulong PageblockPages = 1024;

    private readonly HashSet<ulong> _tainted = [];
    private readonly List<DevicePagemap> _pagemaps = [];
    private (ulong Start, ulong End)? _zoneDevice;

    public MemmapBookkeeping(Sparsemem sparse, IReadOnlyList<AddressRange> bootRam, CaseModel model, IReadOnlySet<KernelCheck> checks, string line)
    {
        (Sparse, Model, Checks, Line) = (sparse, model, checks, line);
        foreach (var ram in bootRam)
        {
            // memmap_init(): boot RAM, and the hole up to the end of its section (init_unavailable_range()), initialised for a boot zone.
            Memmap.Set(ram.Start / Page, AlignUp(ram.End, Sparsemem.SectionSize) / Page, StructPageState.Initialised, PageZone.Boot);
            MaxPfn = Math.Max(MaxPfn, ram.End / Page);
        }
    }

    public Sparsemem Sparse { get; }
    public Memmap Memmap { get; } = new();
    public CaseModel Model { get; }
    public IReadOnlySet<KernelCheck> Checks { get; }
    public string Line { get; }
    /// <summary>max_pfn: the end of boot RAM, raised by every hot-add (update_end_of_memory_vars()), never lowered.</summary>
    public ulong MaxPfn { get; private set; }
    public DevicePagemap? Live => _pagemaps.LastOrDefault();

    /// <summary>memremap_pages() → pagemap_range(): add the pages, move them to ZONE_DEVICE, initialise all but the altmap reserve.</summary>
    public MemmapOops? Memremap(DevicePagemap pgmap, EventLog events)
    {
        _pagemaps.Add(pgmap);
        Sparse.AddPages(pgmap.Range, events);
        if (Model.DebugVm)
        {
            // sparse_add_section(): page_init_poison() on the memmap section_activate() returned, an early section's boot memmap included.
            Memmap.Set(pgmap.StartPfn, pgmap.EndPfn, StructPageState.Poisoned, PageZone.None);
            events.Add($"sparse_add_section: struct pages of pfns {Pfn(pgmap.StartPfn)}-{Pfn(pgmap.EndPfn - 1)} poisoned");
        }
        RaiseMaxPfn(pgmap.EndPfn);
        if (MoveToZoneDevice(pgmap, events) is { } oops) return oops;
        Memmap.Set(pgmap.FirstInitialisedPfn, pgmap.EndPfn, StructPageState.Initialised, PageZone.Device);
        events.Add($"memmap_init_zone_device: pfns {Pfn(pgmap.FirstInitialisedPfn)}-{Pfn(pgmap.EndPfn - 1)} initialised for ZONE_DEVICE" +
                   (pgmap.ReservePfns > 0 ? $"; the altmap reserve {Pfn(pgmap.StartPfn)}-{Pfn(pgmap.FirstInitialisedPfn - 1)} never is" : ""));
        return null;
    }

    /// <summary>move_pfn_range_to_zone(ZONE_DEVICE): taint the sections it shares, grow the zone, then set_zone_contiguous().</summary>
    private MemmapOops? MoveToZoneDevice(DevicePagemap pgmap, EventLog events)
    {
        foreach (var pfn in new[] { pgmap.StartPfn, pgmap.EndPfn })
            if (pfn % Sparsemem.PagesPerSection != 0 && _tainted.Add(pfn / Sparsemem.PagesPerSection))
                events.Add($"move_pfn_range_to_zone: section {pfn / Sparsemem.PagesPerSection} tainted SECTION_TAINT_ZONE_DEVICE");
        _zoneDevice = _zoneDevice is var (s, e) ? (Math.Min(s, pgmap.StartPfn), Math.Max(e, pgmap.EndPfn)) : (pgmap.StartPfn, pgmap.EndPfn);
        return SetZoneContiguous(events);
    }

    /// <summary>set_zone_contiguous(): each pageblock's first page through __pageblock_pfn_to_page(); the walk ends at the first that is not the zone's.</summary>
    private MemmapOops? SetZoneContiguous(EventLog events)
    {
        var (start, end) = _zoneDevice!.Value;
        for (var block = start; block < end; block = AlignDown(block, PageblockPages) + PageblockPages)
        {
            var last = Math.Min(AlignDown(block, PageblockPages) + PageblockPages, end) - 1;
            if (!PfnValid(last)) return Stop(events, block, "pfn_valid() of its last pfn is false");
            if (PfnToOnlinePage(block) is not { } why) return Stop(events, block, "pfn_to_online_page() is NULL");
            if (MemmapReaders.Read(this, MemmapReader.PageblockPfnToPage, block) is { } oops) return oops with { Why = $"{oops.Why} ({why})" };
            if (Memmap.At(block).Zone != PageZone.Device) return Stop(events, block, "its page is not ZONE_DEVICE's");
        }
        events.Add("set_zone_contiguous(ZONE_DEVICE): contiguous");
        return null;
    }

    private static MemmapOops? Stop(EventLog events, ulong block, string why)
    {
        events.Add($"set_zone_contiguous(ZONE_DEVICE): pageblock at pfn {Pfn(block)}: {why}, not contiguous");
        return null;
    }

    /// <summary>memunmap_pages() → pageunmap_range(): page_zone() of the first page, poison the range, remove the pages.</summary>
    public MemmapOops? Memunmap(EventLog events)
    {
        if (Live is not { } pgmap) return null;
        var fixedRead = Checks.Contains(KernelCheck.PageunmapRangeFirstInitialisedPfn);
        var first = fixedRead ? pgmap.FirstInitialisedPfn : pgmap.StartPfn;
        events.Add($"pageunmap_range: page_zone() of pfn {Pfn(first)} ({(fixedRead ? "pfn_first(), the first initialised" : "PHYS_PFN(range->start)")})");
        if (MemmapReaders.Read(this, MemmapReader.PageunmapRange, first) is { } oops) return oops;
        if (Model.DebugVm)
        {
            Memmap.Set(pgmap.StartPfn, pgmap.EndPfn, StructPageState.Poisoned, PageZone.None);
            events.Add($"remove_pfn_range_from_zone: struct pages of pfns {Pfn(pgmap.StartPfn)}-{Pfn(pgmap.EndPfn - 1)} poisoned (ZONE_DEVICE is not shrunk)");
        }
        if (RemoveSections(pgmap.Range, events) is { } removeOops) return removeOops;
        _pagemaps.Remove(pgmap);
        return null;
    }

    /// <summary>
    /// __remove_pages() -> sparse_remove_section() -> section_deactivate() per section chunk of <paramref name="range"/>:
    /// a chunk of a section that is not early goes to depopulate_section_memmap(), which before 9d8573111024 (check
    /// <see cref="KernelCheck.MemmapAccountingWithoutNodeLookup"/>) takes page_pgdat() of the chunk's first struct page,
    /// before vmemmap_free(). By then offlining or sparse_add_section() has poisoned it (CONFIG_DEBUG_VM).
    /// </summary>
    public MemmapOops? RemoveSections(AddressRange range, EventLog events)
    {
        if (!Checks.Contains(KernelCheck.MemmapAccountingWithoutNodeLookup))
        {
            for (var pfn = range.Start / Page; pfn < range.End / Page; pfn = AlignDown(pfn, Sparsemem.PagesPerSection) + Sparsemem.PagesPerSection)
            {
                if (Sparse.Section(pfn / Sparsemem.PagesPerSection).Early) continue;
                events.Add($"depopulate_section_memmap: page_pgdat() of pfn {Pfn(pfn)}, the first of section {pfn / Sparsemem.PagesPerSection}'s chunk, to count its memmap per node");
                if (MemmapReaders.Read(this, MemmapReader.DepopulateSectionMemmap, pfn) is { } oops) return oops;
            }
        }
        Sparse.RemovePages(range, events);
        return null;
    }

    /// <summary>Raise max_pfn to <paramref name="endPfn"/> (x86 add_pages() -> update_end_of_memory_vars()).</summary>
    public void RaiseMaxPfn(ulong endPfn) => MaxPfn = Math.Max(MaxPfn, endPfn);

    /// <summary>
    /// A /proc/kpageflags or /proc/kpagecount read of [firstPfn, endPfn) (null: to the end of the file), below
    /// get_max_dump_pfn() = max_pfn rounded up to a section: each pfn's struct page, as the kernel looks it up
    /// (<see cref="ProcPage"/>), is read by <paramref name="reader"/>.
    /// </summary>
    public MemmapOops? ReadProcFile(MemmapReader reader, string file, ulong firstPfn, ulong? endPfn, EventLog events)
    {
        var maxDump = AlignUp(MaxPfn, Sparsemem.PagesPerSection);
        var end = Math.Min(endPfn ?? maxDump, maxDump);
        var (read, copied) = (0UL, 0UL);
        foreach (var (from, to) in Segments(firstPfn, end))
        {
            if (ProcPage(from) is null) continue;
            if (MemmapReaders.Read(this, reader, from) is { } oops) return oops with { Why = $"{oops.Why} ({ProcPage(from)})" };
            read += to - from;
            if (Memmap.At(from).State != StructPageState.Initialised) copied += to - from;
        }
        var garbage = copied == 0 ? "" : $" ({copied} of them not initialised, read as garbage from a snapshot_page() copy: {Model.Failure(reader, Line)?.Source})";
        events.Add(firstPfn >= end
            ? $"{file} from pfn {Pfn(firstPfn)}: at or past max_pfn {Pfn(MaxPfn)} rounded up to a section, nothing read"
            : $"{file} pfns {Pfn(firstPfn)}-{Pfn(end - 1)}: {read} struct page(s) read{garbage}, the rest KPF_NOPAGE/0");
        return null;
    }

    /// <summary>
    /// How fs/proc/page.c looks a pfn up: pfn_to_online_page() (aad5f69bc161), or without that check pfn_valid() ?
    /// pfn_to_page() : NULL. The reason it hands the struct page out, or null.
    /// </summary>
    public string? ProcPage(ulong pfn) => Checks.Contains(KernelCheck.ProcPageOnlineOnly)
        ? PfnToOnlinePage(pfn)
        : PfnValid(pfn) ? "pfn_valid(), no pfn_to_online_page() check" : null;

    /// <summary>
    /// [first, end) cut where the answer of pfn_valid()/pfn_to_online_page() or the struct page's state may change:
    /// sections without memory are skipped whole, a present one is cut where its sub-section map changes.
    /// </summary>
    private IEnumerable<(ulong From, ulong To)> Segments(ulong first, ulong end)
    {
        for (var section = first / Sparsemem.PagesPerSection; section * Sparsemem.PagesPerSection < end; section++)
        {
            if (Sparse.IsAbsent(section)) continue;
            var state = Sparse.Section(section);
            var from = Math.Max(first, section * Sparsemem.PagesPerSection);
            var to = Math.Min(end, (section + 1) * Sparsemem.PagesPerSection);
            foreach (var segment in Cut(state, from, to)) yield return segment;
        }
    }

    private IEnumerable<(ulong From, ulong To)> Cut(Sparsemem.SectionState section, ulong first, ulong end)
    {
        if (section.SubsectionMap == ulong.MaxValue && !Memmap.HasBoundary(first, end) && !_pagemaps.Any(p => p.StartPfn > first && p.StartPfn < end || p.EndPfn > first && p.EndPfn < end))
        {
            yield return (first, end);
            yield break;
        }
        var perSubsection = Sparsemem.SubsectionSize / Page;
        var cuts = new SortedSet<ulong> { first, end };
        for (var p = AlignUp(first + 1, perSubsection); p < end; p += perSubsection)
            if (SubsectionValid(p) != SubsectionValid(p - 1)) cuts.Add(p);
        foreach (var b in Memmap.Boundaries(first, end)) cuts.Add(b);
        foreach (var pg in _pagemaps)
            foreach (var b in new[] { pg.StartPfn, pg.EndPfn })
                if (b > first && b < end) cuts.Add(b);
        ulong? previous = null;
        foreach (var c in cuts)
        {
            if (previous is { } from) yield return (from, c);
            previous = c;
        }
    }

    /// <summary>
    /// pfn_to_online_page(): the reason it returns the struct page, or null when it returns NULL. Online sections are the
    /// boot ones and those of onlined memory blocks (ZONE_DEVICE never onlines a section); the two 5.12 checks are switches.
    /// </summary>
    public string? PfnToOnlinePage(ulong pfn)
    {
        var section = Sparse.Section(pfn / Sparsemem.PagesPerSection);
        if (!section.Online) return null;
        if (Checks.Contains(KernelCheck.PfnToOnlinePageSubsectionValid) && !SubsectionValid(pfn)) return null;
        if (!_tainted.Contains(section.Number)) return "online section";
        if (Checks.Contains(KernelCheck.PfnToOnlinePageDeviceSlowPath) && _pagemaps.Any(p => p.Contains(pfn))) return null;
        return Checks.Contains(KernelCheck.PfnToOnlinePageDeviceSlowPath)
            ? "online section tainted by ZONE_DEVICE, and get_dev_pagemap() finds no pagemap"
            : Checks.Contains(KernelCheck.PfnToOnlinePageSubsectionValid)
                ? "online section, sub-section valid, no get_dev_pagemap() slow path"
                : "online section (no sub-section check, no get_dev_pagemap() slow path)";
    }

    /// <summary>pfn_section_valid(): the pfn's sub-section bit.</summary>
    public bool SubsectionValid(ulong pfn)
    {
        var section = Sparse.Section(pfn / Sparsemem.PagesPerSection);
        var bit = (int)(pfn % Sparsemem.PagesPerSection / (Sparsemem.SubsectionSize / Page));
        return (section.SubsectionMap & (1UL << bit)) != 0;
    }

    /// <summary>pfn_valid(): an early section is valid as a whole, any other by its sub-section map.</summary>
    public bool PfnValid(ulong pfn) => Sparse.Section(pfn / Sparsemem.PagesPerSection).Early || SubsectionValid(pfn);

    private static string Pfn(ulong pfn) => Scenarios.Hex.Format(pfn);
}
