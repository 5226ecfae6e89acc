using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration.Validation;

/// <summary>
/// The layout space validate draws from: the simulator's sweep (RAM sizes, QEMU flavours, NVDIMM addresses, PSE,
/// namespace sizes) widened by machine, namespace mode, iteration count and kernel variant; a case with memory devices
/// adds its device layouts (a pc-dimm's address and size, a virtio-mem's block-size and requested-size). A dimension the user pins
/// (validate --machine q35) has one value. Fields no dimension covers (maxmem, slots, NVDIMM size) come from <see cref="Base"/>.
/// </summary>
public sealed record ValidationSpace
{
    public Scenario Base { get; init; } = Scenario.Seed;
    public IReadOnlyList<MachineType> Machines { get; init; } = [MachineType.Pc, MachineType.Q35];
    public IReadOnlyList<QemuFlavour> Qemus { get; init; } = [QemuFlavour.Patched, QemuFlavour.Stock];
    public IReadOnlyList<ulong> RamSizes { get; init; } = Sweep.RamSizes;
    /// <summary>Null: the sweep's addresses for each machine and RAM size (auto, then every 16 MiB past the end of RAM).</summary>
    public IReadOnlyList<ulong?>? NvdimmAddresses { get; init; }
    public IReadOnlyList<bool> Pse { get; init; } = [false, true];
    public IReadOnlyList<ulong> NamespaceSizes { get; init; } = Sweep.NamespaceSizes;
    public IReadOnlyList<NamespaceMode> Modes { get; init; } = [NamespaceMode.Devdax, NamespaceMode.Fsdax];
    public IReadOnlyList<int> Iterations { get; init; } = [1, 2, 3, 4];
    public IReadOnlyList<KernelVariant> Kernels { get; init; } = [KernelVariant.Unpatched, KernelVariant.Patched];

    /// <summary>The case whose space this is (null: the seed's loop outside any case) and its model.</summary>
    public string? Case { get; init; }
    public Scenarios.Cases.CaseModel? Model { get; init; }

    /// <summary>The simulator's prediction of a scenario of this space (the case's model included).</summary>
    public Prediction Predict(Scenario s) => Predictor.Predict(s, Model);

    /// <summary>One scenario of the space, every dimension drawn uniformly with <paramref name="rng"/>.</summary>
    public Scenario Pick(Random rng)
    {
        var machine = One(rng, Machines);
        var ram = One(rng, RamSizes);
        var addresses = NvdimmAddresses ?? Sweep.NvdimmAddresses(machine, ram).ToList();
        var s = Base with
        {
            Machine = Base.Machine with { Type = machine, Ram = new ByteSize(ram) },
            Workload = Base.Workload with { Iterations = One(rng, Iterations) },
        };
        // A case's own workload takes the mode and size in its create-namespace commands.
        s = Sweep.WithNamespaceSize(Sweep.WithMode(s, One(rng, Modes)), new ByteSize(One(rng, NamespaceSizes)));
        // Drawn only for a case with memory devices, so the draws of the NVDIMM cases stay what they were.
        if (DeviceLayouts.Of(Base) is { Count: > 0 } devices) s = DeviceLayouts.Apply(s, One(rng, devices));
        return s.WithQemu(One(rng, Qemus)).WithPse(One(rng, Pse)).WithKernel(One(rng, Kernels)).WithNvdimmAddress(One(rng, addresses));
    }

    private static T One<T>(Random rng, IReadOnlyList<T> values) => values[rng.Next(values.Count)];
}
