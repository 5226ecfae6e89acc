using QemuHotplugHarness.Scenarios;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>
/// Predicts a run from first principles: QEMU's layout, the guest's e820 and libnvdimm placement, then
/// sparsemem and vmemmap through every reconfiguration. Pure and deterministic.
/// </summary>
public static class Predictor
{
    /// <summary>e820__reserve_resources_late: RAM is followed by a "RAM buffer" up to the next 64 MiB.</summary>
    public const ulong RamBufferAlignment = 64 * MiB;
    /// <summary>The region's default namespace alignment (MEMREMAP_COMPAT_ALIGN_MAX).</summary>
    public const ulong RegionAlignment = 16 * MiB;
    /// <summary>nd_info_block_reserve(): 8 KiB in front of a pfn/dax namespace, the altmap reserve.</summary>
    public const ulong InfoBlockReserve = 8 * KiB;
    /// <summary>MAX_STRUCT_PAGE_SIZE: libnvdimm reserves 64 bytes per page on the device, whatever the kernel's struct page.</summary>
    public const ulong MaxStructPageSize = 64;
    /// <summary>Devdax/fsdax data alignment (the pfn device's default align on x86: PMD size).</summary>
    public const ulong PfnAlignment = 2 * MiB;

    public static Prediction Predict(Scenario scenario)
    {
        var qemu = QemuModel.Plan(scenario);
        var kernel = scenario.Kernel;
        var vmemmapBase = kernel.VmemmapBase ?? KernelSpec.VmemmapBase4Level;
        var ramEnd = qemu.RamAbove4G.IsEmpty ? qemu.RamBelow4G.End : qemu.RamAbove4G.End;
        var explanation = new List<string>();

        var iomem = new List<string>();
        if (!qemu.RamAbove4G.IsEmpty) iomem.Add($"{qemu.RamAbove4G.ToIomem()} : System RAM");
        if (qemu.Nvdimm is { } nv) iomem.Add($"{nv.ToIomem()} : Persistent Memory");

        var bootRam = new List<AddressRange> { qemu.RamBelow4G };
        if (!qemu.RamAbove4G.IsEmpty) bootRam.Add(qemu.RamAbove4G);
        var sparse = new Sparsemem(bootRam, kernel.Variant, scenario.Cpu.Pse, kernel.StructPageSize, vmemmapBase);

        string? shared = null;
        if (qemu.Nvdimm is { } nvd)
        {
            var section = sparse.Section(Sparsemem.SectionOf(nvd.Start));
            if (section.Early) shared = $"section {section.Number}: {section.Range}";
        }

        var layout = new PredictedLayout
        {
            SystemRamAbove4G = qemu.RamAbove4G.IsEmpty ? null : qemu.RamAbove4G,
            PersistentMemory = qemu.Nvdimm,
            DeviceMemoryBase = qemu.DeviceMemoryBase,
            DeviceMemorySize = qemu.DeviceMemorySize == 0 ? null : qemu.DeviceMemorySize,
            Iomem = iomem,
            SharedSection = shared,
        };
        var prediction = new Prediction
        {
            Outcome = Outcome.Clean,
            Layout = layout,
            StructPageSize = kernel.StructPageSize,
            VmemmapBase = vmemmapBase,
            VmemmapPageSize = new ByteSize(scenario.Cpu.Pse ? 2 * MiB : 4 * KiB),
        };

        explanation.Add($"QEMU ({scenario.Qemu.ToString().ToLowerInvariant()}): RAM below 4G {qemu.RamBelow4G}, above 4G {(qemu.RamAbove4G.IsEmpty ? "none" : qemu.RamAbove4G.ToString())}; device memory at {Hex(qemu.DeviceMemoryBase)}" +
                        (scenario.Qemu == QemuFlavour.Stock ? " (rounded up to 1 GiB)" : " (not rounded: patched QEMU)"));
        if (qemu.Rejection is not null)
        {
            explanation.Add($"QEMU refuses to start: {qemu.Rejection}");
            return prediction with { Outcome = Outcome.Rejected, Rejection = qemu.Rejection, Explanation = explanation };
        }

        var region = qemu.Nvdimm!.Value;
        explanation.Add($"NVDIMM region {region} ({region.Length / MiB} MiB after {scenario.Nvdimm.LabelSize} of labels, aligned down to 2 MiB)");
        explanation.Add(shared is null
            ? "The NVDIMM shares no 128 MiB section with boot RAM: every section it uses is not early, so its memmap is populated and depopulated consistently."
            : $"The NVDIMM starts in {shared}, which holds boot RAM: an early section whose memmap was populated once at boot.");

        // The RAM buffer after the end of RAM makes the pmem resource unclaimable.
        var ramBuffer = new AddressRange(ramEnd, AlignUp(ramEnd, RamBufferAlignment));
        if (!ramBuffer.IsEmpty && ramBuffer.Overlaps(region))
        {
            var error = $"nd_pmem namespace0.0: could not reserve region (the RAM buffer {ramBuffer} after the end of RAM overlaps the NVDIMM)";
            explanation.Add(error);
            return prediction with
            {
                Outcome = Outcome.WorkloadFailed, WorkloadError = error, Explanation = explanation,
                Iterations = [new IterationPrediction { Index = 1, Outcome = Outcome.WorkloadFailed, Events = [error] }],
            };
        }

        var w = scenario.Workload;
        var nsSize = w.NamespaceSize.Bytes;
        string? workloadError = null;
        if (nsSize % RegionAlignment != 0)
            workloadError = $"ndctl create-namespace: --size={w.NamespaceSize} is not a multiple of the region's 16M alignment";
        else if (nsSize > region.Length)
            workloadError = $"ndctl create-namespace: --size={w.NamespaceSize} exceeds the region's {region.Length / MiB}M";
        if (workloadError is not null)
        {
            explanation.Add(workloadError);
            return prediction with
            {
                Outcome = Outcome.WorkloadFailed, WorkloadError = workloadError, Explanation = explanation,
                Iterations = [new IterationPrediction { Index = 1, Outcome = Outcome.WorkloadFailed, Events = [workloadError] }],
            };
        }

        // nd_pfn_init with --map=dev: info block, then 64 bytes per page of memmap on the device, data aligned to 2 MiB.
        var ns = AddressRange.FromLength(region.Start, nsSize);
        var npfns = (nsSize - InfoBlockReserve) / Page;
        var offset = AlignUp(ns.Start + InfoBlockReserve + MaxStructPageSize * npfns, PfnAlignment) - ns.Start;
        var head = new AddressRange(ns.Start, ns.Start + offset);
        var data = new AddressRange(ns.Start + offset, ns.End);
        var altmapReserve = InfoBlockReserve / Page + (ns.Start / Page - AlignDown(ns.Start, Sparsemem.SubsectionSize) / Page);
        var initFrom = ns.Start / Page + altmapReserve;
        explanation.Add($"Each reconfiguration: namespace0.0 {head.ToIomem()} (info block + memmap reserve), {(w.Mode == NamespaceMode.Devdax ? "dax0.0" : "pmem0")} {data.ToIomem()}; memremap_pages adds {ns} and initialises struct pages from pfn {Hex(initFrom)} (after the {altmapReserve}-page altmap reserve).");

        var iterations = new List<IterationPrediction>();
        for (var i = 1; i <= w.Iterations; i++)
        {
            var events = new List<string>();
            if (i > 1)
            {
                events.Add($"remove {ns} (old {(w.Mode == NamespaceMode.Devdax ? "dax0.0" : "pmem0")})");
                sparse.RemovePages(ns, events);
            }
            events.Add($"add {ns}");
            sparse.AddPages(ns, events);
            var faultPfn = sparse.FirstUnmappedPfn(initFrom, ns.End / Page);
            var outcome = faultPfn is null ? Outcome.Clean : Outcome.Oops;
            var snapshot = Snapshot(sparse, region);
            if (faultPfn is { } pfn)
            {
                var address = sparse.StructPageAddress(pfn);
                var unmapped = sparse.UnmappedVmemmap(initFrom, ns.End / Page).First(r => r.Contains(AlignDown(address, sparse.VmemmapPageSize)) || r.Contains(address));
                events.Add($"memmap_init touches struct page of pfn {Hex(pfn)} at {Hex(address)}: its vmemmap page is not mapped -> BUG: unable to handle page fault");
                iterations.Add(new IterationPrediction { Index = i, Namespace = head, Dax = data, Events = events, Outcome = outcome, SharedSection = snapshot });
                explanation.Add($"Iteration {i}: oops at pfn {Hex(pfn)} (vmemmap {unmapped} unmapped).");
                return prediction with
                {
                    Outcome = Outcome.Oops, Iterations = iterations, OopsIteration = i, FirstFaultPfn = pfn,
                    FirstFaultAddress = address, FaultAddressRange = unmapped, Explanation = explanation,
                };
            }
            events.Add($"memmap_init of pfns {Hex(initFrom)}-{Hex(ns.End / Page - 1)}: every vmemmap page mapped");
            iterations.Add(new IterationPrediction { Index = i, Namespace = head, Dax = data, Events = events, Outcome = outcome, SharedSection = snapshot });
        }
        explanation.Add($"All {w.Iterations} iteration(s) clean: " + (scenario.Kernel.Variant == KernelVariant.Patched
            ? "the patched section_deactivate() never depopulates an early section's memmap."
            : shared is null ? "no early section is involved."
            : scenario.Cpu.Pse ? "with PSE the vmemmap uses 2 MiB pages; a partial depopulate only poisons struct pages with 0xFD and frees nothing."
            : "nothing freed was touched again."));
        return prediction with { Iterations = iterations, Explanation = explanation };
    }

