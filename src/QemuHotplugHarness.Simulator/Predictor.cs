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

    public static Prediction Predict(Scenario scenario) => Predict(scenario, null);

    /// <summary>A case's scenario: its own workload runs on the memmap bookkeeping with the checks <paramref name="model"/> gives each variant.</summary>
    public static Prediction Predict(Scenario scenario, Scenarios.Cases.CaseModel? model, PredictionDetail detail = PredictionDetail.Full)
    {
        var qemu = QemuModel.Plan(scenario);
        var sparse = BootSparsemem(scenario, qemu);
        var shared = SharedSection(sparse, qemu);
        var explanation = new EventLog(detail);
        explanation.Add($"{QemuExplanation(scenario, qemu)}");
        var prediction = new Prediction
        {
            Outcome = Outcome.Clean,
            Layout = Layout(qemu, shared),
            StructPageSize = scenario.Kernel.StructPageSize,
            VmemmapBase = sparse.VmemmapBase,
            VmemmapPageSize = new ByteSize(scenario.Cpu.Pse ? 2 * MiB : 4 * KiB),
        };
        if (qemu.Rejection is not null)
        {
            explanation.Add($"QEMU refuses to start: {qemu.Rejection}");
            return prediction with { Outcome = Outcome.Rejected, Rejection = qemu.Rejection, Explanation = explanation };
        }
        var region = qemu.Nvdimm!.Value;
        var custom = scenario.Workload.IsCustom && model is not null;
        var ndctl = !custom || CaseWorkload.UsesNvdimm(scenario.Workload);
        var (devices, deviceRejection) = MemoryDevicePlacement.Boot(scenario, qemu);
        if (deviceRejection is not null)
        {
            explanation.Add($"QEMU refuses to start: {deviceRejection}");
            return prediction with { Outcome = Outcome.Rejected, Rejection = deviceRejection, Explanation = explanation };
        }
        if (ConflictingRamBuffer(qemu) is { } buffer)
        {
            var nfit = $"nfit: failed to insert pmem resource to iomem: -16 (the RAM buffer {buffer} after the end of RAM overlaps the start of the NVDIMM {region} without lying inside it): no Persistent Memory, no region for ndctl";
            explanation.Add(nfit);
            if (ndctl)
                return prediction with
                {
                    Outcome = Outcome.WorkloadFailed, WorkloadError = nfit, Explanation = explanation, Layout = Layout(qemu, shared, pmemInserted: false),
                    Iterations = [new IterationPrediction { Index = 1, Outcome = Outcome.WorkloadFailed, Events = [nfit] }],
                };
            prediction = prediction with { Layout = Layout(qemu, shared, pmemInserted: false) };
        }
        explanation.Add($"NVDIMM region {region} ({region.Length / MiB} MiB after {scenario.Nvdimm.LabelSize} of labels, aligned down to 2 MiB)");
        explanation.Add($"{(shared is null
            ? "The NVDIMM shares no 128 MiB section with boot RAM: every section it uses is not early, so its memmap is populated and depopulated consistently."
            : $"The NVDIMM starts in {shared}, which holds boot RAM: an early section whose memmap was populated once at boot.")}");
        if (devices.Count > 1) explanation.Add($"Memory devices: {string.Join(", ", devices.Skip(1).Select(d => $"{d.Kind.Kebab()} {d.Id} at {d.Range}"))}");
        var placed = custom && CaseWorkload.FirstNamespaceSize(scenario.Workload) is { } first ? scenario.WithNamespaceSize(first) : scenario;
        if (ndctl && WorkloadError(placed, qemu, region) is { } error)
        {
            explanation.Add(error);
            return prediction with
            {
                Outcome = Outcome.WorkloadFailed, WorkloadError = error, Explanation = explanation,
                Iterations = [new IterationPrediction { Index = 1, Outcome = Outcome.WorkloadFailed, Events = [error] }],
            };
        }
        // Every case's kernel has the seed's fix (ef69bc9f68de): section_deactivate() keeps an early section's memmap.
        return custom
            ? CaseWorkload.Run(scenario, model!, new CaseWorkload.Machine(BootSparsemem(scenario.WithKernel(KernelVariant.Patched), qemu), BootRam(qemu), region, qemu, devices),
                prediction, explanation, detail)
            : Reconfigure(scenario, sparse, region, shared, prediction, explanation, detail);
    }

    private static IReadOnlyList<AddressRange> BootRam(QemuLayout qemu) =>
        qemu.RamAbove4G.IsEmpty ? [qemu.RamBelow4G] : [qemu.RamBelow4G, qemu.RamAbove4G];

    /// <summary>The /proc/iomem view and the device-memory window QEMU gives the guest.</summary>
    private static PredictedLayout Layout(QemuLayout qemu, string? shared, bool pmemInserted = true)
    {
        var iomem = new List<string>();
        if (!qemu.RamAbove4G.IsEmpty) iomem.Add($"{qemu.RamAbove4G.ToIomem()} : System RAM");
        var pmem = pmemInserted ? qemu.Nvdimm : null;
        if (pmem is { } nv) iomem.Add($"{nv.ToIomem()} : Persistent Memory");
        return new PredictedLayout
        {
            SystemRamAbove4G = qemu.RamAbove4G.IsEmpty ? null : qemu.RamAbove4G,
            PersistentMemory = pmem,
            DeviceMemoryBase = qemu.DeviceMemoryBase,
            DeviceMemorySize = qemu.DeviceMemorySize == 0 ? null : qemu.DeviceMemorySize,
            Iomem = iomem,
            SharedSection = shared,
        };
    }

    /// <summary>Sparsemem as boot leaves it: the sections holding boot RAM are early, their memmap populated.</summary>
    private static Sparsemem BootSparsemem(Scenario scenario, QemuLayout qemu)
    {
        var kernel = scenario.Kernel;
        var bootRam = new List<AddressRange> { qemu.RamBelow4G };
        if (!qemu.RamAbove4G.IsEmpty) bootRam.Add(qemu.RamAbove4G);
        return new Sparsemem(bootRam, kernel.Variant, scenario.Cpu.Pse, kernel.StructPageSize, kernel.VmemmapBase ?? KernelSpec.VmemmapBase4Level);
    }

    /// <summary>"section N: range" when the NVDIMM starts in an early section (one shared with boot RAM).</summary>
    private static string? SharedSection(Sparsemem sparse, QemuLayout qemu)
    {
        if (qemu.Nvdimm is not { } nvdimm) return null;
        var section = sparse.Section(Sparsemem.SectionOf(nvdimm.Start));
        return section.Early ? $"section {section.Number}: {section.Range}" : null;
    }

    private static string QemuExplanation(Scenario scenario, QemuLayout qemu) =>
        $"QEMU ({scenario.Qemu.ToString().ToLowerInvariant()}): RAM below 4G {qemu.RamBelow4G}, above 4G {(qemu.RamAbove4G.IsEmpty ? "none" : qemu.RamAbove4G.ToString())}; device memory at {Hex(qemu.DeviceMemoryBase)}" +
        (scenario.Qemu == QemuFlavour.Stock ? " (rounded up to 1 GiB)" : " (not rounded: patched QEMU)");

    /// <summary>e820__reserve_resources_late: the "RAM buffer" from the end of RAM up to the next 64 MiB (empty when RAM ends on one).</summary>
    public static AddressRange RamBuffer(QemuLayout qemu)
    {
        var ramEnd = qemu.RamAbove4G.IsEmpty ? qemu.RamBelow4G.End : qemu.RamAbove4G.End;
        return new AddressRange(ramEnd, AlignUp(ramEnd, RamBufferAlignment));
    }

    /// <summary>
    /// acpi_nfit_insert_resource → insert_resource: a RAM buffer that overlaps the NVDIMM without lying inside it
    /// conflicts (the NVDIMM starts inside the buffer), so nfit's probe fails with -EBUSY and the guest has no
    /// Persistent Memory at all. A buffer inside the NVDIMM becomes its child instead (see <see cref="WorkloadError"/>).
    /// </summary>
    private static AddressRange? ConflictingRamBuffer(QemuLayout qemu)
    {
        var buffer = RamBuffer(qemu);
        return qemu.Nvdimm is { } nv && !buffer.IsEmpty && buffer.Overlaps(nv) && !nv.Contains(buffer) ? buffer : null;
    }

    /// <summary>Why ndctl fails before any reconfiguration: the RAM buffer claims the region, or the namespace does not fit.</summary>
    private static string? WorkloadError(Scenario scenario, QemuLayout qemu, AddressRange region)
    {
        // e820: the RAM buffer after the end of RAM, a child of the pmem resource, makes the namespace's range unclaimable.
        var ramBuffer = RamBuffer(qemu);
        if (!ramBuffer.IsEmpty && ramBuffer.Overlaps(region))
            return $"nd_pmem namespace0.0: could not reserve region (the RAM buffer {ramBuffer} after the end of RAM overlaps the NVDIMM)";
        var size = scenario.Workload.NamespaceSize;
        if (size.Bytes % RegionAlignment != 0)
            return $"ndctl create-namespace: --size={size} is not a multiple of the region's 16M alignment";
        if (size.Bytes > region.Length)
            return $"ndctl create-namespace: --size={size} exceeds the region's {region.Length / MiB}M";
        return null;
    }

    /// <summary>Where a namespace lands: nd_pfn_init with --map=dev puts an info block and 64 bytes per page of memmap before data aligned to 2 MiB.</summary>
    private sealed record NamespacePlacement(AddressRange Namespace, AddressRange Head, AddressRange Data, ulong FirstInitPfn, ulong AltmapReserve)
    {
        public static NamespacePlacement In(AddressRange region, ulong size)
        {
            var ns = AddressRange.FromLength(region.Start, size);
            var npfns = (size - InfoBlockReserve) / Page;
            var offset = AlignUp(ns.Start + InfoBlockReserve + MaxStructPageSize * npfns, PfnAlignment) - ns.Start;
            var altmapReserve = InfoBlockReserve / Page + (ns.Start / Page - AlignDown(ns.Start, Sparsemem.SubsectionSize) / Page);
            return new(ns, new AddressRange(ns.Start, ns.Start + offset), new AddressRange(ns.Start + offset, ns.End), ns.Start / Page + altmapReserve, altmapReserve);
        }

        public ulong EndPfn => Namespace.End / Page;
    }

    /// <summary>The reconfiguration loop: remove the old namespace (after the first), add the new one, initialise its struct pages.</summary>
    private static Prediction Reconfigure(Scenario scenario, Sparsemem sparse, AddressRange region, string? shared, Prediction prediction, EventLog explanation, PredictionDetail detail)
    {
        var w = scenario.Workload;
        var place = NamespacePlacement.In(region, w.NamespaceSize.Bytes);
        var device = w.Mode == NamespaceMode.Devdax ? "dax0.0" : "pmem0";
        explanation.Add($"Each reconfiguration: namespace0.0 {place.Head.ToIomem()} (info block + memmap reserve), {device} {place.Data.ToIomem()}; memremap_pages adds {place.Namespace} and initialises struct pages from pfn {Hex(place.FirstInitPfn)} (after the {place.AltmapReserve}-page altmap reserve).");
        var iterations = new List<IterationPrediction>();
        for (var i = 1; i <= w.Iterations; i++)
        {
            var events = new EventLog(detail);
            if (i > 1)
            {
                events.Add($"remove {place.Namespace} (old {device})");
                sparse.RemovePages(place.Namespace, events);
            }
            events.Add($"add {place.Namespace}");
            sparse.AddPages(place.Namespace, events);
            var iteration = new IterationPrediction { Index = i, Namespace = place.Head, Dax = place.Data, Events = events, Outcome = Outcome.Clean, SharedSection = detail == PredictionDetail.Full ? Snapshot(sparse, region) : [] };
            if (sparse.FirstUnmappedPfn(place.FirstInitPfn, place.EndPfn) is { } pfn)
            {
                iterations.Add(iteration with { Outcome = Outcome.Oops });
                return Oops(sparse, place, pfn, i, prediction with { Iterations = iterations, Explanation = explanation }, events);
            }
            events.Add($"memmap_init of pfns {Hex(place.FirstInitPfn)}-{Hex(place.EndPfn - 1)}: every vmemmap page mapped");
            iterations.Add(iteration);
        }
        explanation.Add($"All {w.Iterations} iteration(s) clean: {CleanReason(scenario, shared)}");
        return prediction with { Iterations = iterations, Explanation = explanation };
    }

    /// <summary>memmap_init touches the struct page of <paramref name="pfn"/>, whose vmemmap page is gone: the oops.</summary>
    private static Prediction Oops(Sparsemem sparse, NamespacePlacement place, ulong pfn, int iteration, Prediction prediction, EventLog events)
    {
        var address = sparse.StructPageAddress(pfn);
        var unmapped = sparse.UnmappedVmemmap(place.FirstInitPfn, place.EndPfn).First(r => r.Contains(AlignDown(address, sparse.VmemmapPageSize)) || r.Contains(address));
        events.Add($"memmap_init touches struct page of pfn {Hex(pfn)} at {Hex(address)}: its vmemmap page is not mapped -> BUG: unable to handle page fault");
        var explanation = prediction.Explanation.Append($"Iteration {iteration}: oops at pfn {Hex(pfn)} (vmemmap {unmapped} unmapped).").ToList();
        return prediction with
        {
            Outcome = Outcome.Oops, OopsIteration = iteration, FirstFaultPfn = pfn,
            FirstFaultAddress = address, FaultAddressRange = unmapped, Explanation = explanation,
        };
    }

    private static string CleanReason(Scenario scenario, string? shared) =>
        scenario.Kernel.Variant == KernelVariant.Patched
            ? "the patched section_deactivate() never depopulates an early section's memmap."
            : shared is null ? "no early section is involved."
            : scenario.Cpu.Pse ? "with PSE the vmemmap uses 2 MiB pages; a partial depopulate only poisons struct pages with 0xFD and frees nothing."
            : "nothing freed was touched again.";

    internal static IReadOnlyList<SubsectionSnapshot> Snapshot(Sparsemem sparse, AddressRange region)
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
