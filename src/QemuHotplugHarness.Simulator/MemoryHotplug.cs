using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>A memory block (/sys/devices/system/memory/memoryN) of a device: its online state and the zone it was onlined to.</summary>
public sealed class MemoryBlock(ulong number, string device)
{
    public ulong Number => number;
    public string Device => device;
    public bool Online { get; set; }
    public PageZone Zone { get; set; }
}

/// <summary>A step that ended the workload without an oops: a QMP error or a failed expectation (workload-failed), or a wait that never ends (hung).</summary>
public sealed record StepFailure(Outcome Outcome, string Why);

/// <summary>
/// Memory hotplug on top of the memmap bookkeeping (mm/memory_hotplug.c, drivers/base/memory.c, drivers/acpi/acpi_memhotplug.c,
/// arch/x86/mm/init_64.c of 6.1) and the QEMU objects the host steps change: RAM backends, pc-dimms, virtio-mem devices.
/// Adding memory poisons its memmap (CONFIG_DEBUG_VM) and makes offline memory blocks; onlining initialises the memmap for
/// a zone and marks the sections online; removing reads what the line's remove path reads.
/// </summary>
public sealed class MemoryHotplug
{
    private readonly MemmapBookkeeping _kernel;
    private readonly AddressRange _window;
    private readonly int _slots;
    private readonly List<PlacedDevice> _devices;
    private readonly Dictionary<string, ulong> _backends;
    private readonly Dictionary<string, VirtioMem> _virtio = [];
    private readonly List<MemoryBlock> _blocks = [];
    private readonly HashSet<string> _ejected = [];

    public MemoryHotplug(MemmapBookkeeping kernel, QemuLayout qemu, Scenario s, IReadOnlyList<PlacedDevice> devices, ulong blockSize)
    {
        (_kernel, _window, _slots, BlockSize) = (kernel, MemoryDevicePlacement.Window(qemu), s.Machine.Slots, blockSize);
        _devices = [.. devices];
        _backends = s.Devices.Backends.ToDictionary(b => b.Id, b => b.Size.Bytes);
        _backends["mem0"] = s.Nvdimm.Size.Bytes;
        Policy = OnlinePolicy(s.KernelArgs, kernel.Model) ?? MemoryBlockState.Offline;
    }

    /// <summary>memory_block_size_bytes(): a kernel fact (x86: 128 MiB below 64 GiB of boot memory).</summary>
    public ulong BlockSize { get; }

    /// <summary>mhp_default_online_type: memhp_default_state=, else CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE's.</summary>
    public MemoryBlockState Policy { get; }

    public IReadOnlyList<MemoryBlock> Blocks => _blocks;

