using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;

namespace QemuHotplugHarness.Orchestration;

/// <summary>
/// A prebuilt kernel whose config was not known before boot, checked right after it: its /proc/config.gz when it
/// has one (IKCONFIG_PROC), else the signs in /proc and /sys of what the scenario needs.
/// </summary>
public static class KernelProbe
{
    /// <summary>Shell tests for options the running kernel shows without its config: the option and its sign.</summary>
    public static IReadOnlyList<(string Option, string Test)> Signs { get; } =
    [
        ("CONFIG_PROC_KCORE", "test -e /proc/kcore"),
        ("CONFIG_MEMORY_HOTPLUG", "test -d /sys/devices/system/memory"),
        ("CONFIG_LIBNVDIMM", "test -d /sys/bus/nd"),
        ("CONFIG_DEV_DAX", "test -d /sys/bus/dax"),
    ];

    /// <summary>One failure per missing option; empty when the kernel has what the scenario needs (or cannot tell more).</summary>
    public static async Task<IReadOnlyList<string>> MissingAsync(IGuestShell shell, TimeSpan timeout, CancellationToken ct)
    {
        var config = await shell.RunShellAsync("zcat /proc/config.gz 2>/dev/null", timeout, ct);
        if (config.ExitCode == 0 && config.Stdout.Contains("CONFIG_", StringComparison.Ordinal))
            return KernelRequirements.Missing(KernelConfig.Parse(config.Stdout), hasModules: true, modulesSupported: true)
                .Select(m => $"{m} (from /proc/config.gz)").ToList();
        var failures = new List<string>();
        foreach (var (option, test) in Signs)
            if ((await shell.RunShellAsync(test, timeout, ct)).ExitCode != 0)
                failures.Add($"{option} looks unset: `{test}` fails in the guest");
        return failures;
    }
}
