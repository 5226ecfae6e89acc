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
/// Runs the ndctl steps against a shell and a console and decides how the workload ended: the first oops wins
/// (even when the command it killed then timed out), then a lost SSH connection (infra-error: the harness cannot
/// say what the kernel did), then a timeout (hung), then a failing exit (workload-failed).
/// An oops during a label step is at iteration 0. Knows nothing of SSH or QEMU: tests drive it with fakes.
/// </summary>
public sealed class WorkloadRunner(IGuestShell shell, IGuestConsole console, IWorkloadRecorder recorder, GuestTimeouts timeouts)
{
    private readonly List<ObservedIteration> _iterations = [];

    public async Task<WorkloadResult> RunAsync(IReadOnlyList<WorkloadStep> steps, Action<string>? progress, CancellationToken ct)
    {
        var iteration = 0;
        foreach (var step in steps)
        {
            if (step.IsReconfigure) iteration++;
            progress?.Invoke(step.IsReconfigure ? $"iteration {iteration}" : step.Name);
            var result = await shell.RunAsync(step.Arguments, timeouts.Command, ct);
            await recorder.StepAsync(step, result, ct);
            await console.SettleAsync(ct);
            var end = step.IsReconfigure ? await ReconfiguredAsync(iteration, result, ct) : LabelStep(step, result);
            if (end is not null) return end;
        }
        return Result(Outcome.Clean, null, null);
    }

    private WorkloadResult? LabelStep(WorkloadStep step, GuestCommandResult result)
    {
        if (console.Oopses.Count > 0) return Result(Outcome.Oops, null, oopsIteration: 0);
        if (result.ConnectionLost) return Result(Outcome.InfraError, $"{step.Name}: {result.Stderr.Trim()}", null);
        if (result.ExitCode == 0) return null;
        var error = $"{step.Name} failed: {(result.TimedOut ? $"no answer within {timeouts.Command.TotalSeconds:F0} s" : result.Stderr.Trim())}";
        return Result(result.TimedOut ? Outcome.Hung : Outcome.WorkloadFailed, error, null);
    }

    private async Task<WorkloadResult?> ReconfiguredAsync(int iteration, GuestCommandResult result, CancellationToken ct)
    {
        AddressRange? ns = null, dax = null;
        if (console.Oopses.Count == 0 && result.ExitCode is not null)
        {
            var iomem = (await shell.RunShellAsync("cat /proc/iomem", timeouts.Probe, ct)).Stdout;
            await recorder.IomemAsync(iteration, iomem, ct);
            ns = Iomem.Find(iomem, "namespace0.0", above4G: true);
            dax = Iomem.Find(iomem, "dax0.0", above4G: true) ?? Iomem.Find(iomem, "pmem0", above4G: true);
        }
        _iterations.Add(new ObservedIteration(iteration, result.Command, result.ExitCode, Math.Round(result.Seconds, 3), result.TimedOut, ns, dax, result.Stderr.Trim()));
        if (console.Oopses.Count > 0) return Result(Outcome.Oops, null, iteration);
        if (result.ConnectionLost) return Result(Outcome.InfraError, $"iteration {iteration}: {result.Stderr.Trim()}", null);
        if (result.TimedOut) return Result(Outcome.Hung, $"iteration {iteration} did not finish within {timeouts.Command.TotalSeconds:F0} s", null);
        if (result.ExitCode != 0) return Result(Outcome.WorkloadFailed, $"iteration {iteration}: ndctl exit {result.ExitCode}: {result.Stderr.Trim()}", null);
        return null;
    }

    private WorkloadResult Result(Outcome outcome, string? error, int? oopsIteration) => new(outcome, error, _iterations.ToList(), oopsIteration);
}
