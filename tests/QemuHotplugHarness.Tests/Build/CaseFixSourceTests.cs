using System.Collections.Concurrent;
using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using Serilog.Core;

namespace QemuHotplugHarness.Tests.Build;

/// <summary>
/// Every case's fix against every line's own Debian source, without building: the fix reverse-applies (that is how the
/// unpatched kernel is made, so a fix that does not is a suite that cannot run), and the suite's one configuration
/// names only options the line's Kconfig defines. A Debian upload that moves the code fails here, naming the case,
/// the line and patch's complaint, not an hour later in a kernel build. Without fuzz: the repository's own fixes are
/// made for these sources, and a context line that drifted is a port to redo (a user's --patch may still need fuzz).
/// </summary>
[Category("HostTools")] // apt-get, dpkg-deb, tar, patch, the network once per version
[NonParallelizable]
public class CaseFixSourceTests
{
    private static readonly RepoLayout Repo = RepoLayout.Discover();
    private static readonly ConcurrentDictionary<string, string> Trees = new();
    private static string _root = "";

    [OneTimeSetUp]
    public void MakeRoot() => _root = Directory.CreateTempSubdirectory("qhh-fix-sources-").FullName;

    [OneTimeTearDown]
    public void RemoveRoot() => Directory.Delete(_root, recursive: true);

    private static CaseCatalog Catalog => SuiteCases.Catalog(Repo, []);

    /// <summary>Each (case, line) whose case.json gives a fix for the line.</summary>
    public static IEnumerable<TestCaseData> Fixes() =>
        SuiteCases.Catalog(RepoLayout.Discover(), []).LoadAll().Cases
            .SelectMany(c => c.Lines.Values.Where(l => l.Patch is not null).Select(l => new TestCaseData(c.Name, l.Line).SetName($"{c.Name} on {l.Line}")));

    public static IEnumerable<string> Lines() => RepoLayout.Discover().Lines().All.Select(l => l.Name);

    [TestCaseSource(nameof(Fixes))]
    public async Task The_fix_reverse_applies_to_the_line_s_Debian_source(string caseName, string line)
    {
        var tree = await TreeAsync(line);
        var patch = Catalog.Load(caseName).PatchFor(line);
        var dry = await CliWrap.Cli.Wrap("patch").WithArguments(["-p1", "-R", "--dry-run", "--batch", "--fuzz=0", "-i", patch]).WithWorkingDirectory(tree)
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        Assert.That(dry.ExitCode, Is.EqualTo(0), $"{caseName}: {Path.GetFileName(patch)} does not reverse-apply to line {line}'s source:\n{dry.StandardOutput}{dry.StandardError}");
    }

    [TestCaseSource(nameof(Lines))]
    public async Task The_suite_configuration_names_only_options_the_line_s_Kconfig_defines(string line)
    {
        var symbols = KconfigSymbols.Scan(await TreeAsync(line));
        var undefined = Catalog.SuiteConfig().Select(SuiteKernelConfig.Option).Where(o => !symbols.Contains(o["CONFIG_".Length..])).ToList();
        Assert.That(symbols, Has.Count.GreaterThan(5000), "the whole tree's Kconfig was read");
        Assert.That(undefined, Is.Empty, $"line {line}'s Debian source does not define them");
    }

    /// <summary>The line's Debian source (fetched as a build would), its Kconfig files and the files the cases' fixes touch, once per line.</summary>
    private static async Task<string> TreeAsync(string line)
    {
        if (Trees.TryGetValue(line, out var done)) return done;
        HostTools.Require("apt-get", "apt");
        HostTools.Require("patch", "patch");
        var ctx = new BuildContext(new HarnessCache(), Repo, Logger.None, _root);
        DebianTarball source;
        try
        {
            source = await new LineSources(ctx).GetAsync(Repo.Lines().Get(line), CancellationToken.None);
        }
        catch (InfrastructureException e) when (e.Message.Contains("apt-get update", StringComparison.Ordinal))
        {
            Assert.Ignore($"Debian's suite for line {line} cannot be read ({e.Message.Split('\n')[0]}): needs the network once");
            throw;
        }
        var dir = Path.Combine(_root, line);
        Directory.CreateDirectory(dir);
        var touched = Catalog.LoadAll().Cases.SelectMany(c => c.Lines.Values).Where(l => l.Line == line && l.Patch is not null)
            .SelectMany(l => PatchedFiles(l.Patch!)).Distinct().Select(f => $"{source.TopFolder}/{f}");
        var extract = await CliWrap.Cli.Wrap("tar").WithArguments(["-xaf", source.Tarball, "-C", dir, "--wildcards", $"{source.TopFolder}/*Kconfig*", .. touched])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        Assert.That(extract.ExitCode, Is.EqualTo(0), $"{source.SourceId}: {extract.StandardError}");
        return Trees[line] = Path.Combine(dir, source.TopFolder);
    }

    /// <summary>The files a unified diff changes ("+++ b/PATH").</summary>
    private static IEnumerable<string> PatchedFiles(string patch) =>
        File.ReadLines(patch).Where(l => l.StartsWith("+++ b/", StringComparison.Ordinal)).Select(l => l["+++ b/".Length..].Split('\t')[0].Trim());
}
