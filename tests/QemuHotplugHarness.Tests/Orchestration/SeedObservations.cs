using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Orchestration;

/// <summary>
/// What the seed's five cells did on real guests, written out as facts (never derived from a prediction): stock QEMU
/// rejects the NVDIMM, the unpatched kernel with PSE off oopses at iteration 2 on pfn 0x144002, the rest stay clean.
/// </summary>
public static class SeedObservations
{
    public const string StockRejection =
        "qemu-system-x86_64: -device nvdimm,id=nv0,memdev=mem0,addr=0x144000000,label-size=128k: can't add memory device [0x144000000:0x1ffe00000], usable range for memory devices [0x180000000:0x43c000000]";

    public const string ReconfigureCommand = "'ndctl' 'create-namespace' '--force' '--reconfig=namespace0.0' '--mode=devdax' '--size=16M'";

    /// <summary>namespace0.0 144000000-1441fffff and dax0.0 144200000-144ffffff, as /proc/iomem shows them.</summary>
    public static readonly AddressRange Namespace = new(0x1_4400_0000, 0x1_4420_0000);
    public static readonly AddressRange Dax = new(0x1_4420_0000, 0x1_4500_0000);

    public static ObservedIteration Iteration(int index) => new(index, ReconfigureCommand, 0, 1.25, false, Namespace, Dax, "");

    public static Observation Rejected() => new()
    {
        Outcome = Outcome.Rejected, Accel = Accel.Tcg, Rejection = StockRejection, Seconds = 0.5,
    };

    public static Observation OopsAtIteration2() => new()
    {
        Outcome = Outcome.Oops, Accel = Accel.Tcg, Seconds = 95,
        Iterations = [Iteration(1), new ObservedIteration(2, ReconfigureCommand, null, 60, true, null, null, "")],
        Oopses = [new ObservedOops("BUG: unable to handle kernel paging request in __init_single_page", "__init_single_page", 0xffff_ea00_0510_0080, 0x144002, 412, false, 1)],
        OopsIteration = 2, FaultPfn = 0x144002,
    };

    public static Observation Clean() => new()
    {
        Outcome = Outcome.Clean, Accel = Accel.Tcg, Seconds = 40, Iterations = [Iteration(1), Iteration(2), Iteration(3)],
    };

    /// <summary>The seed's observation of a cell of the default matrix, by the cell's name.</summary>
    public static Observation Of(string cell) => cell switch
    {
        "stock-qemu-unpatched-pse-off" => Rejected(),
        "unpatched-pse-off" => OopsAtIteration2(),
        "unpatched-pse-on" or "patched-pse-off" or "patched-pse-on" => Clean(),
        _ => throw new ArgumentException($"{cell} is not a cell of the default matrix"),
    };
}
