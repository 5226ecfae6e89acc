using System.Diagnostics;
using System.Text;
using CliWrap;
using QemuHotplugHarness.Oops;
using Serilog;

namespace QemuHotplugHarness.Guest;

/// <summary>
/// Owns one QEMU process: streams its serial console to console.log as lines arrive and through the oops
/// detector, keeps its stderr, and on dispose tears it down (SIGINT, then SIGKILL, each bounded). The guest
/// that owns it sends QMP quit first.
/// </summary>
public sealed class QemuProcess : IAsyncDisposable
{
    private readonly CancellationTokenSource _graceful = new();
    private readonly CancellationTokenSource _forceful = new();
    private readonly FileStream _console;
    private readonly string _consolePath;
    private string? _consoleUnsaved;
    private long _consoleLost;
    private readonly StringBuilder _stderr = new();
    private readonly Dictionary<string, TimeSpan> _markers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _markerLines = new(StringComparer.Ordinal);
    private readonly List<string> _watched = [];
    private readonly object _gate = new();
    private readonly OopsDetector _detector = new();
    private readonly List<OopsReport> _oopses = [];
    private readonly ILogger _log;
    private readonly TimeSpan _teardownStep;
    private Task<CommandResult>? _task;

    public QemuProcess(string binary, IReadOnlyList<string> args, string consoleLog, TimeSpan teardownStep, ILogger log)
    {
        Binary = binary;
        Arguments = args;
        _log = log;
        _teardownStep = teardownStep;
        _consolePath = consoleLog;
        _console = new FileStream(consoleLog, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1);
    }

    public string Binary { get; }
    public IReadOnlyList<string> Arguments { get; }
    public int? ProcessId { get; private set; }
    public Stopwatch Clock { get; } = new();
    public bool HasExited => _task?.IsCompleted ?? false;

    /// <summary>How QEMU ended, once it has: "exit code N" or "killed by SIGKILL" (.NET reports a signal as 128 + its number).</summary>
    public string? ExitDescription => _task is { IsCompletedSuccessfully: true } t ? Describe(t.Result.ExitCode) : null;

    private static string Describe(int code) => code switch
    {
        137 => "killed by SIGKILL",
        143 => "killed by SIGTERM",
        134 => "aborted (SIGABRT)",
        139 => "crashed (SIGSEGV)",
        > 128 and < 160 => $"killed by signal {code - 128}",
        _ => $"exit code {code}",
    };
    public string Stderr { get { lock (_gate) return _stderr.ToString(); } }
    public IReadOnlyList<OopsReport> Oopses { get { lock (_gate) return _oopses.ToList(); } }
    /// <summary>Console lines seen so far, on the scale of <see cref="OopsReport.StartLine"/>.</summary>
    public int ConsoleLines { get { lock (_gate) return _detector.LinesFed; } }
    /// <summary>True while an oops report is arriving on the console.</summary>
    public bool OopsInProgress { get { lock (_gate) return _detector.InReport; } }

    /// <summary>Why console.log stopped being saved (a full disk, say), or null while every byte is saved.</summary>
    public string? ConsoleUnsaved { get { lock (_gate) return _consoleUnsaved is null ? null : $"{_consoleUnsaved} ({_consoleLost} bytes not saved)"; } }

    /// <summary>
    /// The longest line the detector and the marker watch see: a guest that prints without newlines (a log storm)
    /// cannot make the harness hold an unbounded line. console.log still gets every byte.
    /// </summary>
    public const int MaxLineBytes = 64 * 1024;

    /// <summary>Every QEMU the harness starts, by pid: lets tests prove none outlives its run.</summary>
    public static event Action<int>? AnyStarted;

