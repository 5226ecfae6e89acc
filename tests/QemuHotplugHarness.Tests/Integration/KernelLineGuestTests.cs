using System.Text.Json;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Cli;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using Serilog.Core;

namespace QemuHotplugHarness.Tests.Integration;

/// <summary>
/// The kernel lines with the packages users have: Debian's 6.12 generic and cloud images (one .deb each; the cloud
/// flavour has no e1000, virtio-net as a module) and the newest line's split set (linux-image + linux-binary +
/// linux-modules + linux-base, from Debian's unstable suite through the harness's private apt lists) run the seed
/// layout clean through <c>--kernel-deb</c>, as the simulator predicts for a kernel with the fix. Downloads go to
/// $QHH_CACHE/downloads, once per version.
/// </summary>
[TestFixture]
[Category("RealGuest")]
[NonParallelizable]
public class KernelLineGuestTests
{
    private static readonly HarnessCache Cache = new();
    private string _dir = "";

    [OneTimeSetUp]
    public void MakeFolder() => _dir = Directory.CreateTempSubdirectory("qhh-lines-e2e-").FullName;

    [OneTimeTearDown]
    public void Report() => TestContext.Progress.WriteLine($"kernel line e2e artifacts: {_dir}");

    private static PrivateApt AptOf(KernelLine line) =>
        new(new ToolRunner(Logger.None, Path.Combine(Cache.Root, "logs", "test-apt.log")), Cache, line.Debian.Suite, line.Debian.Mirror, Logger.None);

    /// <summary>The newest linux-image-X.Y.*-FLAVOUR of the line's suite and what it depends on of the kernel itself, downloaded once.</summary>
    private static async Task<IReadOnlyList<string>> ImageSetAsync(string lineName, string flavour)
    {
        var line = RepoLayout.Discover().Lines().Get(lineName);
        var apt = AptOf(line);
        try
        {
            await apt.UpdateAsync(CancellationToken.None);
        }
        catch (ToolFailedException e)
        {
            Assert.Ignore($"Debian's {line.Debian.Suite} cannot be read ({e.Message.Split('\n')[0]}): this test needs the network once");
        }
        var prefix = line.Debian.Package is { } p ? "linux-image-" + p["linux-source-".Length..] + "." : "linux-image-";
        var names = (await apt.NamesAsync(prefix, CancellationToken.None)).Where(n => n.EndsWith("-" + flavour, StringComparison.Ordinal)
            && char.IsAsciiDigit(n["linux-image-".Length]) // not the meta packages linux-image-amd64, linux-image-cloud-amd64
            && !n.Contains("-rt-", StringComparison.Ordinal) && (flavour == "cloud-amd64" || !n.Contains("-cloud-", StringComparison.Ordinal))).ToList();
        var image = names.OrderBy(n => n, Comparer<string>.Create(CompareReleases)).LastOrDefault()
            ?? throw new AssertionException($"{line.Debian.Suite} has no {prefix}*-{flavour}");
        var set = new List<string> { image };
        set.AddRange((await apt.DependsAsync(image, CancellationToken.None)).Where(d => d.StartsWith("linux-binary-", StringComparison.Ordinal)
            || d.StartsWith("linux-modules-", StringComparison.Ordinal) || d.StartsWith("linux-base-", StringComparison.Ordinal)));
        var files = new List<string>();
        foreach (var package in set)
        {
            var version = await apt.VersionAsync(package, CancellationToken.None) ?? throw new AssertionException($"no version of {package}");
            var folder = Path.Combine(Cache.Root, "downloads", $"{package}_{version}");
            var deb = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.deb").FirstOrDefault() : null;
            files.Add(deb ?? await apt.DownloadAsync(package, version, folder, CancellationToken.None));
        }
        return files;
    }

    /// <summary>Orders linux-image-6.12.9+deb12-amd64 before linux-image-6.12.118+deb12-amd64 (numbers by value).</summary>
    private static int CompareReleases(string a, string b)
    {
        var (x, y) = (System.Text.RegularExpressions.Regex.Split(a, @"(\d+)"), System.Text.RegularExpressions.Regex.Split(b, @"(\d+)"));
        for (var i = 0; i < Math.Min(x.Length, y.Length); i++)
        {
            var c = long.TryParse(x[i], out var m) && long.TryParse(y[i], out var n) ? m.CompareTo(n) : string.CompareOrdinal(x[i], y[i]);
            if (c != 0) return c;
        }
        return x.Length.CompareTo(y.Length);
    }

    private static Observation ObservationIn(string artifacts) =>
        JsonSerializer.Deserialize<Observation>(File.ReadAllText(Path.Combine(artifacts, "observation.json")), HarnessJson.Options)!;

    [TestCase("6.12", "amd64", 1, "e1000")]
    [TestCase("6.12", "cloud-amd64", 1, "virtio-net")]
    [TestCase("latest", "amd64", 4, "e1000")]
    [TestCase("latest", "cloud-amd64", 4, "virtio-net")]
    public async Task Debians_packages_of_the_line_run_the_seed_clean_as_predicted(string line, string flavour, int packages, string nic)
    {
        var files = await ImageSetAsync(line, flavour);
        Assert.That(files, Has.Count.EqualTo(packages), string.Join(", ", files.Select(Path.GetFileName)));
        var artifacts = Path.Combine(_dir, $"{line}-{flavour}");
        var args = new List<string> { "run" };
        foreach (var f in files) args.AddRange(["--kernel-deb", "patched=" + f]);
        args.AddRange(["--kernel", "patched", "--pse", "off", "--boot-timeout", "600", "--artifacts", artifacts]);

        var run = await QhhCli.RunAsync([.. args]);

        TestContext.Progress.WriteLine(run.Stdout);
        var o = ObservationIn(artifacts);
        var console = File.ReadAllText(Path.Combine(artifacts, "console.log"));
        Assert.Multiple(() =>
        {
            Assert.That(o.Outcome, Is.EqualTo(Outcome.Clean), o.Error + "\n" + run.Stderr);
            Assert.That(o.Iterations, Has.Count.EqualTo(3));
            Assert.That(o.Iterations[0].Dax?.ToIomem(), Is.EqualTo("144200000-144ffffff"), "dax0.0 where the simulator puts it");
            Assert.That(o.KernelFactsSource, Is.EqualTo("vmcoreinfo"));
            Assert.That(run.Stdout, Does.Contain("\nmatch\n"));
            Assert.That(run.Code, Is.EqualTo((int)ExitCode.Success));
            Assert.That(console, Does.Contain("Linux version " + (line == "latest" ? "7." : "6.12.")));
            Assert.That(File.ReadAllText(Path.Combine(artifacts, "qemu-cmdline.txt")), Does.Contain(nic == "e1000" ? "e1000" : "virtio-net-pci"));
        });
    }
}
