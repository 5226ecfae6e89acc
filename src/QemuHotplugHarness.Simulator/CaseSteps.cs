using System.Globalization;
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
}

/// <summary>Whether a namespace's memmap lives on the device (an altmap, --map=dev) or in RAM (--map=mem).</summary>
public enum MemmapLocation { Device, Memory }

/// <summary>One workload command as the model reads it.</summary>
public sealed record CaseStep(StepKind Kind, string Command)
{
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

    public static CaseStep? Parse(IReadOnlyList<string> argv)
    {
        var text = string.Join(' ', argv);
        return argv.ToArray() switch
        {
            ["ndctl", "disable-region" or "init-labels" or "enable-region", "all"] => new CaseStep(StepKind.RegionSetup, text),
            ["ndctl", "destroy-namespace", "--force", "all"] => new CaseStep(StepKind.DestroyNamespace, text),
            ["ndctl", "create-namespace", .. var options] => Create(options, text),
            ["dd", .. var operands] when Operand(operands, "if") == "/proc/kpageflags" => Kpageflags(operands, text),
            _ => null,
        };
    }

    /// <summary>Why the steps are outside the model, or null: every command known, and a namespace created only where none is.</summary>
    public static string? NotModelled(WorkloadSpec w)
    {
        var steps = (w.Setup ?? []).Concat(w.Iteration ?? []).ToList();
        if (steps.FirstOrDefault(a => Parse(a) is null) is { } unknown)
            return $"the command '{string.Join(' ', unknown)}' (the model knows ndctl's region setup, create-namespace --size, destroy-namespace --force all, and dd of /proc/kpageflags)";
        var kinds = (w.Iteration ?? []).Select(a => Parse(a)!.Kind).Where(k => k is StepKind.CreateNamespace or StepKind.DestroyNamespace).ToList();
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

    private static CaseStep? Kpageflags(IReadOnlyList<string> operands, string text)
    {
        if (!Number(operands, "bs", 512, out var bs) || !Number(operands, "skip", 0, out var skip)) return null;
        ulong? count = Operand(operands, "count") is null ? null : Number(operands, "count", 0, out var c) ? c : null;
        if (Operand(operands, "count") is not null && count is null) return null;
        return new CaseStep(StepKind.ReadKpageflags, text)
        {
            FirstPfn = skip * bs / KpageflagsEntry,
            EndPfn = count is { } n ? (skip + n) * bs / KpageflagsEntry : null,
        };
    }

    private static string? Operand(IReadOnlyList<string> operands, string name) =>
        operands.Select(o => o.Split('=', 2)).FirstOrDefault(p => p.Length == 2 && p[0] == name)?[1];

    private static bool Number(IReadOnlyList<string> operands, string name, ulong absent, out ulong value)
    {
        value = absent;
        return Operand(operands, name) is not { } text || ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
