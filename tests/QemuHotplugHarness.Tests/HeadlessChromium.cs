using CliWrap;
using CliWrap.Buffered;

namespace QemuHotplugHarness.Tests;

/// <summary>Renders a page in Debian's headless Chromium: the DOM after layout, and a screenshot.</summary>
public static class HeadlessChromium
{
    public const string Binary = "/usr/bin/chromium";

    public static async Task<(string Dom, string Screenshot)> RenderAsync(string htmlPath)
    {
        if (!File.Exists(Binary)) Assert.Ignore($"{Binary} is not installed (run.ps1 setup installs Debian's chromium): report.html not rendered");
        var profile = Directory.CreateTempSubdirectory("qhh-chromium-").FullName;
        try
        {
            string[] common = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile];
            var url = new Uri(Path.GetFullPath(htmlPath)).AbsoluteUri;
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var dom = await CliWrap.Cli.Wrap(Binary).WithArguments(common.Concat(["--dump-dom", url])).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cts.Token);
            var shot = Path.ChangeExtension(htmlPath, ".png");
            await CliWrap.Cli.Wrap(Binary).WithArguments(common.Concat(["--window-size=1280,2000", "--screenshot=" + shot, url])).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cts.Token);
            return (dom.StandardOutput, shot);
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }
}
