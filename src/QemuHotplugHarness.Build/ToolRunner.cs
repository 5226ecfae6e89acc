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
public sealed class ToolRunner(ILogger log, string logPath)
{
    /// <summary>Debian's tools first: a pyenv python on PATH lacks what meson needs.</summary>
    public static readonly string SystemPath = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin";

    public string LogPath { get; } = logPath;

    public async Task<string> RunAsync(string step, string exe, IEnumerable<string> args, string workDir,
        TimeSpan timeout, CancellationToken ct, IReadOnlyDictionary<string, string?>? env = null, string? stdin = null,
        bool quiet = false)
    {
        var argList = args.ToList();
        Directory.CreateDirectory(Path.GetDirectoryName(LogPath)!);
        await using var logFile = new StreamWriter(new FileStream(LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        await logFile.WriteLineAsync($"$ [{step}] (cd {workDir}) {exe} {string.Join(' ', argList)}");
        var tail = new Queue<string>();
        var stdout = new StringBuilder();
        var lastLine = "";
        var gate = new object();
        void OnLine(string line, bool isOut)
        {
            lock (gate)
            {
                logFile.WriteLine(line);
                if (isOut) stdout.AppendLine(line);
                tail.Enqueue(line);
                if (tail.Count > 25) tail.Dequeue();
                lastLine = line;
            }
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var watch = Stopwatch.StartNew();
        if (!quiet) log.Information("{Step}: {Exe} {Args}", step, Path.GetFileName(exe), Shorten(string.Join(' ', argList)));
        var environment = new Dictionary<string, string?> { ["PATH"] = SystemPath, ["LC_ALL"] = "C" };
        if (env is not null) foreach (var (k, v) in env) environment[k] = v;
        var cmd = Cli.Wrap(exe).WithArguments(argList).WithWorkingDirectory(workDir).WithEnvironmentVariables(environment)
            .WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(PipeTarget.ToDelegate(l => OnLine(l, true)))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(l => OnLine(l, false)));
        if (stdin is not null) cmd = cmd.WithStandardInputPipe(PipeSource.FromString(stdin));

        var heartbeat = Task.Run(async () =>
        {
            while (!cts.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(30), cts.Token).ConfigureAwait(false);
                string last;
                lock (gate) last = lastLine;
                log.Information("{Step}: still running ({Seconds:F0} s): {Last}", step, watch.Elapsed.TotalSeconds, Shorten(last));
            }
        }, cts.Token);
        CommandResult result;
        try
        {
            result = await cmd.ExecuteAsync(cts.Token, cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new InfrastructureException($"{step}: {Path.GetFileName(exe)} timed out after {timeout.TotalMinutes:F0} min (log: {LogPath})");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InfrastructureException($"{step}: cannot run {exe}: {e.Message} (run: dotnet pwsh ./run.ps1 setup)", e);
        }
        finally
        {
            await cts.CancelAsync();
            try { await heartbeat; } catch (OperationCanceledException) { }
        }
        await logFile.WriteLineAsync($"# exit {result.ExitCode} after {watch.Elapsed.TotalSeconds:F1} s");
        if (result.ExitCode != 0)
        {
            string t;
            lock (gate) t = string.Join(Environment.NewLine, tail);
            if (!quiet) log.Error("{Step} failed (exit {Code}); the end of its output:{NewLine}{Tail}", step, result.ExitCode, Environment.NewLine, t);
            throw new ToolFailedException(step, exe, result.ExitCode, t, LogPath);
        }
        return stdout.ToString();
    }

    private static string Shorten(string s) => s.Length <= 160 ? s : s[..157] + "...";
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
