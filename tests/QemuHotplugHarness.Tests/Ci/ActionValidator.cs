using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Build;

namespace QemuHotplugHarness.Tests.Ci;

/// <summary>
/// action-validator (npm's <c>@action-validator/cli</c>), installed with npm at test time into the harness cache
/// (<c>$QHH_CACHE/tools/</c>), never into the checkout. When it cannot be had the calling test is ignored with the reason.
/// </summary>
public static class ActionValidator
{
    public const string Package = "@action-validator/cli";
    public const string Version = "0.6.0";

    private static readonly SemaphoreSlim Gate = new(1, 1);

    /// <summary>The installed CLI (installing it first when needed).</summary>
    public static async Task<string> RequireAsync()
    {
        var folder = Path.Combine(HarnessCache.DefaultRoot(), "tools", $"action-validator-{Version}");
        var cli = Path.Combine(folder, "node_modules", ".bin", "action-validator");
        await Gate.WaitAsync();
        try
        {
            if (!File.Exists(cli)) await InstallAsync(folder);
            return cli;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Runs it on one workflow file: exit code and its output (stdout and stderr).</summary>
    public static async Task<(int Code, string Output)> LintAsync(string workflow)
    {
        var cli = await RequireAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var result = await CliWrap.Cli.Wrap(cli).WithArguments([workflow]).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cts.Token);
        return (result.ExitCode, result.StandardOutput + result.StandardError);
    }

    /// <summary>npm install into a scratch folder, renamed into place when it worked (a half install is never used).</summary>
    private static async Task InstallAsync(string folder)
    {
        var npm = Which("npm");
        if (npm is null) Assert.Ignore($"npm is not on PATH: cannot install {Package}@{Version} to lint the workflow (install Debian's npm)");
        var scratch = folder + ".tmp-" + Environment.ProcessId;
        Directory.CreateDirectory(scratch);
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        string[] install = ["install", "--prefix", scratch, "--no-save", "--no-audit", "--no-fund", $"{Package}@{Version}"];
        var result = await CliWrap.Cli.Wrap(npm!).WithArguments(install)
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cts.Token);
        if (result.ExitCode != 0 || !File.Exists(Path.Combine(scratch, "node_modules", ".bin", "action-validator")))
        {
            Directory.Delete(scratch, recursive: true);
            var tail = string.Join(" ", (result.StandardError + result.StandardOutput).Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));
            Assert.Ignore($"npm could not install {Package}@{Version} (exit {result.ExitCode}): {tail}");
        }
        if (Directory.Exists(folder)) Directory.Delete(scratch, recursive: true); // another process was first
        else Directory.Move(scratch, folder);
    }

    private static string? Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);
}
