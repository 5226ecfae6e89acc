namespace QemuHotplugHarness.Scenarios.Cases;

/// <summary>
/// A check of the kernel's memmap bookkeeping that an upstream fix added. A case's patched kernel has every check;
/// its unpatched kernel lacks the one its fix adds (the tree with the fix reverse-applied).
/// </summary>
public enum KernelCheck
{
    /// <summary>77e080e7680e: pageunmap_range() reads the zone of pfn_first() (the first initialised struct page), not of the range's first pfn.</summary>
    PageunmapRangeFirstInitialisedPfn,
    /// <summary>1f90a3477df3: pfn_to_online_page() asks get_dev_pagemap() in a section tainted by ZONE_DEVICE and returns NULL for a device pfn.</summary>
    PfnToOnlinePageDeviceSlowPath,
    /// <summary>9f9b02e5b346: pfn_to_online_page() returns NULL for a pfn whose sub-section is not present (pfn_section_valid()).</summary>
    PfnToOnlinePageSubsectionValid,
}

/// <summary>A kernel function that reads a struct page the cases can reach uninitialised.</summary>
public enum MemmapReader
{
    /// <summary>mm/memremap.c pageunmap_range(): page_zone(first_page) on memunmap_pages().</summary>
    PageunmapRange,
    /// <summary>mm/page_alloc.c __pageblock_pfn_to_page(): page_zone(pfn_to_online_page(block start)) in set_zone_contiguous().</summary>
    PageblockPfnToPage,
    /// <summary>fs/proc/page.c stable_page_flags() on a /proc/kpageflags read.</summary>
    StablePageFlags,
}

/// <summary>How a reader fails on a struct page poisoned with 0xff (CONFIG_DEBUG_VM).</summary>
public enum PoisonedRead
{
    /// <summary>PF_POISONED_CHECK -> VM_BUG_ON_PAGE(PagePoisoned(p)) (CONFIG_DEBUG_VM_PGFLAGS): "kernel BUG in FUNCTION".</summary>
    PoisonCheck,
    /// <summary>A pointer taken from the poisoned page (compound_head 0xff..fe) faults: "BUG: unable to handle kernel paging request in FUNCTION".</summary>
    PagingRequest,
    /// <summary>A pointer taken from the poisoned page wraps to a small address: "BUG: unable to handle kernel NULL pointer dereference in FUNCTION".</summary>
    NullPointer,
}

/// <summary>
/// How one reader fails on one kernel line: the failure, the function the oops names (the compiler may inline the
/// reader into its caller) and where that fact comes from (an observed console, a NOTES.md line, an assumption).
/// </summary>
public sealed record ReaderFailure(PoisonedRead Fails, string Function, string Source)
{
    /// <summary>The title the harness's scanner gives such an oops.</summary>
    public string Title => Fails switch
    {
        PoisonedRead.PoisonCheck => $"kernel BUG in {Function}",
        PoisonedRead.PagingRequest => $"BUG: unable to handle kernel paging request in {Function}",
        _ => $"BUG: unable to handle kernel NULL pointer dereference in {Function}",
    };
}

/// <summary>
/// What the simulator needs of a case beyond its scenario and workload (case.json "model"): the check its fix adds,
/// and per reader and kernel line how a poisoned struct page is reported. The config (CONFIG_DEBUG_VM...) is the case's.
/// </summary>
public sealed record CaseModel(KernelCheck Fix, IReadOnlyDictionary<MemmapReader, IReadOnlyDictionary<string, ReaderFailure>> Readers)
{
    /// <summary>CONFIG_DEBUG_VM: sparse_add_section() and remove_pfn_range_from_zone() poison struct pages.</summary>
    public bool DebugVm { get; init; }

    /// <summary>CONFIG_DEBUG_VM_PGFLAGS: page_zone()/page_to_nid() check for poison.</summary>
    public bool DebugVmPgflags { get; init; }

    /// <summary>The checks a kernel of <paramref name="variant"/> has: all, or all but the fix's.</summary>
    public IReadOnlySet<KernelCheck> Checks(KernelVariant variant) =>
        Enum.GetValues<KernelCheck>().Where(c => variant == KernelVariant.Patched || c != Fix).ToHashSet();

    /// <summary>How <paramref name="reader"/> fails on kernel line <paramref name="line"/>; null when the case does not say.</summary>
    public ReaderFailure? Failure(MemmapReader reader, string line) =>
        Readers.TryGetValue(reader, out var lines) && lines.TryGetValue(line, out var f) ? f : null;
}