    public void Start()
    {
        Clock.Start();
        var (exe, args) = LifetimeBound.Wrap(Binary, Arguments); // no QEMU outlives a harness killed with SIGKILL
        var cmd = Cli.Wrap(exe).WithArguments(args).WithValidation(CommandResultValidation.None)
            .WithStandardInputPipe(PipeSource.Null)
            .WithStandardOutputPipe(PipeTarget.Create(ReadConsoleAsync))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(l => { lock (_gate) _stderr.AppendLine(l); }));
        var task = LifetimeBound.Start(() => cmd.ExecuteAsync(_forceful.Token, _graceful.Token));
        ProcessId = task.ProcessId;
        _task = task.Task;
        AnyStarted?.Invoke(task.ProcessId);
        _log.Debug("qemu: started pid {Pid}", ProcessId);
    }

    /// <summary>The serial console as it arrives: every byte to console.log, lines (each at most <see cref="MaxLineBytes"/>) to the watchers.</summary>
    private async Task ReadConsoleAsync(Stream stream, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        var line = new MemoryStream();
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            Save(buffer.AsSpan(0, n));
            var start = 0;
            for (var i = 0; i < n; i++)
            {
                if (buffer[i] != (byte)'\n' && line.Length + (i - start) < MaxLineBytes) continue;
                line.Write(buffer, start, i - start);
                start = buffer[i] == (byte)'\n' ? i + 1 : i;
                OnConsole(Decode(line));
            }
            line.Write(buffer, start, n - start);
        }
        if (line.Length > 0) OnConsole(Decode(line));
    }

    private static string Decode(MemoryStream line)
    {
        var text = Encoding.UTF8.GetString(line.GetBuffer(), 0, (int)line.Length).TrimEnd('\r');
        line.SetLength(0);
        return text;
    }

    /// <summary>Appends to console.log; a write that fails (disk full) is said once and the console is still watched.</summary>
    private void Save(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            if (_consoleUnsaved is not null)
            {
                _consoleLost += bytes.Length;
                return;
            }
            try
            {
                _console.Write(bytes);
            }
            catch (IOException e)
            {
                _consoleUnsaved = $"could not save {_consolePath}: {e.Message}";
                _consoleLost += bytes.Length;
                _log.Error("{Unsaved}; the console is still watched for the ready marker and oopses", _consoleUnsaved);
            }
        }
    }

    private void OnConsole(string line)
    {
        lock (_gate)
        {
            foreach (var marker in _watched)
                if (!_markers.ContainsKey(marker) && line.Contains(marker, StringComparison.Ordinal))
                {
                    _markers[marker] = Clock.Elapsed;
                    _markerLines[marker] = line;
                }
            if (_detector.Feed(line) is { } report) _oopses.Add(report);
        }
    }

    /// <summary>Writes <paramref name="text"/> to console.log as it is, before QEMU's own lines (not scanned: it is not this QEMU's).</summary>
    public void Note(string text)
    {
        lock (_gate) _console.Write(System.Text.Encoding.UTF8.GetBytes(text));
    }

    /// <summary>When the console first showed <paramref name="marker"/> since QEMU started (watched from the first call on); null if not yet.</summary>
    public TimeSpan? MarkerTime(string marker)
    {
        lock (_gate)
        {
            if (!_watched.Contains(marker)) _watched.Add(marker);
            return _markers.TryGetValue(marker, out var t) ? t : null;
        }
    }

    /// <summary>The console line that first showed <paramref name="marker"/> (watched from the first call on); null if none yet.</summary>
    public string? MarkerLine(string marker)
    {
        lock (_gate)
        {
            if (!_watched.Contains(marker)) _watched.Add(marker);
            return _markerLines.GetValueOrDefault(marker);
        }
    }

    /// <summary>QEMU's own complaint: its last "qemu-system…" stderr line, else all of stderr.</summary>
    public string LastError() =>
        Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .LastOrDefault(l => l.StartsWith("qemu-system", StringComparison.Ordinal)) ?? Stderr.Trim();

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
            if (!await WaitForExitAsync(_teardownStep))
            {
                _forceful.Cancel(); // SIGKILL
                await WaitForExitAsync(_teardownStep);
            }
        }
        try { if (_task is not null) await _task; } catch (OperationCanceledException) { }
        FlushDetector();
        try { await _console.DisposeAsync(); } catch (IOException) { } // already said by Save
        if (ConsoleUnsaved is { } unsaved) _log.Error("console: {Unsaved}", unsaved);
        _graceful.Dispose();
        _forceful.Dispose();
        _log.Debug("qemu: pid {Pid} gone", ProcessId);
    }
}
