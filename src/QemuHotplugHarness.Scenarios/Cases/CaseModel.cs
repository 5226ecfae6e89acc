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
    /// <summary>aad5f69bc161: /proc/kpagecount, kpageflags and kpagecgroup take pfn_to_online_page(), not pfn_valid() ? pfn_to_page().</summary>
    ProcPageOnlineOnly,
    /// <summary>feee6b298916: removing memory no longer looks up the zone of its first struct page (zones shrink when offlining).</summary>
    RemoveMemoryWithoutZoneLookup,
    /// <summary>425bec0032f5: virtio_mem_online_page_cb() drops rcu_read_lock() before virtio_mem_online_page() (which may sleep).</summary>
    VirtioMemOnlinePageOutsideRcu,
    /// <summary>
    /// 9d8573111024: the memmap is counted globally, so depopulate_section_memmap() no longer takes the node
    /// (page_pgdat()) of the struct page of the first pfn it frees (15995a352474 did, after the memmap was poisoned).
    /// </summary>
    MemmapAccountingWithoutNodeLookup,
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
    /// <summary>fs/proc/page.c kpagecount_read(): PageSlab(compound_head(page)), page_mapcount() on a /proc/kpagecount read.</summary>
    KpagecountRead,
    /// <summary>
    /// fs/proc/page.c /proc/kpagecgroup (CONFIG_MEMCG): mm/memcontrol.c page_cgroup_ino() reads
    /// folio_memcg_check(page_folio(page)), the page itself even on 7.x, where kpagecount and kpageflags read a copy.
    /// </summary>
    KpagecgroupRead,
    /// <summary>arch/x86/mm/init_64.c arch_remove_memory() before feee6b298916: page_zone() of the first struct page removed.</summary>
    ArchRemoveMemory,
    /// <summary>
    /// drivers/virtio/virtio_mem.c virtio_mem_online_page(): onlining a page of a virtio-mem memory block; for an unplugged
    /// sub-block virtio_mem_set_fake_offline() takes page_offline_begin(), an rwsem that may sleep. Fails by its context, not a struct page.
    /// </summary>
    VirtioMemOnlinePage,
    /// <summary>
    /// mm/sparse-vmemmap.c depopulate_section_memmap() between 15995a352474 and 9d8573111024: page_pgdat(pfn_to_page(pfn))
    /// of the first pfn of each non-early section chunk section_deactivate() removes (page_to_nid(), PF_POISONED_CHECK).
    /// </summary>
    DepopulateSectionMemmap,
}

/// <summary>How the kernel reports a reader's failure: on a struct page poisoned with 0xff (CONFIG_DEBUG_VM), or in a context it may not sleep in.</summary>
public enum ReaderFailureKind
{
    /// <summary>PF_POISONED_CHECK -> VM_BUG_ON_PAGE(PagePoisoned(p)) (CONFIG_DEBUG_VM_PGFLAGS): "kernel BUG in FUNCTION".</summary>
    PoisonCheck,
    /// <summary>A pointer taken from the poisoned page (compound_head 0xff..fe) faults: "BUG: unable to handle kernel paging request in FUNCTION".</summary>
    PagingRequest,
    /// <summary>A pointer taken from the poisoned page wraps to a small address: "BUG: unable to handle kernel NULL pointer dereference in FUNCTION".</summary>
    NullPointer,
    /// <summary>might_sleep() in atomic context (CONFIG_DEBUG_ATOMIC_SLEEP): "BUG: sleeping function called from invalid context in FUNCTION".</summary>
    SleepingInAtomic,
    /// <summary>
    /// No failure: the line's reader decodes a copy of the struct page (7.x snapshot_page()), not the page, so a
    /// poisoned page reads as garbage and nothing oopses.
    /// </summary>
    ReadsCopy,
}

/// <summary>
/// How one reader fails on one kernel line: the failure, the function the oops names (the compiler may inline the
/// reader into its caller) and where that fact comes from (an observed console, a NOTES.md line, an assumption).
/// </summary>
public sealed record ReaderFailure(ReaderFailureKind Fails, string Function, string Source)
{
    /// <summary>The title the harness's scanner gives such an oops; null when the reader does not fail.</summary>
    public string? Title => Fails switch
    {
        ReaderFailureKind.ReadsCopy => null,
        ReaderFailureKind.PoisonCheck => $"kernel BUG in {Function}",
        ReaderFailureKind.PagingRequest => $"BUG: unable to handle kernel paging request in {Function}",
        ReaderFailureKind.SleepingInAtomic => $"BUG: sleeping function called from invalid context in {Function}",
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

    /// <summary>CONFIG_DEBUG_ATOMIC_SLEEP: might_sleep() in atomic context prints "BUG: sleeping function called from invalid context".</summary>
    public bool DebugAtomicSleep { get; init; }

    /// <summary>CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE: hot-added memory is onlined when no memhp_default_state= says otherwise.</summary>
    public bool DefaultOnline { get; init; }

    /// <summary>The model on a kernel built with <paramref name="config"/> (the config lines beyond hotplug.config): the debug options it has.</summary>
    public CaseModel OnKernelConfig(IReadOnlyList<string> config) => this with
    {
        DebugVm = config.Contains("CONFIG_DEBUG_VM=y"),
        DebugVmPgflags = config.Contains("CONFIG_DEBUG_VM_PGFLAGS=y"),
        DebugAtomicSleep = config.Contains("CONFIG_DEBUG_ATOMIC_SLEEP=y"),
        DefaultOnline = config.Contains("CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE=y"),
    };

    /// <summary>The checks a kernel of <paramref name="variant"/> has: all, or all but the fix's.</summary>
    public IReadOnlySet<KernelCheck> Checks(KernelVariant variant) =>
        Enum.GetValues<KernelCheck>().Where(c => variant == KernelVariant.Patched || c != Fix).ToHashSet();

    /// <summary>How <paramref name="reader"/> fails on kernel line <paramref name="line"/>; null when the case does not say.</summary>
    public ReaderFailure? Failure(MemmapReader reader, string line) =>
        Readers.TryGetValue(reader, out var lines) && lines.TryGetValue(line, out var f) ? f : null;
}