    /// <summary>The online type memhp_default_state= gives (null: a word the kernel does not take).</summary>
    public static MemoryBlockState? OnlinePolicy(string? kernelArgs, CaseModel model)
    {
        var arg = (kernelArgs ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(a => a.StartsWith("memhp_default_state=", StringComparison.Ordinal));
        if (arg is null) return model.DefaultOnline ? MemoryBlockState.Online : MemoryBlockState.Offline;
        return HostVocabulary.TryParse<MemoryBlockState>(arg.Split('=', 2)[1], x => x.Name(), out var state) ? state : null;
    }

    /// <summary>x86 probe_memory_block_size(): 128 MiB (MIN_MEMORY_BLOCK_SIZE) below 64 GiB of boot memory, else the largest up to 2 GiB aligned to its end.</summary>
    public static ulong ProbeBlockSize(ulong bootMemoryEnd)
    {
        if (bootMemoryEnd < 64 * GiB) return Sparsemem.SectionSize;
        var size = 2 * GiB;
        while (size > Sparsemem.SectionSize && bootMemoryEnd % size != 0) size >>= 1;
        return size;
    }

    /// <summary>Boot: the ACPI memory driver adds each cold-plugged pc-dimm, the virtio-mem driver plugs what is requested.</summary>
    public MemmapOops? Boot(EventLog events)
    {
        foreach (var d in _devices.Where(d => d.Kind == MemoryDeviceKind.PcDimm).ToList())
            if (AddMemory(d, events) is { } oops) return oops;
        foreach (var d in _devices.Where(d => d.Kind == MemoryDeviceKind.VirtioMem))
        {
            var vm = _virtio[d.Id] = new VirtioMem(d, BlockSize);
            events.Add($"virtio-mem {d.Id} at {d.Range.ToIomem()}: {vm.Mode}, first memory block {vm.NextUnit * vm.Unit / BlockSize}");
            if (d.Requested > 0 && Plug(vm, d.Requested, events) is { } oops) return oops;
        }
        return null;
    }

    /// <summary>acpi_memory_device_add() -> __add_memory(): the range must be whole memory blocks (check_hotplug_memory_range()).</summary>
    private MemmapOops? AddMemory(PlacedDevice dimm, EventLog events)
    {
        var range = dimm.Range;
        if (range.Start % BlockSize != 0 || range.Length % BlockSize != 0)
        {
            events.Add($"add_memory({range.ToIomem()}): Block size [0x{BlockSize:x}] unaligned hotplug range: -EINVAL, no memory blocks for {dimm.Id}");
            return null;
        }
        return AddRange(range, dimm.Id, events);
    }

    /// <summary>add_memory_resource(): arch_add_memory() (sections, memmap poisoned, max_pfn), the memory blocks, then onlining by policy.</summary>
    private MemmapOops? AddRange(AddressRange range, string device, EventLog events)
    {
        _kernel.Sparse.AddPages(range, events);
        var (start, end) = (range.Start / Page, range.End / Page);
        if (_kernel.Model.DebugVm)
        {
            _kernel.Memmap.Set(start, end, StructPageState.Poisoned, PageZone.None);
            events.Add($"sparse_add_section: struct pages of pfns {Pfn(start)}-{Pfn(end - 1)} poisoned");
        }
        _kernel.RaiseMaxPfn(end);
        var blocks = new List<MemoryBlock>();
        for (var b = range.Start / BlockSize; b < range.End / BlockSize; b++) blocks.Add(new MemoryBlock(b, device));
        _blocks.AddRange(blocks);
        events.Add($"memory blocks {Names(blocks)} of {device} added offline; max_pfn {Pfn(_kernel.MaxPfn)}");
        if (Policy == MemoryBlockState.Offline) return null;
        foreach (var block in blocks)
            if (Online(block, Policy, events) is { } oops) return oops;
        return null;
    }

    /// <summary>online_pages(): move_pfn_range_to_zone() initialises the memmap, online_mem_sections(), then the online callback per chunk.</summary>
    private MemmapOops? Online(MemoryBlock block, MemoryBlockState type, EventLog events)
    {
        var zone = type == MemoryBlockState.OnlineMovable ? PageZone.Movable : PageZone.Boot;
        var range = AddressRange.FromLength(block.Number * BlockSize, BlockSize);
        _kernel.Memmap.Set(range.Start / Page, range.End / Page, StructPageState.Initialised, zone);
        for (var section = Sparsemem.SectionOf(range.Start); section * Sparsemem.SectionSize < range.End; section++)
            _kernel.Sparse.Section(section).Online = true;
        (block.Online, block.Zone) = (true, zone);
        events.Add($"online_pages: memory{block.Number} onlined to {(zone == PageZone.Movable ? "ZONE_MOVABLE" : "ZONE_NORMAL")}, its struct pages initialised");
        return _virtio.Values.FirstOrDefault(v => v.Contains(range.Start)) is { } vm ? OnlinePages(vm, range, events) : null;
    }

    /// <summary>
    /// virtio_mem_online_page_cb() per MAX_ORDER chunk: plugged chunks go to generic_online_page(), unplugged ones to
    /// virtio_mem_set_fake_offline() (page_offline_begin(): down_write(), which may sleep). Without 425bec0032f5 that
    /// runs under rcu_read_lock().
    /// </summary>
    private MemmapOops? OnlinePages(VirtioMem vm, AddressRange range, EventLog events)
    {
        var unplugged = new List<ulong>();
        for (var chunk = range.Start; chunk < range.End; chunk += VirtioMem.OnlineChunk)
            if (!vm.IsPlugged(chunk)) unplugged.Add(chunk);
        if (unplugged.Count == 0)
        {
            events.Add($"virtio_mem_online_page: memory{range.Start / BlockSize} wholly plugged, every chunk to generic_online_page()");
            return null;
        }
        var first = unplugged[0] / Page;
        var outside = _kernel.Checks.Contains(KernelCheck.VirtioMemOnlinePageOutsideRcu);
        var why = $"virtio_mem_online_page_cb() {(outside ? "after" : "under")} rcu_read_lock(): the unplugged chunk at pfn {Pfn(first)} " +
                  $"(sub-block {(unplugged[0] - range.Start) / vm.SubBlockSize} of memory{range.Start / BlockSize}) goes to virtio_mem_set_fake_offline() -> page_offline_begin() -> down_write()";
        if (!outside) return MemmapReaders.InAtomic(_kernel, MemmapReader.VirtioMemOnlinePage, why);
        events.Add($"{why}, outside the RCU read side; {unplugged.Count} chunk(s) of 4 MiB fake-offline");
        return null;
    }

    /// <summary>One host step on the QEMU objects and the guest's memory; an oops, a failed step, or null.</summary>
    public (MemmapOops? Oops, StepFailure? Failure) Execute(CaseStep step, EventLog events) => step.Kind switch
    {
        StepKind.AddBackend => (null, AddBackend(step)),
        StepKind.DeleteBackend => (null, DeleteBackend(step)),
        StepKind.AddDimm => HotAdd(step, events),
        StepKind.DeleteDevice => Eject(step, events),
        StepKind.WaitDeviceDeleted => (null, _ejected.Contains(step.Id!) ? null : Hung($"DEVICE_DELETED for {step.Id} never comes: the guest did not eject it")),
        StepKind.ResizeVirtioMem => Resize(step, events),
        StepKind.WaitPluggedSize => (null, WaitSize(step)),
        StepKind.ExpectBlocks => (null, Expect(step, events)),
        StepKind.SetBlocks => SetBlocks(step, events),
        _ => (null, null),
    };

    private StepFailure? AddBackend(CaseStep step) =>
        _backends.TryAdd(step.Id!, step.Value!.Value) ? null : Failed($"attempt to add duplicate property '{step.Id}' to object");

    private StepFailure? DeleteBackend(CaseStep step)
    {
        if (!_backends.ContainsKey(step.Id!)) return Failed($"object '{step.Id}' not found");
        if (_devices.Any(d => d.Backend == step.Id)) return Failed($"object '{step.Id}' is in use, can not be deleted");
        _backends.Remove(step.Id!);
        return null;
    }

    /// <summary>device_add pc-dimm: QEMU places it (a slot, an address), the guest's ACPI memory driver adds it.</summary>
    private (MemmapOops?, StepFailure?) HotAdd(CaseStep step, EventLog events)
    {
        if (_devices.Any(d => d.Id == step.Id)) return (null, Failed($"Duplicate device ID '{step.Id}'"));
        if (!_backends.TryGetValue(step.Backend!, out var size)) return (null, Failed($"Device '{step.Backend}' not found"));
        if (_devices.Any(d => d.Backend == step.Backend)) return (null, Failed($"can't use already busy memdev: {step.Backend}"));
        if (_devices.Count(d => d.Kind != MemoryDeviceKind.VirtioMem) >= _slots) return (null, Failed($"no free slots, {_slots} slot(s) in use"));
        var (range, error) = MemoryDevicePlacement.Place(_window, _devices, step.Address, size, MemoryDevicePlacement.Alignment(MemoryDeviceKind.PcDimm, 0));
        if (error is not null) return (null, Failed(error));
        var dimm = new PlacedDevice(step.Id!, MemoryDeviceKind.PcDimm, range!.Value, step.Backend);
        _devices.Add(dimm);
        events.Add($"QEMU puts pc-dimm {dimm.Id} at {dimm.Range.ToIomem()}; ACPI hot-add");
        return (AddMemory(dimm, events), null);
    }

    /// <summary>
    /// device_del of a pc-dimm: ACPI eject offlines its blocks (only offline or ZONE_MOVABLE ones are modelled: offlining
    /// poisons the memmap again), then __remove_memory() -> arch_remove_memory(); QEMU sends DEVICE_DELETED after.
    /// </summary>
    private (MemmapOops?, StepFailure?) Eject(CaseStep step, EventLog events)
    {
        if (_devices.FirstOrDefault(d => d.Id == step.Id) is not { } dimm) return (null, Failed($"Device '{step.Id}' not found"));
        var blocks = _blocks.Where(b => b.Device == dimm.Id).ToList();
        foreach (var b in blocks.Where(b => b.Online)) Offline(b, events);
        if (blocks.Count > 0)
        {
            if (RemoveMemory(dimm, events) is { } oops) return (oops, null);
            _blocks.RemoveAll(b => b.Device == dimm.Id);
        }
        else events.Add($"ACPI eject of {dimm.Id}: no memory was added for it, nothing to remove");
        _devices.Remove(dimm);
        _ejected.Add(dimm.Id);
        return (null, null);
    }

    /// <summary>offline_pages() -> remove_pfn_range_from_zone(): the struct pages poisoned again, the sections offline.</summary>
    private void Offline(MemoryBlock block, EventLog events)
    {
        var range = AddressRange.FromLength(block.Number * BlockSize, BlockSize);
        if (_kernel.Model.DebugVm) _kernel.Memmap.Set(range.Start / Page, range.End / Page, StructPageState.Poisoned, PageZone.None);
        for (var section = Sparsemem.SectionOf(range.Start); section * Sparsemem.SectionSize < range.End; section++)
            _kernel.Sparse.Section(section).Online = false;
        (block.Online, block.Zone) = (false, PageZone.None);
        events.Add($"offline_pages: memory{block.Number} offline, its struct pages poisoned again (remove_pfn_range_from_zone)");
    }

    /// <summary>
    /// try_remove_memory() -> arch_remove_memory(): before feee6b298916 it takes page_zone() of the first struct page;
    /// then __remove_pages() deactivates the sections (<see cref="MemmapBookkeeping.RemoveSections"/>).
    /// </summary>
    private MemmapOops? RemoveMemory(PlacedDevice dimm, EventLog events)
    {
        var first = dimm.Range.Start / Page;
        if (!_kernel.Checks.Contains(KernelCheck.RemoveMemoryWithoutZoneLookup))
        {
            events.Add($"arch_remove_memory: page_zone() of pfn {Pfn(first)}, the first removed, to shrink its zone");
            if (MemmapReaders.Read(_kernel, MemmapReader.ArchRemoveMemory, first) is { } oops) return oops;
        }
        if (_kernel.RemoveSections(dimm.Range, events) is { } removeOops) return removeOops;
        _kernel.Memmap.Set(first, dimm.Range.End / Page, StructPageState.Uninitialised, PageZone.None);
        events.Add($"__remove_memory({dimm.Range.ToIomem()}): {dimm.Id} removed");
        return null;
    }

    private (MemmapOops?, StepFailure?) Resize(CaseStep step, EventLog events)
    {
        if (!_virtio.TryGetValue(step.Id!, out var vm)) return (null, Failed($"Device '{step.Id}' has no property 'requested-size'"));
        if (vm.Refuses(step.Value!.Value) is { } error) return (null, Failed(error));
        return (Plug(vm, step.Value.Value, events), null);
    }

    private MemmapOops? Plug(VirtioMem vm, ulong requested, EventLog events) =>
        vm.Plug(requested, unit => AddRange(unit, vm.Device.Id, events),
            () => (ulong)_blocks.Count(b => b.Device == vm.Device.Id && !b.Online) * BlockSize, events);

    private StepFailure? WaitSize(CaseStep step) =>
        !_virtio.TryGetValue(step.Id!, out var vm) ? Failed($"Device '{step.Id}' has no property 'size'")
        : vm.Plugged == step.Value ? null
        : Hung($"{step.Id}.size stays {vm.Plugged} (the driver plugged {vm.Plugged / MiB} MiB of {vm.Requested / MiB} MiB requested), never {step.Value}");

    /// <summary>The memory-block step reads each block of the device in sysfs: "online" or "offline".</summary>
    private StepFailure? Expect(CaseStep step, EventLog events)
    {
        var blocks = _blocks.Where(b => b.Device == step.Id).ToList();
        events.Add($"memory blocks of {step.Id}: {(blocks.Count == 0 ? "none" : string.Join(", ", blocks.Select(Describe)))}");
        if (blocks.Count == 0) return Failed($"no memory block of {step.Id}");
        var wrong = blocks.Where(b => (b.Online ? MemoryBlockState.Online : MemoryBlockState.Offline) != step.State).ToList();
        return wrong.Count == 0 ? null : Failed($"expected {step.State!.Value.Name()}: {string.Join(", ", wrong.Select(Describe))}");
    }

    /// <summary>echo online* > memoryN/state: onlines an offline block; an online one answers -EINVAL.</summary>
    private (MemmapOops?, StepFailure?) SetBlocks(CaseStep step, EventLog events)
    {
        var blocks = _blocks.Where(b => b.Device == step.Id).ToList();
        if (blocks.Count == 0) return (null, Failed($"no memory block of {step.Id}"));
        foreach (var b in blocks)
        {
            if (b.Online) return (null, Failed($"memory{b.Number}: could not set {step.State!.Value.Name()} (already online: -EINVAL)"));
            if (Online(b, step.State!.Value, events) is { } oops) return (oops, null);
        }
        return (null, null);
    }

    private static string Describe(MemoryBlock b) =>
        $"memory{b.Number} {(b.Online ? "online" : "offline")}{(b.Online ? b.Zone == PageZone.Movable ? " (movable)" : " (normal)" : "")}";

    private static string Names(List<MemoryBlock> blocks) =>
        blocks.Count == 1 ? $"memory{blocks[0].Number}" : $"memory{blocks[0].Number}-{blocks[^1].Number}";

    private static StepFailure Failed(string why) => new(Outcome.WorkloadFailed, why);
    private static StepFailure Hung(string why) => new(Outcome.Hung, why);
    private static string Pfn(ulong pfn) => Scenarios.Hex.Format(pfn);
}
