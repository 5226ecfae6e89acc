using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration.Validation;

/// <summary>
/// Where a real guest and the simulator part, field by field: the layout the guest booted with (System RAM above
/// 4 GiB, Persistent Memory), then what <see cref="Comparison"/> checks (outcome, oops iteration, fault pfn, QEMU's
/// rejection). Each line starts with the field's name as in prediction.json.
/// </summary>
public static class Agreement
{
    public static IReadOnlyList<string> Disagreements(Prediction p, Observation o)
    {
        var list = new List<string>();
        if (o.Layout is { } seen)
        {
            if (seen.SystemRamAbove4G != p.Layout.SystemRamAbove4G)
                list.Add($"layout.systemRamAbove4G: predicted {Text(p.Layout.SystemRamAbove4G)}, observed {Text(seen.SystemRamAbove4G)}");
            if (seen.PersistentMemory != p.Layout.PersistentMemory)
                list.Add($"layout.persistentMemory: predicted {Text(p.Layout.PersistentMemory)}, observed {Text(seen.PersistentMemory)}");
        }
        list.AddRange(Comparison.Mismatches(p, o));
        return list;
    }

    /// <summary>The field a disagreement names ("outcome", "layout.persistentMemory").</summary>
    public static string Field(string disagreement) => disagreement[..disagreement.IndexOf(':', StringComparison.Ordinal)];

    private static string Text(AddressRange? range) => range?.ToString() ?? "none";
}
