using System.Text.Json;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Build;

/// <summary>Where the harness's own inputs live (qemu-patches/, images/, kernel-lines/, cases/, defaults.json).</summary>
public sealed record RepoLayout(string Root)
{
    public string QemuPatches => Path.Combine(Root, "qemu-patches");
    public string KernelConfigFragment => Path.Combine(Root, "images", "kernel", "hotplug.config");
    /// <summary>Config fragments the cases name (images/kernel/fragments/NAME.config): written once, shared.</summary>
    public string ConfigFragments => Path.Combine(Root, "images", "kernel", "fragments");
    public string KernelRequirements => Path.Combine(Root, "images", "kernel", "requirements.json");
    public string KernelLinesDir => Path.Combine(Root, "kernel-lines");

    public KernelLines Lines() => QemuHotplugHarness.Build.KernelLines.Load(KernelLinesDir);
    public HarnessDefaults Defaults() => HarnessDefaults.Load(Root);
    public string InitramfsDir => Path.Combine(Root, "images", "initramfs");

    /// <summary>$QHH_REPO, else the folder above the running binary that holds QemuHotplugHarness.sln.</summary>
    public static RepoLayout Discover()
    {
        if (Environment.GetEnvironmentVariable("QHH_REPO") is { Length: > 0 } env) return new RepoLayout(env);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "QemuHotplugHarness.sln"))) return new RepoLayout(dir.FullName);
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "QemuHotplugHarness.sln"))) return new RepoLayout(dir.FullName);
        throw new InfrastructureException("cannot find the harness checkout (QemuHotplugHarness.sln); set QHH_REPO");
    }
}

/// <summary>What every builder needs: the cache, the repo, a logger, a folder for build logs, the job count.</summary>
public sealed record BuildContext(HarnessCache Cache, RepoLayout Repo, ILogger Log, string LogDir)
{
    public int Jobs { get; init; } = Environment.ProcessorCount;

    /// <summary>When set, every tool step's wall time is recorded here (bench build).</summary>
    public ToolTimings? Timings { get; init; }

    public ToolRunner Runner(string name) => new(Log, Path.Combine(LogDir, name + ".log"), Timings);

    public static BuildContext Create(ILogger log, string? logDir = null) =>
        new(new HarnessCache { Log = log }, RepoLayout.Discover(), log, logDir ?? Path.Combine(new HarnessCache().Root, "logs"));
}

/// <summary>Manifests are small JSON files that mark a cache entry finished and say what went in.</summary>
public static class Manifest
{
    public static void Write(string dir, object manifest) =>
        File.WriteAllText(Path.Combine(dir, "manifest.json"), JsonSerializer.Serialize(manifest, HarnessJson.Options));

    public static T Read<T>(string dir) =>
        JsonSerializer.Deserialize<T>(File.ReadAllText(Path.Combine(dir, "manifest.json")), HarnessJson.Options)
        ?? throw new InfrastructureException($"{dir}/manifest.json is empty");
}
