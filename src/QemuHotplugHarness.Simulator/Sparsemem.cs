using QemuHotplugHarness.Scenarios;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>What happened to one vmemmap page (4 KiB without PSE, 2 MiB with PSE).</summary>
/// <summary>A vmemmap page (the memory holding struct pages): mapped, freed by a depopulate, or poisoned with 0xFD.</summary>
public enum VmemmapPageState { Unmapped, Mapped, Freed, Poisoned }

/// <summary>
/// The guest's SPARSEMEM_VMEMMAP state for the sections the NVDIMM touches (mm/sparse.c, arch/x86/mm/init_64.c of 6.1).
/// Sections and vmemmap pages nobody touched keep their boot state, which is computed on demand.
/// </summary>
public sealed class Sparsemem
{
    public const ulong SectionSize = 128 * MiB;
    public const ulong SubsectionSize = 2 * MiB;
    public const int SubsectionsPerSection = (int)(SectionSize / SubsectionSize); // 64: one bit each in a ulong
    public const ulong PagesPerSection = SectionSize / Page;

    private readonly IReadOnlyList<AddressRange> _bootRam;
    private readonly Dictionary<ulong, SectionState> _sections = new();
    private readonly Dictionary<ulong, VmemmapPageState> _vmemmap = new();

    public Sparsemem(IReadOnlyList<AddressRange> bootRam, KernelVariant variant, bool pse, int structPageSize, ulong vmemmapBase)
    {
        _bootRam = bootRam;
        Variant = variant;
        Pse = pse;
        StructPageSize = (ulong)structPageSize;
        VmemmapBase = vmemmapBase;
    }

    public KernelVariant Variant { get; }
    public bool Pse { get; }
    public ulong StructPageSize { get; }
    public ulong VmemmapBase { get; }
    /// <summary>Size of one vmemmap mapping: 2 MiB pages when the CPU has PSE, else 4 KiB.</summary>
    public ulong VmemmapPageSize => Pse ? 2 * MiB : Page;

    public sealed class SectionState
    {
        public required ulong Number { get; init; }
        public required bool Early { get; init; }
        /// <summary>Bit k: sub-section k (2 MiB) is present.</summary>
        public ulong SubsectionMap { get; set; }
        /// <summary>The sub-sections that held RAM at boot.</summary>
        public required ulong BootSubsectionMap { get; init; }
        public bool HasMemmap { get; set; }
        /// <summary>A section that is not early whose whole memmap was populated at once (a memory block, a 128 MiB namespace): its vmemmap pages are mapped without a page-by-page record.</summary>
        public bool WholeMemmap { get; set; }
        /// <summary>SECTION_IS_ONLINE: boot sections from the start, hot-added ones while their memory is online (online_mem_sections()).</summary>
        public bool Online { get; set; }
        public AddressRange Range => AddressRange.FromLength(Number * SectionSize, SectionSize);
    }

    public SectionState Section(ulong number)
    {
        if (_sections.TryGetValue(number, out var state)) return state;
        var range = AddressRange.FromLength(number * SectionSize, SectionSize);
        ulong map = 0;
        foreach (var ram in _bootRam)
        {
            if (!ram.Overlaps(range)) continue;
            var start = Math.Max(ram.Start, range.Start);
            var end = Math.Min(ram.End, range.End);
            for (var a = AlignDown(start, SubsectionSize); a < end; a += SubsectionSize)
                map |= 1UL << (int)((a - range.Start) / SubsectionSize);
        }
        state = new SectionState { Number = number, Early = map != 0, SubsectionMap = map, BootSubsectionMap = map, HasMemmap = map != 0, Online = map != 0 };
        _sections[number] = state;
        return state;
    }

    public static ulong SectionOf(ulong physical) => physical / SectionSize;

    /// <summary>Whether a section holds no memory at all (never touched and no boot RAM), without recording it.</summary>
    public bool IsAbsent(ulong number)
    {
        if (_sections.TryGetValue(number, out var state)) return !state.Early && state.SubsectionMap == 0;
        var range = AddressRange.FromLength(number * SectionSize, SectionSize);
        return !_bootRam.Any(r => r.Overlaps(range));
    }

    public ulong StructPageAddress(ulong pfn) => VmemmapBase + pfn * StructPageSize;

    /// <summary>The vmemmap range holding the struct pages of a physical range.</summary>
    public AddressRange MemmapOf(AddressRange physical) =>
        new(StructPageAddress(physical.Start / Page), StructPageAddress(physical.End / Page));

    public VmemmapPageState PageState(ulong vmemmapPage)
    {
        if (_vmemmap.TryGetValue(vmemmapPage, out var s)) return s;
        // Boot: sparse_init populated the whole memmap of every early section.
        var start = vmemmapPage * VmemmapPageSize - VmemmapBase;
        var firstPfn = start / StructPageSize;
        var lastPfn = (start + VmemmapPageSize - 1) / StructPageSize;
        for (var section = firstPfn / PagesPerSection; section <= lastPfn / PagesPerSection; section++)
            if (Section(section) is { Early: true } or { WholeMemmap: true }) return VmemmapPageState.Mapped;
        return VmemmapPageState.Unmapped;
    }

