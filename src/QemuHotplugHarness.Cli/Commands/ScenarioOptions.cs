using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Cli.Commands;

/// <summary>
/// The scenario flags shared by predict, run and reproduce, as the user typed them. Each one that is set
/// overrides the base scenario (the seed, or <c>--scenario FILE</c>).
/// </summary>
public sealed record ScenarioOptions
{
    public string? Machine { get; init; }
    public string? Ram { get; init; }
    public string? MaxMem { get; init; }
    public int? Slots { get; init; }
    public int? Smp { get; init; }
    public string? Qemu { get; init; }
    public string? NvdimmSize { get; init; }
    public string? NvdimmAddr { get; init; }
    public string? LabelSize { get; init; }
    public string? Pse { get; init; }
    public string? Kernel { get; init; }
    public string? NamespaceSize { get; init; }
    public string? Mode { get; init; }
    public int? Iterations { get; init; }
    public string? KernelLine { get; init; }

    public Scenario Apply(Scenario s)
    {
        if (Machine is not null) s = s with { Machine = s.Machine with { Type = ParseEnum<MachineType>(InputKind.Machine, Machine, "pc or q35") } };
        if (Ram is not null) s = s with { Machine = s.Machine with { Ram = ByteSize.Parse(Ram, InputKind.Ram) } };
        if (MaxMem is not null) s = s with { Machine = s.Machine with { MaxMem = ByteSize.Parse(MaxMem, InputKind.MaxMem) } };
        if (Slots is not null) s = s with { Machine = s.Machine with { Slots = Slots.Value } };
        if (Smp is not null) s = s with { Machine = s.Machine with { Smp = Smp.Value } };
        if (Qemu is not null) s = s with { Qemu = ParseEnum<QemuFlavour>(InputKind.Qemu, Qemu, "patched or stock") };
        if (NvdimmSize is not null) s = s with { Nvdimm = s.Nvdimm with { Size = ByteSize.Parse(NvdimmSize, InputKind.NvdimmSize) } };
        if (NvdimmAddr is not null)
            s = s.WithNvdimmAddress(NvdimmAddr.Equals("auto", StringComparison.OrdinalIgnoreCase)
                ? null
                : ByteSize.Parse(NvdimmAddr, InputKind.NvdimmAddress).Bytes);
        if (LabelSize is not null) s = s with { Nvdimm = s.Nvdimm with { LabelSize = ByteSize.Parse(LabelSize, InputKind.LabelSize) } };
        if (Pse is not null)
            s = s.WithPse(Pse.ToLowerInvariant() switch
            {
                "on" or "true" or "yes" => true,
                "off" or "false" or "no" => false,
                _ => throw new BadInputException(InputKind.Pse, Pse, "use on or off"),
            });
        if (Kernel is not null)
        {
            s = Enum.TryParse<KernelVariant>(Kernel, ignoreCase: true, out var v) && !int.TryParse(Kernel, out _)
                ? s with { Kernel = s.Kernel with { Variant = v, Image = null } }
                : s with { Kernel = s.Kernel with { Image = Kernel } };
        }
        if (NamespaceSize is not null) s = s.WithNamespaceSize(ByteSize.Parse(NamespaceSize, InputKind.NamespaceSize));
        if (Mode is not null) s = s with { Workload = s.Workload with { Mode = ParseEnum<NamespaceMode>(InputKind.Mode, Mode, "devdax or fsdax") } };
        if (Iterations is not null) s = s.WithIterations(Iterations.Value);
        if (KernelLine is not null) s = s with { Kernel = s.Kernel with { Line = KernelLine } };
        return s;
    }

    private static T ParseEnum<T>(InputKind input, string value, string choices) where T : struct, Enum =>
        Enum.TryParse<T>(value, ignoreCase: true, out var parsed) && !int.TryParse(value, out _) && Enum.IsDefined(parsed)
            ? parsed
            : throw new BadInputException(input, value, $"unknown value (use {choices})");
}
