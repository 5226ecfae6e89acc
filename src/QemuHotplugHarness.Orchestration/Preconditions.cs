using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration;

/// <summary>
/// Whether the booted guest is the machine the scenario asked for and the simulator modelled: System RAM above
/// 4 GiB and the NVDIMM's Persistent Memory where predicted, QMP's NVDIMM address as asked, the CPU's PSE flag as
/// asked. Pure: a list of failures, empty when the run may go on.
/// </summary>
public static class Preconditions
{
    public static IReadOnlyList<string> Check(Scenario scenario, Prediction prediction, BootFacts facts)
    {
        var failures = new List<string>();
        var seen = facts.Layout;
        var predicted = prediction.Layout;
        if (seen.SystemRamAbove4G != predicted.SystemRamAbove4G)
            failures.Add($"System RAM above 4G is {Text(seen.SystemRamAbove4G)}, predicted {Text(predicted.SystemRamAbove4G)}");
        if (seen.PersistentMemory != predicted.PersistentMemory)
            failures.Add($"Persistent Memory is {Text(seen.PersistentMemory)}, predicted {Text(predicted.PersistentMemory)}");
        if (scenario.Nvdimm.Address is { } asked && seen.NvdimmAddressQmp != asked)
            failures.Add($"QMP puts the NVDIMM at {(seen.NvdimmAddressQmp is { } at ? Hex.Format(at) : "nowhere")}, asked for {Hex.Format(asked)}");
        if (facts.Kernel?.SectionSizeBits is { } bits && 1UL << bits != Sparsemem.SectionSize)
            failures.Add($"the kernel's memory sections are 2^{bits} bytes (VMCOREINFO), the model's {Sparsemem.SectionSize >> 20} MiB");
        if (prediction.MemoryBlockSize is { } model && facts.MemoryBlockSize is { } block && block != model)
            failures.Add($"the kernel's memory blocks are {Hex.Format(block)} bytes ({BootFactsReader.MemoryBlockSizeFile}), the model's {Hex.Format(model)}");
        if (facts.HasPse != scenario.Cpu.Pse)
            failures.Add($"/proc/cpuinfo {(facts.HasPse ? "has" : "lacks")} pse, asked for pse {(scenario.Cpu.Pse ? "on" : "off")}");
        return failures;
    }

    private static string Text(AddressRange? range) => range?.ToString() ?? "absent";
}
