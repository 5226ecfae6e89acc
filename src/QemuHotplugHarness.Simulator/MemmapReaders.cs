using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;

namespace QemuHotplugHarness.Simulator;

/// <summary>A reader met a struct page it cannot read: the oops the kernel reports, and why.</summary>
/// <remarks><see cref="Pfn"/>: the pfn whose struct page was read; null when the failure is the reader's context, not a page.</remarks>
public sealed record MemmapOops(MemmapReader Reader, ulong? Pfn, string Function, string? Title, string Why, string Source);

/// <summary>The kernel functions the cases reach and the struct page each reads (the readers of <see cref="Memmap"/>).</summary>
public static class MemmapReaders
{
    /// <summary>The function an oops names when the case gives no fact for the line (the reader's own name).</summary>
    public static string DefaultFunction(MemmapReader reader) => reader switch
    {
        MemmapReader.PageunmapRange => "pageunmap_range",
        MemmapReader.PageblockPfnToPage => "page_zone",
        MemmapReader.KpagecountRead => "kpagecount_read",
        MemmapReader.KpagecgroupRead => "page_cgroup_ino",
        MemmapReader.ArchRemoveMemory => "arch_remove_memory",
        MemmapReader.VirtioMemOnlinePage => "virtio_mem_set_fake_offline",
        MemmapReader.DepopulateSectionMemmap => "depopulate_section_memmap",
        _ => "stable_page_flags",
    };

    /// <summary>
    /// The oops when <paramref name="reader"/> reads the struct page of <paramref name="pfn"/>, or null when it reads
    /// an initialised one. An unmapped vmemmap page faults in any reader; a poisoned page fails as the line's fact says.
    /// </summary>
    public static MemmapOops? Read(MemmapBookkeeping kernel, MemmapReader reader, ulong pfn)
    {
        if (kernel.Sparse.FirstUnmappedPfn(pfn, pfn + 1) is not null)
            return new MemmapOops(reader, pfn, DefaultFunction(reader),
                $"BUG: unable to handle kernel paging request in {DefaultFunction(reader)}",
                $"the vmemmap page holding the struct page of pfn {Scenarios.Hex.Format(pfn)} is not mapped", "the model (vmemmap)");
        var page = kernel.Memmap.At(pfn);
        if (page.State == StructPageState.Initialised) return null;
        var failure = kernel.Model.Failure(reader, kernel.Line);
        if (failure?.Fails == ReaderFailureKind.ReadsCopy) return null;
        var state = page.State == StructPageState.Poisoned ? "poisoned (0xff, CONFIG_DEBUG_VM)" : "never initialised";
        return new MemmapOops(reader, pfn, failure?.Function ?? DefaultFunction(reader), failure?.Title,
            $"{DefaultFunction(reader)} reads the struct page of pfn {Scenarios.Hex.Format(pfn)}, {state}" +
            (failure is null ? $" (how line {kernel.Line} reports it is not in the case's model)" : $": {failure.Fails.Kebab()} in {failure.Function}"),
            failure?.Source ?? "none");
    }

    /// <summary>
    /// <paramref name="reader"/> calls a function that may sleep while it may not (under rcu_read_lock()): the splat
    /// CONFIG_DEBUG_ATOMIC_SLEEP prints, reported as the line's fact says.
    /// </summary>
    public static MemmapOops InAtomic(MemmapBookkeeping kernel, MemmapReader reader, string why)
    {
        var failure = kernel.Model.Failure(reader, kernel.Line);
        var function = failure?.Function ?? DefaultFunction(reader);
        return new MemmapOops(reader, null, function, failure?.Title ?? $"BUG: sleeping function called from invalid context in {function}",
            why + (failure is null ? $" (how line {kernel.Line} reports it is not in the case's model)" : ""), failure?.Source ?? "none");
    }
}