    private IEnumerable<ulong> PagesOf(AddressRange vmemmap)
    {
        for (var p = vmemmap.Start / VmemmapPageSize; p * VmemmapPageSize < vmemmap.End; p++) yield return p;
    }

    /// <summary>arch_add_memory → __add_pages → sparse_add_section → section_activate, one section chunk at a time.</summary>
    public void AddPages(AddressRange physical, EventLog events)
    {
        foreach (var (section, chunk) in Chunks(physical))
        {
            var bits = SubsectionBits(section, chunk);
            var partial = chunk.Length < SectionSize;
            section.SubsectionMap |= bits;
            if (partial && section.Early)
            {
                foreach (var page in PagesOf(MemmapOf(chunk)))
                    if (PageState(page) == VmemmapPageState.Poisoned) _vmemmap[page] = VmemmapPageState.Mapped;
                events.Add($"section_activate: section {section.Number} ({section.Range.ToIomem()}) is early, {chunk.Length / SubsectionSize} sub-sections {chunk.ToIomem()} reuse the boot memmap (not populated)");
                continue;
            }
            var memmap = MemmapOf(chunk);
            if (OwnsItsVmemmap(section, chunk))
            {
                ForgetPages(memmap);
                section.WholeMemmap = true;
            }
            else
                foreach (var page in PagesOf(memmap))
                    if (PageState(page) != VmemmapPageState.Mapped && PageState(page) != VmemmapPageState.Poisoned)
                        _vmemmap[page] = VmemmapPageState.Mapped;
            section.HasMemmap = true;
            events.Add($"section_activate: section {section.Number} {(section.Early ? "early" : "not early")}, populate memmap of {chunk.ToIomem()} (vmemmap {memmap})");
        }
    }

    /// <summary>arch_remove_memory → __remove_pages → sparse_remove_section → section_deactivate.</summary>
    public void RemovePages(AddressRange physical, EventLog events)
    {
        foreach (var (section, chunk) in Chunks(physical))
        {
            var early = section.Early;
            section.SubsectionMap &= ~SubsectionBits(section, chunk);
            var empty = section.SubsectionMap == 0;
            var memmapOfWholeSection = empty && section.HasMemmap;
            if (empty) section.HasMemmap = false;

            bool depopulate = Variant switch
            {
                // Patched: if (!section_is_early) depopulate_section_memmap(); else if (memmap) free_map_bootmem(memmap);
                KernelVariant.Patched => !early,
                // Unpatched: if (section_is_early && memmap) free_map_bootmem(memmap); else depopulate_section_memmap();
                _ => !(early && memmapOfWholeSection),
            };
            if (!depopulate)
            {
                events.Add(memmapOfWholeSection
                    ? $"section_deactivate: section {section.Number} early and now empty: free_map_bootmem"
                    : $"section_deactivate: section {section.Number} is early: its memmap stays (sub-sections {chunk.ToIomem()} removed)");
                if (memmapOfWholeSection) Depopulate(section.Range, events, whole: true);
                continue;
            }
            events.Add($"section_deactivate: section {section.Number} {(early ? "is early but" : "not early:")} depopulate_section_memmap({chunk.ToIomem()})");
            if (section.WholeMemmap && OwnsItsVmemmap(section, chunk))
            {
                // The section's own vmemmap pages, no neighbour's: all freed (4 KiB pages, or its whole 2 MiB ones).
                ForgetPages(MemmapOf(chunk));
                section.WholeMemmap = false;
                events.Add($"vmemmap: the section's memmap {MemmapOf(chunk)} freed and unmapped");
                continue;
            }
            if (section.WholeMemmap) Materialise(section);
            Depopulate(chunk, events, whole: false);
        }
    }

    /// <summary>A whole section that is not early, whose memmap fills whole vmemmap pages (64-byte struct pages do): no page is shared with a neighbour.</summary>
    private bool OwnsItsVmemmap(SectionState section, AddressRange chunk) =>
        !section.Early && chunk.Length == SectionSize && PagesPerSection * StructPageSize % VmemmapPageSize == 0;

    /// <summary>Drop the page-by-page record of a range (its pages then read as their section says).</summary>
    private void ForgetPages(AddressRange vmemmap)
    {
        if (_vmemmap.Count == 0) return;
        foreach (var page in PagesOf(vmemmap)) _vmemmap.Remove(page);
    }

    /// <summary>A section populated whole that loses part of its memmap: its pages recorded one by one first.</summary>
    private void Materialise(SectionState section)
    {
        section.WholeMemmap = false;
        foreach (var page in PagesOf(MemmapOf(section.Range))) _vmemmap.TryAdd(page, VmemmapPageState.Mapped);
    }

