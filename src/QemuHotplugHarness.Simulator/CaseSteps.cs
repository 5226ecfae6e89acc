using System.Globalization;
using System.Text.Json;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Simulator;

/// <summary>What a case's workload command does to the kernel's memmap bookkeeping.</summary>
public enum StepKind
{
    /// <summary>ndctl disable-region / init-labels / enable-region all: the region, emptied, with labels.</summary>
    RegionSetup,
    /// <summary>ndctl create-namespace: memremap_pages() of the new namespace.</summary>
    CreateNamespace,
    /// <summary>ndctl destroy-namespace --force all: memunmap_pages() of the namespace.</summary>
    DestroyNamespace,
    /// <summary>dd if=/proc/kpageflags: kpageflags_read() over a window of pfns.</summary>
    ReadKpageflags,
    /// <summary>dd if=/proc/kpagecount: kpagecount_read() over a window of pfns.</summary>
    ReadKpagecount,
    /// <summary>dd if=/proc/kpagecgroup (CONFIG_MEMCG): page_cgroup_ino() over a window of pfns.</summary>
    ReadKpagecgroup,
    /// <summary>QMP object-add memory-backend-ram: a RAM backend for a device to come.</summary>
    AddBackend,
    /// <summary>QMP object-del of a backend.</summary>
    DeleteBackend,
    /// <summary>QMP device_add pc-dimm: ACPI hot-add (acpi_memory_device_add() -> add_memory()).</summary>
    AddDimm,
    /// <summary>QMP device_del of a pc-dimm: ACPI eject (acpi_memory_device_remove() -> __remove_memory()).</summary>
    DeleteDevice,
    /// <summary>QMP qom-set DEVICE requested-size: the virtio-mem driver plugs (or unplugs) sub-blocks.</summary>
    ResizeVirtioMem,
    /// <summary>Wait for DEVICE_DELETED of a device (QEMU sends it when the guest ejected it).</summary>
    WaitDeviceDeleted,
    /// <summary>Wait until qom-get DEVICE size (a virtio-mem device's plugged size) reads a value.</summary>
    WaitPluggedSize,
    /// <summary>A device's memory blocks must read a state in sysfs.</summary>
    ExpectBlocks,
    /// <summary>A device's memory blocks are set to a state through sysfs (onlining them).</summary>
    SetBlocks,
}

/// <summary>Whether a namespace's memmap lives on the device (an altmap, --map=dev) or in RAM (--map=mem).</summary>
public enum MemmapLocation { Device, Memory }

/// <summary>One workload command (a guest command or a host step) as the model reads it.</summary>
public sealed record CaseStep(StepKind Kind, string Command)
{
    /// <summary>The QOM id a host step names: a backend, a device.</summary>
    public string? Id { get; init; }
    /// <summary>device_add pc-dimm: its backend.</summary>
    public string? Backend { get; init; }
    /// <summary>device_add pc-dimm: the address asked for (null: QEMU places it).</summary>
    public ulong? Address { get; init; }
    /// <summary>A memory-block step's state.</summary>
    public MemoryBlockState? State { get; init; }
    /// <summary>qom-set requested-size, the size waited for, a backend's size (bytes).</summary>
    public ulong? Value { get; init; }
    public NamespaceMode Mode { get; init; } = NamespaceMode.Fsdax;
    public MemmapLocation Map { get; init; } = MemmapLocation.Device;
    public ByteSize? Size { get; init; }
    /// <summary>The kpageflags window: entries are 8 bytes, one per pfn; null end = to the end of the file.</summary>
    public ulong FirstPfn { get; init; }
    public ulong? EndPfn { get; init; }
}

/// <summary>Reads a case's argv commands into <see cref="CaseStep"/>s; a command it does not know is outside the model.</summary>
public static class CaseSteps
{
    /// <summary>/proc/kpageflags: one u64 per pfn (KPMSIZE).</summary>
    public const ulong KpageflagsEntry = 8;

    public static CaseStep? Parse(IReadOnlyList<string> argv, HostStep? host = null)
    {
        var text = string.Join(' ', argv);
        if (host is not null) return HostSteps.Parse(host, text);
        return argv.ToArray() switch
        {
            ["ndctl", "disable-region" or "init-labels" or "enable-region", "all"] => new CaseStep(StepKind.RegionSetup, text),
            ["ndctl", "destroy-namespace", "--force", "all"] => new CaseStep(StepKind.DestroyNamespace, text),
            ["ndctl", "create-namespace", .. var options] => Create(options, text),
            ["dd", .. var operands] when Operand(operands, "if") == "/proc/kpageflags" => ProcWindow(StepKind.ReadKpageflags, operands, text),
            ["dd", .. var operands] when Operand(operands, "if") == "/proc/kpagecount" => ProcWindow(StepKind.ReadKpagecount, operands, text),
            ["dd", .. var operands] when Operand(operands, "if") == "/proc/kpagecgroup" => ProcWindow(StepKind.ReadKpagecgroup, operands, text),
            _ => null,
        };
    }

