using System.Diagnostics;
using System.Text.RegularExpressions;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Cli;

namespace QemuHotplugHarness.Tests.Cli;

/// <summary>run.ps1's own failures (apt, building the harness) exit with qhh's setup code, never 1 (a regression).</summary>
[Category("HostTools")] // PowerShell (the repository's dotnet tool) and dotnet build
public class RunScriptExitTests
{
    [Test]
    public async Task A_harness_that_does_not_build_is_a_setup_failure_exit_4()
    {
        var repo = RepoLayout.Discover().Root;
        var root = Directory.CreateTempSubdirectory("qhh-runps1-").FullName;
        try
        {
            var script = Path.Combine(root, "run.ps1");
            File.Copy(Path.Combine(repo, "run.ps1"), script);
            File.WriteAllText(Path.Combine(root, "QemuHotplugHarness.sln"), "not a solution\n");
            Directory.CreateDirectory(Path.Combine(root, "src"));
            // The apt check is skipped when its stamp matches (the packages are the machine's business, not this test's).
            if (File.Exists("/usr/bin/apt-get") && File.Exists("/var/lib/dpkg/status")) WriteAptStamp(root, File.ReadAllText(script));
            var psi = new ProcessStartInfo("dotnet", ["pwsh", "-NoProfile", "-File", script, "predict"])
            {
                WorkingDirectory = repo, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = await p.StandardOutput.ReadToEndAsync();
            await p.WaitForExitAsync();
            Assert.That(p.ExitCode, Is.EqualTo((int)ExitCode.SetupFailed).And.EqualTo(4), await stderr + stdout);
            Assert.That(await stderr, Does.Contain("run.ps1: 'dotnet build").And.Contain("failed with exit code"));
            Assert.That(stdout, Is.Empty, "stdout belongs to the forwarded command, which never ran");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>obj/apt.stamp as run.ps1's Get-AptKey writes it: packages, dpkg's status size and time, the deb-src file's presence.</summary>
    private static void WriteAptStamp(string root, string script)
    {
        var block = Regex.Match(script, @"\$AptPackages = @\((?<list>[^)]*)\)").Groups["list"].Value;
        var packages = Regex.Matches(block, "'(?<p>[^']+)'").Select(m => m.Groups["p"].Value);
        var status = new FileInfo("/var/lib/dpkg/status");
        var debSrc = File.Exists("/etc/apt/sources.list.d/qemu-hotplug-harness-src.sources") ? "True" : "False";
        Directory.CreateDirectory(Path.Combine(root, "obj"));
        File.WriteAllText(Path.Combine(root, "obj", "apt.stamp"), $"{string.Join(' ', packages)}|{status.Length}|{status.LastWriteTimeUtc.Ticks}|{debSrc}");
    }
}
