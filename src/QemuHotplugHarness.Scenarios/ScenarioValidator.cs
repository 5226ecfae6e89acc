namespace QemuHotplugHarness.Scenarios;

/// <summary>Checks a scenario for what QEMU, the guest kernel or ndctl would refuse; one problem per thing wrong.</summary>
public static class ScenarioValidator
{
    public const ulong SubsectionSize = 2 * ByteSize.MiB;
    public const ulong MinLabelSize = 128 * ByteSize.KiB;
    public const int MaxSlots = 256;
    public const int MaxIterations = 10_000;

    public static IReadOnlyList<InputProblem> Validate(Scenario s)
    {
        var problems = new List<InputProblem>();
        void Check(bool bad, InputKind input, object value, string reason)
        {
            if (bad) problems.Add(new InputProblem(input, Format(value), reason));
        }

        if (string.IsNullOrWhiteSpace(s.Name)) problems.Add(InputProblem.General("scenario name: must not be empty"));
        CheckMachine(s.Machine, Check);
        CheckNvdimm(s.Machine, s.Nvdimm, Check);
        CheckWorkload(s.Nvdimm, s.Workload, Check);
        var k = s.Kernel;
        if (k.StructPageSize is < 32 or > 256 || k.StructPageSize % 8 != 0)
            problems.Add(InputProblem.General($"structPageSize {k.StructPageSize}: must be a multiple of 8 between 32 and 256"));
        Check(k.Image is not null && string.IsNullOrWhiteSpace(k.Image), InputKind.Kernel, k.Image ?? "", "an empty kernel image name");
        return problems;
    }

    /// <summary>Returns <paramref name="s"/>, or throws one <see cref="BadInputException"/> carrying every problem.</summary>
    public static Scenario EnsureValid(Scenario s)
    {
        var problems = Validate(s);
        return problems.Count == 0 ? s : throw new BadInputException(problems);
    }

    private delegate void Checker(bool bad, InputKind input, object value, string reason);

    private static void CheckMachine(MachineSpec m, Checker check)
    {
        check(m.Ram.Bytes == 0, InputKind.Ram, m.Ram, "the guest needs RAM");
        check(m.Ram.Bytes % ByteSize.MiB != 0, InputKind.Ram, m.Ram, "RAM must be a whole number of MiB");
        check(m.Ram > m.MaxMem, InputKind.Ram, m.Ram, $"above maxmem ({m.MaxMem})");
        check(m.Slots < 1, InputKind.Slots, m.Slots, "an NVDIMM needs at least one memory slot");
        check(m.Slots > MaxSlots, InputKind.Slots, m.Slots, $"QEMU allows at most {MaxSlots} memory slots");
        check(m.Smp is < 1 or > 255, InputKind.Smp, m.Smp, "must be between 1 and 255");
    }

    private static void CheckNvdimm(MachineSpec m, NvdimmSpec n, Checker check)
    {
        check(n.Size.Bytes == 0, InputKind.NvdimmSize, n.Size, "the NVDIMM needs a backend");
        check(n.Size.Bytes != 0 && !n.Size.IsAligned(SubsectionSize), InputKind.NvdimmSize, n.Size, "must be a multiple of 2M");
        if (m.Ram <= m.MaxMem)
        {
            var room = new ByteSize(m.MaxMem.Bytes - m.Ram.Bytes);
            check(n.Size > room, InputKind.NvdimmSize, n.Size, $"larger than maxmem minus RAM ({room})");
        }
        check(n.LabelSize.Bytes < MinLabelSize, InputKind.LabelSize, n.LabelSize, "too small: QEMU needs at least 128K");
        check(n.LabelSize >= n.Size && n.Size.Bytes != 0, InputKind.LabelSize, n.LabelSize, $"leaves no room in the {n.Size} NVDIMM");
        if (n.Address is not { } addr) return;
        check(addr % SubsectionSize != 0, InputKind.NvdimmAddress, Hex.Format(addr), "not 2 MiB aligned");
        check(addr < 4 * ByteSize.GiB, InputKind.NvdimmAddress, Hex.Format(addr), "below 4 GiB, where QEMU has no device memory");
    }

    private static void CheckWorkload(NvdimmSpec n, WorkloadSpec w, Checker check)
    {
        check(w.Iterations < 1, InputKind.Iterations, w.Iterations, "at least one reconfiguration is needed");
        check(w.Iterations > MaxIterations, InputKind.Iterations, w.Iterations, $"at most {MaxIterations}");
        check(w.NamespaceSize.Bytes == 0, InputKind.NamespaceSize, w.NamespaceSize, "a namespace needs a size");
        check(w.NamespaceSize.Bytes != 0 && !w.NamespaceSize.IsAligned(SubsectionSize), InputKind.NamespaceSize, w.NamespaceSize,
            "must be a multiple of 2M");
        if (w.Iteration is { Count: 0 }) check(true, InputKind.Iterations, w.Iterations, "a custom workload needs at least one iteration command");
        foreach (var argv in (w.Setup ?? []).Concat(w.Iteration ?? []).Where(a => a.Count == 0 || string.IsNullOrEmpty(a[0])))
            check(true, InputKind.Scenario, "workload", "a workload command is empty");
        var usable = n.Size.Bytes > n.LabelSize.Bytes ? n.Size.Bytes - n.LabelSize.Bytes : 0;
        check(w.NamespaceSize.Bytes > usable && n.Size.Bytes != 0, InputKind.NamespaceSize, w.NamespaceSize,
            $"larger than the NVDIMM ({n.Size} less {n.LabelSize} of labels)");
    }

    private static string Format(object value) => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "";
}