    /// <summary>A case's iteration steps as the model reads them (null where a step is outside the model).</summary>
    public static IReadOnlyList<CaseStep?> Iteration(WorkloadSpec w) =>
        (w.Iteration ?? []).Select((argv, j) => Parse(argv, w.IterationHosts is { } h && j < h.Count ? h[j] : null)).ToList();

    /// <summary>Why the steps are outside the model, or null: every command known, and a namespace created only where none is.</summary>
    public static string? NotModelled(WorkloadSpec w)
    {
        if (w.HasHostSetup) return "a host step in the setup (the model runs the setup's ndctl region commands only)";
        var known = "the model knows ndctl's region setup, create-namespace --size, destroy-namespace --force all, dd of /proc/kpageflags, " +
                    "/proc/kpagecount and /proc/kpagecgroup, and the host steps object-add/object-del of a RAM backend, device_add/device_del of a pc-dimm, " +
                    "qom-set requested-size, waits for DEVICE_DELETED and a virtio-mem size, and memory-block expectations and onlining";
        if ((w.Setup ?? []).FirstOrDefault(a => Parse(a) is null) is { } unknownSetup)
            return $"the command '{string.Join(' ', unknownSetup)}' ({known})";
        var iteration = Iteration(w);
        var unknown = iteration.ToList().FindIndex(x => x is null);
        if (unknown >= 0) return $"the command '{string.Join(' ', w.Iteration![unknown])}' ({known})";
        var kinds = iteration.Select(s => s!.Kind).Where(k => k is StepKind.CreateNamespace or StepKind.DestroyNamespace).ToList();
        var alternates = kinds.Count == 2 && kinds[0] == StepKind.CreateNamespace && kinds[1] == StepKind.DestroyNamespace
                         || kinds.Count == 0;
        return alternates ? null : "an iteration that does not create one namespace and then destroy it (where ndctl places a second namespace is not modelled)";
    }

    private static CaseStep? Create(IReadOnlyList<string> options, string text)
    {
        CaseStep? step = new CaseStep(StepKind.CreateNamespace, text);
        foreach (var o in options)
            step = step is null ? null : Option(step, o);
        return step?.Size is null ? null : step;
    }

    /// <summary>One create-namespace option (--mode, --map, --size, each as name=value); null for any other.</summary>
    private static CaseStep? Option(CaseStep step, string option) => option.Split('=', 2) switch
    {
        ["--mode" or "-m", "devdax"] => step with { Mode = NamespaceMode.Devdax },
        ["--mode" or "-m", "fsdax"] => step with { Mode = NamespaceMode.Fsdax },
        ["--map" or "-M", "dev"] => step with { Map = MemmapLocation.Device },
        ["--map" or "-M", "mem"] => step with { Map = MemmapLocation.Memory },
        ["--size" or "-s", var size] when ByteSize.TryParse(size, out var bytes) => step with { Size = bytes },
        _ => null,
    };

    private static CaseStep? ProcWindow(StepKind kind, IReadOnlyList<string> operands, string text)
    {
        if (!Number(operands, "bs", 512, out var bs) || !Number(operands, "skip", 0, out var skip)) return null;
        ulong? count = Operand(operands, "count") is null ? null : Number(operands, "count", 0, out var c) ? c : null;
        if (Operand(operands, "count") is not null && count is null) return null;
        return new CaseStep(kind, text)
        {
            FirstPfn = skip * bs / KpageflagsEntry,
            EndPfn = count is { } n ? (skip + n) * bs / KpageflagsEntry : null,
        };
    }

    private static string? Operand(IReadOnlyList<string> operands, string name) =>
        operands.Select(o => o.Split('=', 2)).FirstOrDefault(p => p.Length == 2 && p[0] == name)?[1];

    /// <summary>A dd operand: a number, or with dd's K, M or G suffix (powers of 1024).</summary>
    private static bool Number(IReadOnlyList<string> operands, string name, ulong absent, out ulong value)
    {
        value = absent;
        if (Operand(operands, name) is not { } text) return true;
        var (digits, scale) = text.Length > 0 && "KMG".IndexOf(text[^1]) is var k and >= 0 ? (text[..^1], 1UL << (10 * (k + 1))) : (text, 1UL);
        if (!ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return false;
        value = n * scale;
        return true;
    }
}
