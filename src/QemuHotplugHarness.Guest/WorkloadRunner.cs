using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Guest;

/// <summary>Where the workload's record goes (the cell's ndctl.log and iomem-N.txt on a real run).</summary>
public interface IWorkloadRecorder
{
    Task StepAsync(WorkloadStep step, GuestCommandResult result, CancellationToken ct);
    Task IomemAsync(int iteration, string iomem, CancellationToken ct);
}

/// <summary>How the workload ended; <see cref="Marks"/> say where on the console each step began.</summary>
public sealed record WorkloadResult(Outcome Outcome, string? Error, IReadOnlyList<ObservedIteration> Iterations, int? OopsIteration)
{
    public IReadOnlyList<StepMark> Marks { get; init; } = [];

    /// <summary>
    /// The console has the last word: an oops it showed at any time before the cell ended (after the step's result
    /// was judged, during collection) makes the outcome <c>oops</c>, at the iteration whose step was running when
    /// the report began. A result that already is an oops keeps its iteration.
    /// </summary>
    public WorkloadResult WithConsoleOopses(IReadOnlyList<int> oopsStartLines)
    {
        if (Outcome == Outcome.Oops || oopsStartLines.Count == 0) return this;
        var iteration = StepMark.IterationAt(Marks, oopsStartLines.Min());
        return this with { Outcome = Outcome.Oops, OopsIteration = iteration, Error = null, Superseded = $"{Outcome.Kebab()}: {Error}" };
    }

    /// <summary>What the step's own result said before the console's oops overruled it (null when nothing was overruled).</summary>
    public string? Superseded { get; init; }
}

/// <summary>A workload step began when the console had shown <see cref="Line"/> lines; setup steps are iteration 0.</summary>
public sealed record StepMark(int Iteration, int Line)
{
    /// <summary>The iteration of the last step that began at or before <paramref name="line"/>; 0 before any step.</summary>
    public static int IterationAt(IReadOnlyList<StepMark> marks, int line) =>
        marks.LastOrDefault(m => m.Line < line)?.Iteration ?? 0;
}

/// <summary>
/// Runs the workload's steps (the ndctl loop, or a case's setup and iteration commands) against a shell and a console
/// and decides how the workload ended: the first oops wins (even when the command it killed then timed out), then a
/// lost SSH connection (infra-error: the harness cannot say what the kernel did), then a timeout (hung), then a
/// failing exit (workload-failed). An oops during a setup step is at iteration 0; a step of iteration k counts as k.
/// Knows nothing of SSH or QEMU: tests drive it with fakes.
/// </summary>
public sealed class WorkloadRunner(IGuestShell shell, IGuestConsole console, IWorkloadRecorder recorder, GuestTimeouts timeouts, IGuestHost? host = null)
{
    private readonly List<ObservedIteration> _iterations = [];
    private readonly List<StepMark> _marks = [];

    public async Task<WorkloadResult> RunAsync(IReadOnlyList<WorkloadStep> steps, Action<string>? progress, CancellationToken ct)
    {
        var reported = 0;
        foreach (var step in steps)
        {
            if (step.IsSetup) progress?.Invoke(step.Name);
            else if (step.Iteration != reported) progress?.Invoke($"iteration {reported = step.Iteration}");
            _marks.Add(new StepMark(step.IsSetup ? 0 : step.Iteration, console.Lines));
            var result = step.Host is { } h ? await RunHostAsync(h, ct) : await shell.RunAsync(step.Arguments, timeouts.Command, ct);
            await recorder.StepAsync(step, result, ct);
            if (result.Failed && console.Oopses.Count == 0) await console.AwaitWitnessAsync(ct);
            else await console.SettleAsync(ct);
            var end = step.IsSetup ? SetupStep(step, result) : await IterationStepAsync(step, result, ct);
            if (end is not null) return end;
        }
        return Result(Outcome.Clean, null, null);
    }

    /// <summary>
    /// A host step within its timeout; an oops the console shows meanwhile ends it at once (the wait for an event the
    /// crashed kernel will never send is not waited out). Its result then says so and the oops decides the outcome.
    /// </summary>
    private async Task<GuestCommandResult> RunHostAsync(HostStep step, CancellationToken ct)
    {
        if (host is null) throw new InvalidOperationException("a host step needs the guest's QMP");
        var before = console.Oopses.Count;
        var started = System.Diagnostics.Stopwatch.StartNew();
        using var oopsed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = new HostStepRunner(host, shell).RunAsync(step, step.Timeout ?? timeouts.Command, oopsed.Token);
        var watch = WatchForOopsAsync(before, oopsed.Token);
        if (await Task.WhenAny(run, watch) == run)
        {
            await oopsed.CancelAsync();
            return await run;
        }
        await oopsed.CancelAsync();
        try
        {
            await run;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }
        return new GuestCommandResult(string.Join(' ', step.Describe()), null, "", "ended by the oops on the console", started.Elapsed.TotalSeconds, false);
    }

    private async Task WatchForOopsAsync(int before, CancellationToken ct)
    {
        while (console.Oopses.Count <= before) await Task.Delay(100, ct);
    }

    private WorkloadResult? SetupStep(WorkloadStep step, GuestCommandResult result)
    {
        if (console.Oopses.Count > 0) return Result(Outcome.Oops, null, oopsIteration: 0);
        if (result.ConnectionLost) return Result(Outcome.InfraError, $"{step.Name}: {Lost(result)}", null);
        if (result.ExitCode == 0) return null;
        var error = $"{step.Name} failed: {(result.TimedOut ? $"no answer within {timeouts.Command.TotalSeconds:F0} s" : StderrOr(result))}";
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
        if (result.ConnectionLost) return Result(Outcome.InfraError, $"{which}: {Lost(result)}", null);
        if (result.TimedOut) return Result(Outcome.Hung, $"{which} did not finish within {(step.Host?.Timeout ?? timeouts.Command).TotalSeconds:F0} s", null);
        if (result.ExitCode != 0) return Result(Outcome.WorkloadFailed, $"{which}: {step.Arguments[0]} {Why(result)}", null);
        return null;
    }

    private string Lost(GuestCommandResult r) =>
        $"{(r.Stderr.Trim() is { Length: > 0 } e ? e : "ssh connection lost")} (no oops on the console within {timeouts.OopsWitness.TotalSeconds:F0} s)";

    private static string StderrOr(GuestCommandResult r) => r.Stderr.Trim() is { Length: > 0 } e ? e : r.Ending;

    private static string Why(GuestCommandResult r) => r.Stderr.Trim() is { Length: > 0 } e ? $"{r.Ending}: {e}" : r.Ending;

    private WorkloadResult Result(Outcome outcome, string? error, int? oopsIteration) =>
        new(outcome, error, _iterations.ToList(), oopsIteration) { Marks = _marks.ToList() };
}
