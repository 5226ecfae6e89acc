using QemuHotplugHarness.Build;
using QemuHotplugHarness.Orchestration;
using Serilog;

namespace QemuHotplugHarness.Tests.Integration;

/// <summary>
/// A fixture of tests on real guests built from the cached seed builds: its own folder, a log shown as test progress,
/// the build context and the inputs resolver (the RealGuest matrix builds what is missing).
/// </summary>
public abstract class RealGuestFixture(string name)
{
    protected string Dir { get; private set; } = "";
    protected Serilog.Core.Logger Log { get; private set; } = null!;
    protected BuildContext Ctx { get; private set; } = null!;
    protected InputsResolver Inputs { get; private set; } = null!;

    [OneTimeSetUp]
    public void SetUpFixture()
    {
        Dir = Directory.CreateTempSubdirectory($"qhh-{name}-").FullName;
        Log = new LoggerConfiguration().MinimumLevel.Information().WriteTo.Sink(new ProgressSink()).CreateLogger();
        Ctx = BuildContext.Create(Log, Dir);
        Inputs = new InputsResolver(Ctx, KernelSources.Default);
    }

    [OneTimeTearDown]
    public void TearDownFixture()
    {
        Log.Dispose();
        TestContext.Progress.WriteLine($"{name} test artifacts: {Dir}");
    }

    private sealed class ProgressSink : Serilog.Core.ILogEventSink
    {
        public void Emit(Serilog.Events.LogEvent e) => TestContext.Progress.WriteLine($"[{e.Timestamp:HH:mm:ss}] {e.RenderMessage()}");
    }
}
