using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Simulator;

/// <summary>
/// What the simulator does not model. A scenario with any of these is outside the model: predict says why instead
/// of guessing, and validate never draws it.
/// </summary>
public static class ModelLimits
{
    /// <summary>One reason per thing the model cannot predict; empty when the scenario is inside the model.</summary>
    public static IReadOnlyList<string> NotModelled(Scenario s)
    {
        var reasons = new List<string>();
        if (s.Kernel.Image is { } image)
            reasons.Add($"kernel image '{image}': which section_deactivate() a prebuilt kernel has is unknown (the model knows the unpatched and patched variants; register the image as unpatched=PATH or patched=PATH)");
        if (!s.Workload.InitLabels)
            reasons.Add("a workload without init-labels: where ndctl places a namespace on a region with stale or no labels is not modelled");
        if (s.Workload.IsCustom)
            reasons.Add("a case's own workload steps: the simulator models only the ndctl reconfigure loop of namespace0.0");
        return reasons;
    }

    public static bool IsModelled(Scenario s) => NotModelled(s).Count == 0;
}
