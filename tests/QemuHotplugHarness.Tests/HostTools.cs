namespace QemuHotplugHarness.Tests;

/// <summary>Host programs the HostTools tests run: a missing one ignores the test with the reason, instead of failing it.</summary>
public static class HostTools
{
    public static void Require(string program, string package)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));
        if (!found) Assert.Ignore($"{program} is not on PATH (install Debian's {package}; run.ps1 setup installs it)");
    }
}
