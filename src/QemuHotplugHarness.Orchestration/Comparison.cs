using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration;

/// <summary>Prediction and observation side by side: they match when outcome, oops iteration and fault pfn agree.</summary>
public static class Comparison
{
    public static IReadOnlyList<string> Mismatches(Prediction p, Observation o, string said = "predicted")
    {
        var list = new List<string>();
        if (p.Outcome != o.Outcome) list.Add($"outcome: predicted {p.Outcome.Kebab()}, observed {o.Outcome.Kebab()}");
        if (p.Outcome == Outcome.Oops && o.Outcome == Outcome.Oops)
        {
            // An expectation may leave the iteration open; the simulator always names one.
            if (p.OopsIteration is not null && p.OopsIteration != o.OopsIteration) list.Add($"oopsIteration: {said} {p.OopsIteration}, observed {o.OopsIteration}");
            if (p.OopsTitle is not null && !new CaseExpectation(Outcome.Oops, p.OopsTitle).TitleMatches(o.Oopses.FirstOrDefault()?.Title))
                list.Add($"title: {said} '{p.OopsTitle}', observed '{o.Oopses.FirstOrDefault()?.Title ?? "none"}'");
            // A fault pfn is predicted only where the kernel reports one (a fault in vmemmap); a poison BUG reports none.
            if (p.FirstFaultPfn is not null && o.FaultPfn is null) list.Add($"faultPfn: predicted {Pfn(p.FirstFaultPfn)}, observed none (not a vmemmap fault, or VMCOREINFO unreadable)");
            else if (p.FirstFaultPfn is not null && p.FirstFaultPfn != o.FaultPfn) list.Add($"faultPfn: predicted {Pfn(p.FirstFaultPfn)}, observed {Pfn(o.FaultPfn)}");
        }
        if (p.Outcome == Outcome.Rejected && o.Outcome == Outcome.Rejected && p.Rejection is not null &&
            (o.Rejection is null || !o.Rejection.Contains(p.Rejection, StringComparison.Ordinal)))
            list.Add($"rejection: predicted '{p.Rejection}', observed '{o.Rejection}'");
        return list;
    }

    private static string Pfn(ulong? pfn) => pfn is { } v ? Hex.Format(v) : "none";
}