    private static IReadOnlyList<SubsectionSnapshot> Snapshot(Sparsemem sparse, AddressRange region)
    {
        var section = sparse.Section(Sparsemem.SectionOf(region.Start));
        if (!section.Early) return [];
        var list = new List<SubsectionSnapshot>(Sparsemem.SubsectionsPerSection);
        for (var k = 0; k < Sparsemem.SubsectionsPerSection; k++)
        {
            var bit = 1UL << k;
            var range = AddressRange.FromLength(section.Range.Start + (ulong)k * Sparsemem.SubsectionSize, Sparsemem.SubsectionSize);
            var owner = (section.BootSubsectionMap & bit) != 0 ? SubsectionOwner.BootRam
                : (section.SubsectionMap & bit) != 0 ? SubsectionOwner.Device
                : region.Overlaps(range) ? SubsectionOwner.NvdimmIdle : SubsectionOwner.Absent;
            var memmap = sparse.MemmapOf(range);
            var states = new HashSet<VmemmapPageState>();
            for (var p = memmap.Start / sparse.VmemmapPageSize; p * sparse.VmemmapPageSize < memmap.End; p++) states.Add(sparse.PageState(p));
            var vm = states.Contains(VmemmapPageState.Freed) ? VmemmapPageState.Freed
                : states.Contains(VmemmapPageState.Poisoned) ? VmemmapPageState.Poisoned
                : states.Contains(VmemmapPageState.Unmapped) ? VmemmapPageState.Unmapped : VmemmapPageState.Mapped;
            list.Add(new SubsectionSnapshot(k, range, owner, vm));
        }
        return list;
    }
}
