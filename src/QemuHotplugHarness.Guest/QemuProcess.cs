using System.Diagnostics;
using System.Text;
using CliWrap;
using QemuHotplugHarness.Oops;
using Serilog;

namespace QemuHotplugHarness.Guest;

/// <summary>
/// Owns one QEMU process: streams its serial console to console.log as bytes arrive and through the oops
/// detector, keeps its stderr, and on dispose tears it down (QMP quit, then SIGINT, then SIGKILL).
/// </summary>
public sealed class QemuProcess : IAsyncDisposable
{
    private readonly CancellationTokenSource _graceful = new();
    private readonly CancellationTokenSource _forceful = new();
    private readonly StreamWriter _console;
    private readonly StringBuilder _stderr = new();
    private readonly List<string> _consoleLines = [];
    private readonly object _gate = new();
    private readonly OopsDetector _detector = new();
    private readonly List<OopsReport> _oopses = [];
    private readonly ILogger _log;
    private Task<CommandResult>? _task;

    public QemuProcess(string binary, IReadOnlyList<string> args, string consoleLog, ILogger log)
    {
        Binary = binary;
        Arguments = args;
        _log = log;
        _console = new StreamWriter(new FileStream(consoleLog, FileMode.Create, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    public string Binary { get; }
    public IReadOnlyList<string> Arguments { get; }
    public int? ProcessId { get; private set; }
    public Stopwatch Clock { get; } = new();
    public bool HasExited => _task?.IsCompleted ?? false;
    public string Stderr { get { lock (_gate) return _stderr.ToString(); } }
    public IReadOnlyList<OopsReport> Oopses { get { lock (_gate) return _oopses.ToList(); } }
    /// <summary>True while an oops report is arriving on the console.</summary>
    public bool OopsInProgress { get { lock (_gate) return _detector.InReport; } }
    public event Action<string>? ConsoleLine;

    /// <summary>Every QEMU the harness starts, by pid: lets tests prove none outlives its run.</summary>
    public static event Action<int>? AnyStarted;

    public void Start()
    {
        Clock.Start();
        var cmd = Cli.Wrap(Binary).WithArguments(Arguments).WithValidation(CommandResultValidation.None)
            .WithStandardInputPipe(PipeSource.Null)
            .WithStandardOutputPipe(PipeTarget.ToDelegate(OnConsole))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(l => { lock (_gate) _stderr.AppendLine(l); }));
        var task = cmd.ExecuteAsync(_forceful.Token, _graceful.Token);
        ProcessId = task.ProcessId;
        _task = task.Task;
        AnyStarted?.Invoke(task.ProcessId);
        _log.Debug("qemu: started pid {Pid}", ProcessId);
    }

    private void OnConsole(string line)
    {
        lock (_gate)
        {
            _console.WriteLine(line);
            _consoleLines.Add(line);
            if (_detector.Feed(line) is { } report) _oopses.Add(report);
        }
        ConsoleLine?.Invoke(line);
    }

    public bool ConsoleContains(string marker)
    {
        lock (_gate) return _consoleLines.Any(l => l.Contains(marker, StringComparison.Ordinal));
    }

    /// <summary>Waits for exit up to <paramref name="timeout"/>; true if exited.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        if (_task is null) return true;
        return await Task.WhenAny(_task, Task.Delay(timeout)) == _task;
    }

    /// <summary>Ends the report still being printed (end of stream) so it is not lost.</summary>
    public void FlushDetector()
    {
        lock (_gate)
            if (_detector.Finish() is { } r) _oopses.Add(r);
    }

    public async ValueTask DisposeAsync()
    {
        if (_task is not null && !_task.IsCompleted)
        {
            _graceful.Cancel(); // SIGINT: QEMU exits cleanly
            if (!await WaitForExitAsync(TimeSpan.FromSeconds(5)))
            {
                _forceful.Cancel(); // SIGKILL
                await WaitForExitAsync(TimeSpan.FromSeconds(5));
            }
        }
        try { if (_task is not null) await _task; } catch (OperationCanceledException) { }
        FlushDetector();
        await _console.DisposeAsync();
        _graceful.Dispose();
        _forceful.Dispose();
        _log.Debug("qemu: pid {Pid} gone", ProcessId);
    }
}
