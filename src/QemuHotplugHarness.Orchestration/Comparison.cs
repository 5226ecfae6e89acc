using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration;

/// <summary>Prediction and observation side by side: they match when outcome, oops iteration and fault pfn agree.</summary>
public static class Comparison
{
    public static IReadOnlyList<string> Mismatches(Prediction p, Observation o)
    {
        var list = new List<string>();
        if (p.Outcome != o.Outcome) list.Add($"outcome: predicted {p.Outcome}, observed {o.Outcome}");
        if (p.Outcome == Outcomes.Oops && o.Outcome == Outcomes.Oops)
        {
            if (p.OopsIteration != o.OopsIteration) list.Add($"oopsIteration: predicted {p.OopsIteration}, observed {o.OopsIteration}");
            if (o.FaultPfn is null) list.Add($"faultPfn: predicted {p.FirstFaultPfn}, observed none (not a vmemmap fault, or VMCOREINFO unreadable)");
            else if (p.FirstFaultPfn != o.FaultPfn) list.Add($"faultPfn: predicted {p.FirstFaultPfn}, observed {o.FaultPfn}");
        }
        if (p.Outcome == Outcomes.Rejected && o.Outcome == Outcomes.Rejected && p.Rejection is not null &&
            (o.Rejection is null || !o.Rejection.Contains(p.Rejection, StringComparison.Ordinal)))
            list.Add($"rejection: predicted '{p.Rejection}', observed '{o.Rejection}'");
        return list;
    }
}
