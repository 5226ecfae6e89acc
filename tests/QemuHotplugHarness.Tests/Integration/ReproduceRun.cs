using System.Text.Json;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Integration;

/// <summary>One <c>qhh reproduce</c> through the CLI into a fresh folder: its exit, output and summary.json.</summary>
public sealed record ReproduceRun(string Artifacts, Summary Summary, (int Code, string Stdout, string Stderr) Run)
{
    public static async Task<ReproduceRun> StartAsync(string prefix, params string[] args)
    {
        var artifacts = Directory.CreateTempSubdirectory(prefix).FullName;
        var run = await QhhCli.RunAsync(["reproduce", .. args, "--artifacts", artifacts]);
        TestContext.Progress.WriteLine(run.Stdout);
        TestContext.Progress.WriteLine($"artifacts: {artifacts}");
        var summary = Path.Combine(artifacts, "summary.json");
        if (!File.Exists(summary)) Assert.Fail($"no summary (exit {run.Code}): {run.Stderr}");
        return new ReproduceRun(artifacts, JsonSerializer.Deserialize<Summary>(File.ReadAllText(summary), HarnessJson.Options)!, run);
    }
}
