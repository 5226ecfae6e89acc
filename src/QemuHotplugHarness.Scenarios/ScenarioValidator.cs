namespace QemuHotplugHarness.Scenarios;

/// <summary>Checks a scenario for what QEMU, the guest kernel or ndctl would refuse; one message per problem.</summary>
public static class ScenarioValidator
{
    public const ulong SubsectionSize = 2 * ByteSize.MiB;
    public const ulong MinLabelSize = 128 * ByteSize.KiB;
    public const int MaxSlots = 256;
    public const int MaxIterations = 10_000;

    public static IReadOnlyList<string> Validate(Scenario s)
    {
        var problems = new List<string>();
        void Check(bool bad, string message)
        {
            if (bad) problems.Add(message);
        }

        var m = s.Machine;
        Check(string.IsNullOrWhiteSpace(s.Name), "name: a scenario needs a non-empty name");
        Check(m.Ram.Bytes == 0, "--ram 0: the guest needs RAM");
        Check(m.Ram.Bytes % ByteSize.MiB != 0, $"--ram {m.Ram}: RAM must be a whole number of MiB");
        Check(m.Ram > m.MaxMem, $"--ram {m.Ram} is above --maxmem {m.MaxMem}");
        Check(m.Slots < 1, $"--slots {m.Slots}: an NVDIMM needs at least one memory slot");
        Check(m.Slots > MaxSlots, $"--slots {m.Slots}: QEMU allows at most {MaxSlots} memory slots");
        Check(m.Smp is < 1 or > 255, $"--smp {m.Smp}: must be between 1 and 255");

        var n = s.Nvdimm;
        Check(n.Size.Bytes == 0, "--nvdimm-size 0: the NVDIMM needs a backend");
        Check(n.Size.Bytes != 0 && !n.Size.IsAligned(SubsectionSize), $"--nvdimm-size {n.Size}: must be a multiple of 2M");
        if (m.Ram <= m.MaxMem)
        {
            var room = new ByteSize(m.MaxMem.Bytes - m.Ram.Bytes);
            Check(n.Size > room, $"--nvdimm-size {n.Size} is larger than --maxmem minus --ram ({room})");
        }
        Check(n.LabelSize.Bytes < MinLabelSize, $"--label-size {n.LabelSize} is too small: QEMU needs at least 128K");
        Check(n.LabelSize >= n.Size && n.Size.Bytes != 0, $"--label-size {n.LabelSize} leaves no room in --nvdimm-size {n.Size}");
        if (n.Address is { } addr)
        {
            Check(addr % SubsectionSize != 0, $"--nvdimm-addr 0x{addr:x} is not 2 MiB aligned");
            Check(addr < 4 * ByteSize.GiB, $"--nvdimm-addr 0x{addr:x} lies below 4 GiB, where QEMU has no device memory");
        }

        var w = s.Workload;
        Check(w.Iterations < 1, $"--iterations {w.Iterations}: at least one reconfiguration is needed");
        Check(w.Iterations > MaxIterations, $"--iterations {w.Iterations}: at most {MaxIterations}");
        Check(w.NamespaceSize.Bytes == 0, "--namespace-size 0: a namespace needs a size");
        Check(w.NamespaceSize.Bytes != 0 && !w.NamespaceSize.IsAligned(SubsectionSize),
            $"--namespace-size {w.NamespaceSize}: must be a multiple of 2M");
        var usable = n.Size.Bytes > n.LabelSize.Bytes ? n.Size.Bytes - n.LabelSize.Bytes : 0;
        Check(w.NamespaceSize.Bytes > usable && n.Size.Bytes != 0,
            $"--namespace-size {w.NamespaceSize} is larger than the NVDIMM ({n.Size} less {n.LabelSize} of labels)");

        var k = s.Kernel;
        Check(k.StructPageSize is < 32 or > 256 || k.StructPageSize % 8 != 0,
            $"structPageSize {k.StructPageSize}: must be a multiple of 8 between 32 and 256");
        Check(k.Image is not null && string.IsNullOrWhiteSpace(k.Image), "--kernel: an empty kernel image name");
        return problems;
    }

    /// <summary>Throws a <see cref="BadInputException"/> carrying the first problem (all of them, one per line, in the message).</summary>
    public static Scenario EnsureValid(Scenario s)
    {
        var problems = Validate(s);
        if (problems.Count == 0) return s;
        throw new BadInputException(string.Join(Environment.NewLine, problems));
    }
}
