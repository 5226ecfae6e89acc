using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

/// <summary>What runs a scenario for a run: builds what it boots, then boots it and observes (a real guest: <see cref="Reproducer"/>).</summary>
public interface ICellObserver
{
    /// <summary>Builds (or takes from the cache) what the scenario boots, so cell times are guest times.</summary>
    Task PrepareAsync(Scenario scenario, KernelRecipe? kernel, CancellationToken ct);

    /// <summary>Runs the scenario and writes its folder; an infrastructure fault is an infra-error observation, not an exception.</summary>
    Task<Observation> ObserveAsync(CellRequest request, RunOptions options, CancellationToken ct);
}
