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

    public static string DefaultArtifacts(string prefix) =>
        Path.Combine("artifacts", $"{prefix}{DateTime.UtcNow:yyyyMMdd-HHmmss}");
}