    /// <summary>vmemmap_free → remove_pagetable: 4 KiB pages in the range are freed; a 2 MiB mapping is freed only when wholly unused, else the removed struct pages are filled with 0xFD and stay mapped.</summary>
    private void Depopulate(AddressRange physical, EventLog events, bool whole)
    {
        var memmap = MemmapOf(physical);
        if (!Pse)
        {
            ulong freed = 0;
            foreach (var page in PagesOf(memmap))
            {
                var pageRange = AddressRange.FromLength(page * Page, Page);
                if (!memmap.Contains(pageRange) && !whole) continue;
                if (PageState(page) is VmemmapPageState.Mapped or VmemmapPageState.Poisoned)
                {
                    _vmemmap[page] = VmemmapPageState.Freed;
                    freed++;
                }
            }
            events.Add($"vmemmap: {freed} 4 KiB page(s) of {memmap} freed and unmapped");
            return;
        }
        foreach (var page in PagesOf(memmap))
        {
            var pmd = AddressRange.FromLength(page * VmemmapPageSize, VmemmapPageSize);
            if (memmap.Contains(pmd) || PmdUnused(pmd))
            {
                _vmemmap[page] = VmemmapPageState.Freed;
                events.Add($"vmemmap: 2 MiB page {pmd} freed (wholly unused)");
            }
            else
            {
                if (PageState(page) == VmemmapPageState.Mapped) _vmemmap[page] = VmemmapPageState.Poisoned;
                events.Add($"vmemmap: 2 MiB page {pmd} partly unused: struct pages of {memmap} filled with 0xFD, page stays mapped");
            }
        }
    }

    /// <summary>True when no present sub-section still has struct pages in this 2 MiB vmemmap page.</summary>
    private bool PmdUnused(AddressRange pmd)
    {
        var firstPfn = (pmd.Start - VmemmapBase) / StructPageSize;
        var endPfn = (pmd.End - VmemmapBase + StructPageSize - 1) / StructPageSize;
        var phys = new AddressRange(firstPfn * Page, endPfn * Page);
        for (var a = AlignDown(phys.Start, SubsectionSize); a < phys.End; a += SubsectionSize)
        {
            var section = Section(SectionOf(a));
            var bit = (int)((a - section.Range.Start) / SubsectionSize);
            if ((section.SubsectionMap & (1UL << bit)) != 0) return false;
        }
        return true;
    }

    /// <summary>memmap_init: the first struct page in [from, end) whose vmemmap page is not mapped, or null.</summary>
    public ulong? FirstUnmappedPfn(ulong fromPfn, ulong endPfn)
    {
        var pfn = fromPfn;
        while (pfn < endPfn)
        {
            var address = StructPageAddress(pfn);
            var page = address / VmemmapPageSize;
            var state = PageState(page);
            // A struct page may straddle two vmemmap pages; the init writes its last byte too.
            var lastPage = (address + StructPageSize - 1) / VmemmapPageSize;
            if (state is VmemmapPageState.Freed or VmemmapPageState.Unmapped) return pfn;
            if (lastPage != page && PageState(lastPage) is VmemmapPageState.Freed or VmemmapPageState.Unmapped) return pfn;
            // Skip to the first pfn of the next vmemmap page.
            var nextPageStart = (page + 1) * VmemmapPageSize;
            var nextPfn = (nextPageStart - VmemmapBase + StructPageSize - 1) / StructPageSize;
            pfn = Math.Max(pfn + 1, nextPfn);
        }
        return null;
    }

    /// <summary>All vmemmap ranges in the struct pages of [fromPfn, endPfn) that are not mapped, merged.</summary>
    public IReadOnlyList<AddressRange> UnmappedVmemmap(ulong fromPfn, ulong endPfn)
    {
        var memmap = new AddressRange(StructPageAddress(fromPfn), StructPageAddress(endPfn));
        var result = new List<AddressRange>();
        foreach (var page in PagesOf(memmap))
        {
            if (PageState(page) is not (VmemmapPageState.Freed or VmemmapPageState.Unmapped)) continue;
            var r = AddressRange.FromLength(page * VmemmapPageSize, VmemmapPageSize);
            if (result.Count > 0 && result[^1].End == r.Start) result[^1] = new AddressRange(result[^1].Start, r.End);
            else result.Add(r);
        }
        return result;
    }


    private IEnumerable<(SectionState Section, AddressRange Chunk)> Chunks(AddressRange physical)
    {
        for (var a = physical.Start; a < physical.End;)
        {
            var section = Section(SectionOf(a));
            var end = Math.Min(physical.End, section.Range.End);
            yield return (section, new AddressRange(a, end));
            a = end;
        }
    }

    private static ulong SubsectionBits(SectionState section, AddressRange chunk)
    {
        ulong bits = 0;
        for (var a = AlignDown(chunk.Start, SubsectionSize); a < chunk.End; a += SubsectionSize)
            bits |= 1UL << (int)((a - section.Range.Start) / SubsectionSize);
        return bits;
    }
}
