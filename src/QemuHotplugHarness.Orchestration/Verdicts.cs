using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration;

public sealed record CellResult(string Name, int Repeat, Scenario Scenario, Prediction Prediction, Observation Observation, IReadOnlyList<string> Mismatches)
{
    public bool Match => Mismatches.Count == 0;
}

public static class Verdicts
{
    public const string PatchFixes = "patch-fixes";
    public const string PatchDoesNotFix = "patch-does-not-fix";
    public const string NotReproduced = "not-reproduced";
    public const string Mismatch = "mismatch";
    public const string InfraError = "infra-error";

    public static string Decide(IReadOnlyList<CellResult> cells)
    {
        if (cells.Count == 0) return InfraError;
        if (cells.Any(c => c.Observation.Outcome is Outcomes.InfraError or "precondition-failed")) return InfraError;
        if (cells.Any(c => c.Scenario.Kernel.Variant == KernelVariant.Patched && c.Scenario.Kernel.Image is null && c.Observation.Outcome == Outcomes.Oops))
            return PatchDoesNotFix;
        if (cells.Any(c => c.Prediction.Outcome == Outcomes.Oops && c.Observation.Outcome != Outcomes.Oops)) return NotReproduced;
        if (cells.Any(c => !c.Match)) return Mismatch;
        return PatchFixes;
    }

    public static int ExitCode(string verdict, bool bisect) => bisect
        ? verdict switch { PatchFixes => 0, InfraError => 125, _ => 1 }
        : verdict switch { PatchFixes => 0, InfraError => 3, _ => 1 };
}
