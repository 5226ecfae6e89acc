using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Simulator;

/// <summary>
/// What the simulator does not model. A scenario with any of these is outside the model: predict says why instead
/// of guessing, and validate never draws it.
/// </summary>
public static class ModelLimits
{
    /// <summary>One reason per thing the model cannot predict; empty when the scenario is inside the model.</summary>
    public static IReadOnlyList<string> NotModelled(Scenario s, Scenarios.Cases.CaseModel? model = null)
    {
        var reasons = new List<string>();
        if (s.Kernel.Image is { } image)
            reasons.Add($"kernel image '{image}': which section_deactivate() a prebuilt kernel has is unknown (the model knows the unpatched and patched variants; register the image as unpatched=PATH or patched=PATH)");
        if (!s.Workload.InitLabels)
            reasons.Add("a workload without init-labels: where ndctl places a namespace on a region with stale or no labels is not modelled");
        if (s.Workload.IsCustom && model is null)
            reasons.Add("a case's own workload steps without a model of its fix (case.json \"model\"): the simulator models the ndctl reconfigure loop of namespace0.0");
        if (s.Workload.IsCustom && model is not null)
        {
            if (CaseSteps.NotModelled(s.Workload) is { } steps) reasons.Add(steps);
            if (!model.DebugVm)
                reasons.Add("a kernel without CONFIG_DEBUG_VM: a never-initialised struct page holds whatever its memory held (the boot memmap of an early section, device memory under an altmap), so what a reader does with it is not deterministic");
        }
        return reasons;
    }

    public static bool IsModelled(Scenario s, Scenarios.Cases.CaseModel? model = null) => NotModelled(s, model).Count == 0;
}
