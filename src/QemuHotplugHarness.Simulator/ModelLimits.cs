using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Simulator;

/// <summary>
/// What the simulator does not model. A scenario with any of these is outside the model: predict says why instead
/// of guessing, and validate never draws it.
/// </summary>
public static class ModelLimits
{
    /// <summary>One reason per thing the model cannot predict; empty when the scenario is inside the model.</summary>
    public static IReadOnlyList<string> NotModelled(Scenario s, Scenarios.Cases.CaseModel? model = null)
    {
        var reasons = new List<string>();
        if (s.Kernel.Image is { } image)
            reasons.Add($"kernel image '{image}': which section_deactivate() a prebuilt kernel has is unknown (the model knows the unpatched and patched variants; register the image as unpatched=PATH or patched=PATH)");
        if (!s.Workload.InitLabels)
            reasons.Add("a workload without init-labels: where ndctl places a namespace on a region with stale or no labels is not modelled");
        if (s.Workload.IsCustom && model is null)
            reasons.Add("a case's own workload steps without a model of its fix (case.json \"model\"): the simulator models the ndctl reconfigure loop of namespace0.0");
        if (s.Workload.IsCustom && model is not null)
        {
            if (CaseSteps.NotModelled(s.Workload) is { } steps) reasons.Add(steps);
            if (model.DebugVm && PoisoningOff(s.KernelArgs) is { } vmDebug)
                reasons.Add($"the kernel argument '{vmDebug}': struct page poisoning is off (mm/debug.c: vm_debug= without P), so a never-initialised struct page holds whatever its memory held");
            if (!model.DebugVm)
                reasons.Add("a kernel without CONFIG_DEBUG_VM: a never-initialised struct page holds whatever its memory held (the boot memmap of an early section, device memory under an altmap), so what a reader does with it is not deterministic");
            reasons.AddRange(DeviceLimits(s, model));
        }
        return reasons;
    }

    public static bool IsModelled(Scenario s, Scenarios.Cases.CaseModel? model = null) => NotModelled(s, model).Count == 0;

    /// <summary>A vm_debug= argument that turns page_init_poison() off (a value without 'p'; "vm_debug" alone turns all on).</summary>
    private static string? PoisoningOff(string? kernelArgs) =>
        (kernelArgs ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .LastOrDefault(a => a.StartsWith("vm_debug", StringComparison.Ordinal)) is { } a && a.Split('=', 2) is [_, { Length: > 0 } flags] && !flags.Contains('p', StringComparison.OrdinalIgnoreCase)
            ? a : null;

    /// <summary>Kernel arguments that change where or whether hot-added memory goes online, beyond memhp_default_state=.</summary>
    private static readonly string[] HotplugArguments = ["movable_node", "kernelcore=", "movablecore=", "memory_hotplug.", "mem=", "memmap="];

    /// <summary>What the memory-device part of the model cannot predict.</summary>
    private static IEnumerable<string> DeviceLimits(Scenario s, Scenarios.Cases.CaseModel model)
    {
        var args = (s.KernelArgs ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (MemoryHotplug.OnlinePolicy(s.KernelArgs, model) is null)
            yield return "a memhp_default_state= the kernel does not take (offline, online, online_kernel, online_movable)";
        foreach (var a in args.Where(a => HotplugArguments.Any(h => a.StartsWith(h, StringComparison.Ordinal))))
            yield return $"the kernel argument '{a}': zones and online policy beyond memhp_default_state= are not modelled";
        var steps = CaseSteps.Iteration(s.Workload).OfType<CaseStep>().ToList();
        var virtio = s.Devices.VirtioMem.Select(v => v.Id).ToHashSet();
        if ((virtio.Count > 0 || steps.Any(x => x.Kind == StepKind.ResizeVirtioMem)) && !model.DebugAtomicSleep)
            yield return "virtio-mem on a kernel without CONFIG_DEBUG_ATOMIC_SLEEP: whether down_write() under rcu_read_lock() sleeps depends on contention, and nothing reports it when it does not";
        if (steps.Any(x => x.Kind == StepKind.DeleteDevice && x.Id is { } id && virtio.Contains(id)))
            yield return "device_del of a virtio-mem device (the driver's removal is not modelled)";
        var requested = s.Devices.VirtioMem.ToDictionary(v => v.Id, v => v.RequestedSize.Bytes);
        foreach (var r in steps.Where(x => x.Kind == StepKind.ResizeVirtioMem && x.Id is not null))
        {
            if (requested.TryGetValue(r.Id!, out var before) && r.Value < before)
                yield return $"lowering {r.Id}'s requested-size: whether alloc_contig_range() frees the sub-blocks to unplug depends on their pages' use";
            requested[r.Id!] = r.Value!.Value;
        }
        var pending = new HashSet<string>();
        foreach (var x in steps)
        {
            if (x.Kind == StepKind.AddDimm && x.Id is { } added) pending.Add(added);
            if (x.Kind == StepKind.ExpectBlocks && x.Id is { } seen) pending.Remove(seen);
            if (x.Kind == StepKind.SetBlocks && x.Id is { } set && pending.Contains(set))
                yield return $"setting {set}'s memory blocks right after its device_add: the guest adds them from ACPI hotplug work a moment later, so the step may find none (expect a state first: that step waits for them)";
        }
        var online = MemoryHotplug.OnlinePolicy(s.KernelArgs, model) is MemoryBlockState.Online or MemoryBlockState.OnlineKernel ||
                     steps.Any(x => x.Kind == StepKind.SetBlocks && x.State is MemoryBlockState.Online or MemoryBlockState.OnlineKernel);
        if (online && steps.Any(x => x.Kind == StepKind.DeleteDevice))
            yield return "device_del of a pc-dimm whose memory may be online in ZONE_NORMAL: whether offlining it succeeds depends on what the kernel allocated there";
    }
}
