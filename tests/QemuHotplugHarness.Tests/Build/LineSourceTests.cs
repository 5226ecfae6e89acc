using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Scenarios;
using Serilog.Core;

namespace QemuHotplugHarness.Tests.Build;

/// <summary>
/// Each kernel line's real Debian source (fetched through the harness's own apt lists into the cache, as a build
/// would) against the repository's config requirements: every requirement resolves to the spelling that release
/// uses, and nothing the fragment asks for is missing. A release that renames an option fails here, naming it.
/// </summary>
[Category("HostTools")] // apt-get, dpkg-deb, tar, the network once per version
[NonParallelizable]
public class LineSourceTests
{
    private static readonly RepoLayout Repo = RepoLayout.Discover();
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("qhh-line-source-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [TestCase("6.1", "CONFIG_CRASH_CORE=y", "CONFIG_X86_5LEVEL=y")]
    [TestCase("6.12", "CONFIG_VMCORE_INFO=y", "CONFIG_X86_5LEVEL=y")]
    [TestCase("latest", "CONFIG_VMCORE_INFO=y", null)]
    public async Task The_requirements_resolve_on_the_lines_Debian_source(string lineName, string vmcore, string? fiveLevel)
    {
        HostTools.Require("apt-get", "apt");
        var ctx = new BuildContext(new HarnessCache(), Repo, Logger.None, _dir);
        DebianTarball source;
        try
        {
            source = await new LineSources(ctx).GetAsync(Repo.Lines().Get(lineName), CancellationToken.None);
        }
        catch (InfrastructureException e) when (e.Message.Contains("apt-get update", StringComparison.Ordinal))
        {
            Assert.Ignore($"Debian's suite for line {lineName} cannot be read ({e.Message.Split('\n')[0]}): needs the network once");
            return;
        }
        var extract = await CliWrap.Cli.Wrap("tar").WithArguments(["-xaf", source.Tarball, "-C", _dir, "--wildcards", "*/Kconfig*"])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        Assert.That(extract.ExitCode, Is.EqualTo(0), extract.StandardError);

        var symbols = KconfigSymbols.Scan(Path.Combine(_dir, source.TopFolder));
        var resolved = ConfigRequirements.Resolve(File.ReadAllText(Repo.KernelConfigFragment), ConfigRequirements.Load(Repo.KernelRequirements), symbols);

        Assert.That(symbols, Has.Count.GreaterThan(5000), "the whole tree's Kconfig was read");
        Assert.That(resolved.Missing, Is.Empty, $"{source.SourceId}: {string.Join("; ", resolved.Missing)}");
        var lines = resolved.Text.Split('\n');
        Assert.That(lines, Does.Contain(vmcore).And.Contain("CONFIG_UNWINDER_ORC=y"));
        if (fiveLevel is null) Assert.That(lines.Any(l => l.Contains("X86_5LEVEL")), Is.False, "gone in 7.x: always on");
        else Assert.That(lines, Does.Contain(fiveLevel));
    }
}
