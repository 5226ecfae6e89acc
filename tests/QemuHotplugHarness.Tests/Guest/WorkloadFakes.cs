using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Guest;

/// <summary>
/// A console that shows the oopses it is told to print, ten lines per command run; a late oops (the kernel ended the
/// command before its report reached the serial console) shows only once the runner waits for the console's witness.
/// Counts how often the runner waited for it to settle and for its witness.
/// </summary>
public sealed class FakeConsole : IGuestConsole
{
    private readonly List<OopsReport> _oopses = [];
    private OopsReport? _late;
    public IReadOnlyList<OopsReport> Oopses => _oopses;
    public int Lines { get; set; }
    public int Settles { get; private set; }
    public int Witnesses { get; private set; }

    public void Print(OopsReport oops) => _oopses.Add(oops with { StartLine = Lines + 1 });

    /// <summary>Prints <paramref name="oops"/> only when the runner next waits for the console's witness.</summary>
    public void PrintLate(OopsReport oops) => _late = oops with { StartLine = Lines + 1 };

    public Task SettleAsync(CancellationToken ct)
    {
        Settles++;
        return Task.CompletedTask;
    }

    public Task AwaitWitnessAsync(CancellationToken ct)
    {
        Witnesses++;
        if (_late is { } late) _oopses.Add(late);
        _late = null;
        return SettleAsync(ct);
    }
}

/// <summary>
/// A shell that answers each ndctl command (argument arrays, numbered from 1 in the order they run) as scripted, and
/// every other command (cat /proc/iomem) with <see cref="Iomem"/>. A scripted oops is printed on the console while
/// its command runs, as a guest kernel would. Every command is written down, with the timeout it was given.
/// </summary>
public sealed class ScriptedShell(FakeConsole console) : IGuestShell
{
    private readonly Dictionary<int, (int? Exit, string Stderr, bool TimedOut, OopsReport? Oops, string? Signal, bool Late)> _script = [];
    private int _argvCalls;

    public List<string> Commands { get; } = [];
    public List<TimeSpan> Timeouts { get; } = [];

    /// <summary>namespace0.0 and dax0.0 where the seed's reconfiguration puts them.</summary>
    public string Iomem { get; set; } =
        "00000000-00000fff : Reserved\n00100000-bffdefff : System RAM\n100000000-143ffffff : System RAM\n" +
        "144000000-343dfffff : Persistent Memory\n  144000000-1441fffff : namespace0.0\n  144200000-144ffffff : dax0.0\n";

    /// <summary>
    /// What the <paramref name="call"/>-th argument-array command does (1-based); unscripted ones exit 0. A
    /// <paramref name="signal"/> ends it with no exit code (sshd's exit-signal); <paramref name="late"/> prints its oops
    /// only after the command returned.
    /// </summary>
    public ScriptedShell On(int call, int? exit = 0, string stderr = "", bool timedOut = false, OopsReport? oops = null, string? signal = null, bool late = false)
    {
        _script[call] = (signal is null ? exit : null, stderr, timedOut, oops, signal, late);
        return this;
    }

    public Task<GuestCommandResult> RunAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken ct)
    {
        var command = string.Join(' ', argv);
        Commands.Add(command);
        Timeouts.Add(timeout);
        var (exit, stderr, timedOut, oops, signal, late) = _script.GetValueOrDefault(++_argvCalls, (0, "", false, null, null, false));
        if (oops is not null && late) console.PrintLate(oops);
        else if (oops is not null) console.Print(oops);
        console.Lines += 10;
        return Task.FromResult(new GuestCommandResult(command, timedOut ? null : exit, "", stderr, timedOut ? timeout.TotalSeconds : 0.25, timedOut, signal));
    }

    public Task<GuestCommandResult> RunShellAsync(string command, TimeSpan timeout, CancellationToken ct)
    {
        Commands.Add(command);
        Timeouts.Add(timeout);
        return Task.FromResult(new GuestCommandResult(command, 0, command == "cat /proc/iomem" ? Iomem : "", "", 0.01, false));
    }
}

/// <summary>Writes down what the runner records, one line per step or iomem snapshot.</summary>
public sealed class ListRecorder : IWorkloadRecorder
{
    public List<string> Lines { get; } = [];

    public Task StepAsync(WorkloadStep step, GuestCommandResult result, CancellationToken ct)
    {
        Lines.Add($"step {step.Name}: exit {result.ExitCode?.ToString() ?? "none"}{(result.TimedOut ? " (timed out)" : "")}");
        return Task.CompletedTask;
    }

    public Task IomemAsync(int iteration, string iomem, CancellationToken ct)
    {
        Lines.Add($"iomem {iteration}: {iomem.Split('\n').Count(l => l.Length > 0)} lines");
        return Task.CompletedTask;
    }
}
