using System.Reflection;

namespace QemuHotplugHarness.Orchestration;

/// <summary>
/// Which harness wrote an artifact: its version and the git commit it was built from (the SDK's informational
/// version "0.9.0+&lt;sha&gt;"; "unknown" when built outside git). Every summary.json, junit.xml and kcidb.json names it.
/// </summary>
public sealed record HarnessVersion(string Name, string Version, string Commit)
{
    public static HarnessVersion Current { get; } = Of(typeof(HarnessVersion).Assembly);

    public static HarnessVersion Of(Assembly assembly)
    {
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                            ?? assembly.GetName().Version?.ToString() ?? "0.0.0";
        var plus = informational.IndexOf('+');
        return plus < 0
            ? new HarnessVersion("qemu-hotplug-harness", informational, "unknown")
            : new HarnessVersion("qemu-hotplug-harness", informational[..plus], informational[(plus + 1)..]);
    }

    /// <summary>"qemu-hotplug-harness 0.9.0 (commit 1a2b3c4d5e6f)" for --version and the reports.</summary>
    public override string ToString() => $"{Name} {Version} (commit {(Commit.Length > 12 ? Commit[..12] : Commit)})";
}
