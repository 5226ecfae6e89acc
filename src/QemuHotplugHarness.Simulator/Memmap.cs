namespace QemuHotplugHarness.Simulator;

/// <summary>What a struct page holds: never written, 0xff poison (CONFIG_DEBUG_VM), or initialised for a zone.</summary>
public enum StructPageState { Uninitialised, Poisoned, Initialised }

/// <summary>
/// The zone an initialised struct page names: a boot zone (DMA32/Normal; hot-added memory onlined "online" or
/// "online_kernel" joins ZONE_NORMAL), ZONE_DEVICE, or ZONE_MOVABLE ("online_movable").
/// </summary>
public enum PageZone { None, Boot, Device, Movable }

/// <summary>A run of pfns whose struct pages are in one state.</summary>
public readonly record struct PfnRun(ulong Start, ulong End, StructPageState State, PageZone Zone);

/// <summary>
/// The content of the memmap (the struct pages themselves, not the vmemmap pages that hold them) as runs of pfns.
/// Pfns outside every run are <see cref="StructPageState.Uninitialised"/>. Runs stay few: a boot run per RAM range, a
/// few per namespace.
/// </summary>
public sealed class Memmap
{
    private readonly List<PfnRun> _runs = [];

    public void Set(ulong start, ulong end, StructPageState state, PageZone zone)
    {
        if (end <= start) return;
        var kept = new List<PfnRun>(_runs.Count + 2);
        foreach (var r in _runs)
        {
            if (r.End <= start || r.Start >= end) { kept.Add(r); continue; }
            if (r.Start < start) kept.Add(r with { End = start });
            if (r.End > end) kept.Add(r with { Start = end });
        }
        kept.Add(new PfnRun(start, end, state, zone));
        kept.Sort((a, b) => a.Start.CompareTo(b.Start));
        _runs.Clear();
        _runs.AddRange(kept);
    }

    public PfnRun At(ulong pfn)
    {
        foreach (var r in _runs)
            if (r.Start <= pfn && pfn < r.End) return r;
        return new PfnRun(pfn, pfn + 1, StructPageState.Uninitialised, PageZone.None);
    }

    /// <summary>
    /// What a reader would meet in [start, end): poisoned if any struct page is, else uninitialised if any is, else
    /// initialised (with the zone of the first page).
    /// </summary>
    public (StructPageState State, PageZone Zone) Worst(ulong start, ulong end)
    {
        var pages = Boundaries(start, end).Append(start).Select(At).ToList();
        foreach (var state in new[] { StructPageState.Poisoned, StructPageState.Uninitialised })
            if (pages.Any(p => p.State == state)) return (state, PageZone.None);
        return (StructPageState.Initialised, At(start).Zone);
    }

    /// <summary>Whether one run ends or begins in (start, end).</summary>
    public bool HasBoundary(ulong start, ulong end)
    {
        foreach (var r in _runs)
            if (r.Start > start && r.Start < end || r.End > start && r.End < end) return true;
        return false;
    }

    /// <summary>Every pfn in (start, end) where one run ends and the next begins.</summary>
    public IEnumerable<ulong> Boundaries(ulong start, ulong end)
    {
        foreach (var r in _runs)
        {
            if (r.Start > start && r.Start < end) yield return r.Start;
            if (r.End > start && r.End < end) yield return r.End;
        }
    }

    /// <summary>"0x144000-0x144001 poisoned, 0x144002-0x144fff initialised (device)" over [start, end).</summary>
    public string Describe(ulong start, ulong end)
    {
        var cuts = Boundaries(start, end).Append(start).Append(end).Distinct().Order().ToList();
        var segments = new List<(ulong Start, ulong End, string What)>();
        for (var i = 0; i + 1 < cuts.Count; i++)
        {
            var r = At(cuts[i]);
            var what = r.State == StructPageState.Initialised ? $"initialised ({r.Zone.ToString().ToLowerInvariant()})" : r.State.ToString().ToLowerInvariant();
            if (segments.Count > 0 && segments[^1].What == what) segments[^1] = (segments[^1].Start, cuts[i + 1], what);
            else segments.Add((cuts[i], cuts[i + 1], what));
        }
        return string.Join(", ", segments.Select(x => $"{Scenarios.Hex.Format(x.Start)}-{Scenarios.Hex.Format(x.End - 1)} {x.What}"));
    }
}
