using QemuHotplugHarness.Scenarios;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace QemuHotplugHarness.Cli;

/// <summary>Serilog: human lines on stderr (stdout stays clean for --json), compact JSON in the run's folder.</summary>
public static class HarnessLog
{
    public static ILogger Create(string? artifactsDir, bool verbose = false, bool quietConsole = false)
    {
        var config = new LoggerConfiguration()
            .MinimumLevel.Debug()
            .WriteTo.Console(
                restrictedToMinimumLevel: quietConsole ? LogEventLevel.Warning : verbose ? LogEventLevel.Debug : LogEventLevel.Information,
                outputTemplate: "[{Timestamp:HH:mm:ss}] {Message:lj}{NewLine}{Exception}",
                standardErrorFromLevel: LogEventLevel.Verbose);
        if (artifactsDir is not null)
        {
            Directory.CreateDirectory(artifactsDir);
            config = config.WriteTo.File(new CompactJsonFormatter(), Path.Combine(artifactsDir, "harness.log.json"), flushToDiskInterval: TimeSpan.FromSeconds(1));
        }
        return config.CreateLogger();
    }

    /// <summary>
    /// Makes the artifacts folder and proves it takes a write (64 KiB, flushed to disk), so a read-only folder or
    /// a full disk is bad input before anything is built or booted, not a run that cannot keep what it saw.
    /// </summary>
    public static string PrepareArtifacts(string dir)
    {
        var probe = Path.Combine(dir, ".qhh-write-probe");
        try
        {
            Directory.CreateDirectory(dir);
            using (var file = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
            {
                file.Write(new byte[64 * 1024]);
                file.Flush(flushToDisk: true);
            }
            File.Delete(probe);
            return dir;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException(InputKind.Artifacts, dir, "cannot write there: " + e.Message);
        }
    }

    /// <summary>
    /// artifacts/&lt;prefix&gt;&lt;timestamp&gt;, claimed for this process: two runs started in the same second get separate
    /// folders (the second gets -&lt;pid&gt;). The claim is a <c>.qhh-owner</c> file made with CreateNew, which only one
    /// process can make.
    /// </summary>
    public static string DefaultArtifacts(string prefix)
    {
        var dir = Path.Combine("artifacts", $"{prefix}{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        return Claim(dir) ? dir : $"{dir}-{Environment.ProcessId}";
    }

    private static bool Claim(string dir)
    {
        try
        {
            Directory.CreateDirectory(dir);
            using var owner = new FileStream(Path.Combine(dir, ".qhh-owner"), FileMode.CreateNew, FileAccess.Write);
            owner.Write(System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId + "\n"));
            return true;
        }
        catch (IOException)
        {
            return false; // taken by another run (or not writable: PrepareArtifacts says so for the other name)
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
