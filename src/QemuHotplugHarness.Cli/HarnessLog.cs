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
    public static string PrepareArtifacts(string dir, InputKind input = InputKind.Artifacts)
    {
        if (string.IsNullOrWhiteSpace(dir) || dir.Contains('\0'))
            throw new BadInputException(input, $"'{dir.Replace("\0", "\\0")}'", "not a path (empty, or with a NUL character)");
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
            throw new BadInputException(input, dir, "cannot write there: " + WhyNotWritable(dir, e), e);
        }
    }

    /// <summary>
    /// Why a folder cannot be made or written, in the user's words rather than .NET's ("Could not find a part of the
    /// path"): a file in the way, no permission, a read-only or full file system, a place that takes no folders.
    /// </summary>
    public static string WhyNotWritable(string dir, Exception e)
    {
        for (var at = Path.GetFullPath(dir); !string.IsNullOrEmpty(at); at = Path.GetDirectoryName(at))
            if (File.Exists(at)) return at == Path.GetFullPath(dir) ? "a file, not a folder" : $"{at} is a file, not a folder";
        const int enospc = 28, erofs = 30, edquot = 122;
        return e switch
        {
            UnauthorizedAccessException => "permission denied",
            PathTooLongException => "the path is too long",
            IOException io when (io.HResult & 0xFFFF) is enospc or edquot => "no space left on the device",
            IOException io when (io.HResult & 0xFFFF) == erofs => "a read-only file system",
            _ when Path.GetFullPath(dir).StartsWith("/proc/", StringComparison.Ordinal) || Path.GetFullPath(dir).StartsWith("/sys/", StringComparison.Ordinal)
                => "a kernel file system (/proc, /sys) where no folder can be made",
            _ => "the file system refused it (" + e.GetType().Name.Replace("Exception", "", StringComparison.Ordinal) + ")",
        };
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
