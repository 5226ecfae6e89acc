using System.Diagnostics;
using System.Text;
using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Build;

/// <summary>
/// Runs external tools through CliWrap (argument arrays only), streaming their output to a build log as it
/// arrives, with a timeout, cancellation, a heartbeat on long steps, and the log's tail in the error.
/// </summary>
public sealed class ToolRunner(ILogger log, string logPath, ToolTimings? timings = null)
{
    /// <summary>Debian's tools first: a pyenv python on PATH lacks what meson needs.</summary>
    public static readonly string SystemPath = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin";

    public string LogPath { get; } = logPath;

    public async Task<string> RunAsync(ToolCall call, CancellationToken ct)
    {
        await using var output = ToolOutput.Open(LogPath);
        await output.HeaderAsync($"$ [{call.Step}] (cd {call.WorkDir}) {call.Exe} {string.Join(' ', call.Args)}");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(call.Timeout);
        var watch = Stopwatch.StartNew();
        if (!call.Quiet) log.Information("{Step}: {Exe} {Args}", call.Step, Path.GetFileName(call.Exe), Shorten(string.Join(' ', call.Args)));
        var cmd = Cli.Wrap(call.Exe).WithArguments(call.Args).WithWorkingDirectory(call.WorkDir)
            .WithEnvironmentVariables(new Dictionary<string, string?> { ["PATH"] = SystemPath, ["LC_ALL"] = "C" })
            .WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(PipeTarget.ToDelegate(l => output.Line(l, isStdout: true)))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(l => output.Line(l, isStdout: false)));
        var heartbeat = HeartbeatAsync(call, output, watch, cts.Token);
        CommandResult result;
        try
        {
            result = await cmd.ExecuteAsync(cts.Token, cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new InfrastructureException($"{call.Step}: {Path.GetFileName(call.Exe)} timed out after {call.Timeout.TotalMinutes:F0} min (log: {LogPath})");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InfrastructureException($"{call.Step}: cannot run {call.Exe}: {e.Message} (run: dotnet pwsh ./run.ps1 setup)", e);
        }
        finally
        {
            await cts.CancelAsync();
            try { await heartbeat; } catch (OperationCanceledException) { }
        }
        await output.HeaderAsync($"# exit {result.ExitCode} after {watch.Elapsed.TotalSeconds:F1} s");
        timings?.Add(call.Step, watch.Elapsed);
        if (result.ExitCode == 0) return output.Stdout;
        if (!call.Quiet) log.Error("{Step} failed (exit {Code}); the end of its output:{NewLine}{Tail}", call.Step, result.ExitCode, Environment.NewLine, output.Tail);
        throw new ToolFailedException(call.Step, call.Exe, result.ExitCode, output.Tail, LogPath);
    }

    /// <summary>A line every 30 s on long steps (a kernel build), with the tool's last line, so a run never looks stuck.</summary>
    private async Task HeartbeatAsync(ToolCall call, ToolOutput output, Stopwatch watch, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(HeartbeatInterval, ct).ConfigureAwait(false);
            log.Information("{Step}: still running ({Seconds:F0} s): {Last}", call.Step, watch.Elapsed.TotalSeconds, Shorten(output.LastLine));
        }
    }

    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(30);

    private static string Shorten(string s) => s.Length <= 160 ? s : s[..157] + "...";
}

/// <summary>Wall time per tool step, in the order the steps ended (bench build shows where a build's time goes).</summary>
public sealed class ToolTimings
{
    private readonly List<(string Step, TimeSpan Elapsed)> _steps = [];

    public void Add(string step, TimeSpan elapsed) { lock (_steps) _steps.Add((step, elapsed)); }

    public IReadOnlyList<(string Step, TimeSpan Elapsed)> Snapshot() { lock (_steps) return _steps.ToList(); }
}

/// <summary>One tool invocation: what the log calls it, the program, its argument array, where it runs, its bound.</summary>
public sealed record ToolCall(string Step, string Exe, IEnumerable<string> Args, string WorkDir, TimeSpan Timeout)
{
    public IEnumerable<string> Args { get; } = Args.ToList();

    /// <summary>Logged to the build log only, not announced (small queries: dpkg-query, readelf, git status).</summary>
    public bool Quiet { get; init; }

    public ToolCall Quietly() => this with { Quiet = true };
}

/// <summary>A tool's output as it arrives: appended to the build log, stdout kept, the last 25 lines kept for errors.</summary>
internal sealed class ToolOutput : IAsyncDisposable
{
    private const int TailLines = 25;
    private readonly StreamWriter _log;
    private readonly Queue<string> _tail = new();
    private readonly StringBuilder _stdout = new();
    private readonly object _gate = new();
    private string _last = "";

    private ToolOutput(StreamWriter log) => _log = log;

    public static ToolOutput Open(string logPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        return new ToolOutput(new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true });
    }

    public Task HeaderAsync(string line) => _log.WriteLineAsync(line);

    public void Line(string line, bool isStdout)
    {
        lock (_gate)
        {
            _log.WriteLine(line);
            if (isStdout) _stdout.AppendLine(line);
            _tail.Enqueue(line);
            if (_tail.Count > TailLines) _tail.Dequeue();
            _last = line;
        }
    }

    public string Stdout { get { lock (_gate) return _stdout.ToString(); } }
    public string Tail { get { lock (_gate) return string.Join(Environment.NewLine, _tail); } }
    public string LastLine { get { lock (_gate) return _last; } }

    public ValueTask DisposeAsync() => _log.DisposeAsync();
}

/// <summary>A tool exited non-zero: carries the tail of its output.</summary>
public sealed class ToolFailedException(string step, string exe, int exitCode, string tail, string logPath)
    : HarnessException($"{step}: {Path.GetFileName(exe)} failed with exit code {exitCode}: {LastLine(tail)} (log: {logPath})")
{
    private static string LastLine(string tail) =>
        tail.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";

    public string Step { get; } = step;
    public int ToolExitCode { get; } = exitCode;
    public string Tail { get; } = tail;
}
