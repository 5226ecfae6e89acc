using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Guest;

/// <summary>Where the workload's record goes (the cell's ndctl.log and iomem-N.txt on a real run).</summary>
public interface IWorkloadRecorder
{
    Task StepAsync(WorkloadStep step, GuestCommandResult result, CancellationToken ct);
    Task IomemAsync(int iteration, string iomem, CancellationToken ct);
}

/// <summary>How the workload ended.</summary>
public sealed record WorkloadResult(Outcome Outcome, string? Error, IReadOnlyList<ObservedIteration> Iterations, int? OopsIteration);

/// <summary>
/// Runs the workload's steps (the ndctl loop, or a case's setup and iteration commands) against a shell and a console
/// and decides how the workload ended: the first oops wins (even when the command it killed then timed out), then a
/// lost SSH connection (infra-error: the harness cannot say what the kernel did), then a timeout (hung), then a
/// failing exit (workload-failed). An oops during a setup step is at iteration 0; a step of iteration k counts as k.
/// Knows nothing of SSH or QEMU: tests drive it with fakes.
/// </summary>
public sealed class WorkloadRunner(IGuestShell shell, IGuestConsole console, IWorkloadRecorder recorder, GuestTimeouts timeouts)
{
    private readonly List<ObservedIteration> _iterations = [];

    public async Task<WorkloadResult> RunAsync(IReadOnlyList<WorkloadStep> steps, Action<string>? progress, CancellationToken ct)
    {
        var reported = 0;
        foreach (var step in steps)
        {
            if (step.IsSetup) progress?.Invoke(step.Name);
            else if (step.Iteration != reported) progress?.Invoke($"iteration {reported = step.Iteration}");
            var result = await shell.RunAsync(step.Arguments, timeouts.Command, ct);
            await recorder.StepAsync(step, result, ct);
            await console.SettleAsync(ct);
            var end = step.IsSetup ? SetupStep(step, result) : await IterationStepAsync(step, result, ct);
            if (end is not null) return end;
        }
        return Result(Outcome.Clean, null, null);
    }

    private WorkloadResult? SetupStep(WorkloadStep step, GuestCommandResult result)
    {
        if (console.Oopses.Count > 0) return Result(Outcome.Oops, null, oopsIteration: 0);
        if (result.ConnectionLost) return Result(Outcome.InfraError, $"{step.Name}: {result.Stderr.Trim()}", null);
        if (result.ExitCode == 0) return null;
        var error = $"{step.Name} failed: {(result.TimedOut ? $"no answer within {timeouts.Command.TotalSeconds:F0} s" : result.Stderr.Trim())}";
        return Result(result.TimedOut ? Outcome.Hung : Outcome.WorkloadFailed, error, null);
    }

    /// <summary>A step of an iteration; after the ndctl reconfiguration, /proc/iomem says where namespace0.0 and its device went.</summary>
    private async Task<WorkloadResult?> IterationStepAsync(WorkloadStep step, GuestCommandResult result, CancellationToken ct)
    {
        var iteration = step.Iteration;
        AddressRange? ns = null, dax = null;
        if (step.IsReconfigure && console.Oopses.Count == 0 && result.ExitCode is not null)
        {
            var iomem = (await shell.RunShellAsync("cat /proc/iomem", timeouts.Probe, ct)).Stdout;
            await recorder.IomemAsync(iteration, iomem, ct);
            ns = Iomem.Find(iomem, "namespace0.0", above4G: true);
            dax = Iomem.Find(iomem, "dax0.0", above4G: true) ?? Iomem.Find(iomem, "pmem0", above4G: true);
        }
        _iterations.Add(new ObservedIteration(iteration, result.Command, result.ExitCode, Math.Round(result.Seconds, 3), result.TimedOut, ns, dax, result.Stderr.Trim()));
        var which = step.IsReconfigure ? $"iteration {iteration}" : $"iteration {iteration} ({step.Name})";
        if (console.Oopses.Count > 0) return Result(Outcome.Oops, null, iteration);
        if (result.ConnectionLost) return Result(Outcome.InfraError, $"{which}: {result.Stderr.Trim()}", null);
        if (result.TimedOut) return Result(Outcome.Hung, $"{which} did not finish within {timeouts.Command.TotalSeconds:F0} s", null);
        if (result.ExitCode != 0) return Result(Outcome.WorkloadFailed, $"{which}: {step.Arguments[0]} exit {result.ExitCode}: {result.Stderr.Trim()}", null);
        return null;
    }

    private WorkloadResult Result(Outcome outcome, string? error, int? oopsIteration) => new(outcome, error, _iterations.ToList(), oopsIteration);
}
