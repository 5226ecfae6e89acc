using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Cli;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Integration;

/// <summary>
/// Debian's own kernel (the current candidate of linux-image-amd64, drivers as modules, KASLR and 5-level paging
/// built in) runs the seed scenario with PSE off on the patched QEMU, through <c>--kernel-deb</c> and through
/// <c>--kernel-image</c> + <c>--modules</c>. Debian 6.1 carries the fix (upstream since 5.8), so it is registered as
/// the patched variant and the loop must stay clean as predicted. The packages are downloaded once into
/// $QHH_CACHE/downloads (keyed by package and version) and unpacked there for the modules-tree runs.
/// </summary>
[TestFixture]
[Category("RealGuest")]
[NonParallelizable]
public class PrebuiltKernelGuestTests
{
    private static readonly HarnessCache Cache = new();
    private string _dir = "";

    [OneTimeSetUp]
    public void MakeFolder() => _dir = Directory.CreateTempSubdirectory("qhh-prebuilt-e2e-").FullName;

    [OneTimeTearDown]
    public void Report() => TestContext.Progress.WriteLine($"prebuilt e2e artifacts: {_dir}");

    /// <summary>A Debian kernel package downloaded once: its file, release, and the tree dpkg-deb unpacks.</summary>
    private sealed record DebianKernel(string Package, string Version, string Deb, string Root, string Release)
    {
        public string Image => Path.Combine(Root, "boot", "vmlinuz-" + Release);
        public string Modules => Path.Combine(Root, "lib", "modules", Release);
    }

    private static Task<string> Tool(string exe, params string[] args) => ToolIn("/", exe, args);

    private static async Task<string> ToolIn(string workDir, string exe, params string[] args)
    {
        var r = await CliWrap.Cli.Wrap(exe).WithArguments(args).WithWorkingDirectory(workDir).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        if (r.ExitCode != 0) Assert.Ignore($"{exe} {string.Join(' ', args)} failed ({r.StandardError.Trim()}); this test needs Debian's package lists (apt-get update) and the network once");
        return r.StandardOutput;
    }

    /// <summary>The linux-image-6.1.0-NN-amd64 that <paramref name="meta"/> (linux-image-amd64, maybe =VERSION) depends on.</summary>
    private static async Task<DebianKernel> KernelOfAsync(string meta)
    {
        var depends = await Tool("apt-cache", "depends", meta);
        var package = depends.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("Depends: linux-image-6.1", StringComparison.Ordinal))
            .Select(l => l["Depends: ".Length..]).FirstOrDefault() ?? throw new AssertionException($"apt-cache depends {meta} names no linux-image-6.1.*: {depends}");
        var show = await Tool("apt-cache", "show", "--no-all-versions", package);
        var version = show.Split('\n').First(l => l.StartsWith("Version: ", StringComparison.Ordinal))["Version: ".Length..].Trim();
        var folder = Path.Combine(Cache.Root, "downloads", $"{package}_{version}");
        var deb = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.deb").FirstOrDefault() : null;
        if (deb is null)
        {
            var temp = Cache.NewTempDir("download");
            await ToolIn(temp, "apt-get", "download", $"{package}={version}");
            Directory.CreateDirectory(folder);
            var fetched = Directory.GetFiles(temp, "*.deb").Single();
            deb = Path.Combine(folder, Path.GetFileName(fetched));
            File.Move(fetched, deb);
            Directory.Delete(temp, true);
        }
        var root = Path.Combine(folder, "root");
        if (!File.Exists(Path.Combine(folder, "unpacked")))
        {
            if (Directory.Exists(root)) Directory.Delete(root, true);
            await Tool("dpkg-deb", "-x", deb, root);
            await File.WriteAllTextAsync(Path.Combine(folder, "unpacked"), "");
        }
        var release = Path.GetFileName(Directory.GetFiles(Path.Combine(root, "boot"), "vmlinuz-*").Single())["vmlinuz-".Length..];
        return new DebianKernel(package, version, deb, root, release);
    }

    /// <summary>A distro kernel boots for minutes under TCG on 2 busy cores (its initcalls, and its W+X page-table walk).</summary>
    private const string BootTimeout = "600";

    private static Task<(int Code, string Stdout, string Stderr)> Qhh(params string[] args) => QhhCli.RunAsync(args);

    private static Observation ObservationIn(string artifacts) =>
        JsonSerializer.Deserialize<Observation>(File.ReadAllText(Path.Combine(artifacts, "observation.json")), HarnessJson.Options)!;

    private void AssertCleanAsPredicted(string artifacts, (int Code, string Stdout, string Stderr) run, DebianKernel kernel)
    {
        TestContext.Progress.WriteLine(run.Stdout);
        var o = ObservationIn(artifacts);
        Assert.Multiple(() =>
        {
            Assert.That(o.Outcome, Is.EqualTo(Outcome.Clean), o.Error + "\n" + run.Stderr);
            Assert.That(o.KernelRelease, Is.EqualTo(kernel.Release));
            Assert.That(o.Iterations, Has.Count.EqualTo(3));
            Assert.That(o.Iterations.All(i => i.ExitCode == 0), Is.True);
            Assert.That(o.Iterations[0].Dax?.ToIomem(), Is.EqualTo("144200000-144ffffff"), "dax0.0 where the simulator puts it");
            Assert.That(o.PreconditionFailures, Is.Empty, "the layout was checked and is the predicted one");
            Assert.That(o.Layout?.PersistentMemory, Is.Not.Null);
            Assert.That(o.KernelFactsSource, Is.EqualTo("vmcoreinfo"));
            Assert.That(run.Stdout, Does.Contain("\nmatch\n"), "observation matches the prediction");
            Assert.That(run.Code, Is.EqualTo((int)ExitCode.Success));
        });
        var console = File.ReadAllText(Path.Combine(artifacts, "console.log"));
        Assert.That(console, Does.Contain("Linux version " + kernel.Release));
        Assert.That(console, Does.Not.Contain("QHH-FAILED"));
    }

    [Test]
    public async Task Debians_kernel_package_runs_the_seed_clean_for_three_iterations_as_predicted()
    {
        var kernel = await KernelOfAsync("linux-image-amd64");
        var artifacts = Path.Combine(_dir, "deb");
        var run = await Qhh("run", "--kernel-deb", $"patched={kernel.Deb}", "--kernel", "patched", "--pse", "off", "--qemu", "patched", "--boot-timeout", BootTimeout, "--artifacts", artifacts);
        AssertCleanAsPredicted(artifacts, run, kernel);
    }

    [Test]
    public async Task Debians_kernel_image_with_its_modules_tree_runs_the_seed_clean_for_three_iterations_as_predicted()
    {
        var kernel = await KernelOfAsync("linux-image-amd64");
        Assert.That(File.Exists(Path.Combine(kernel.Modules, "modules.dep")), Is.False, "a tree without modules.dep: the closure comes from the modules themselves");
        var artifacts = Path.Combine(_dir, "image");
        var run = await Qhh("run", "--kernel-image", $"patched={kernel.Image}", "--modules", kernel.Modules, "--kernel", "patched", "--boot-timeout", BootTimeout, "--artifacts", artifacts);
        AssertCleanAsPredicted(artifacts, run, kernel);
    }

    [Test]
    public async Task A_modules_tree_of_another_release_is_one_line_and_exit_2_before_anything_boots()
    {
        var kernel = await KernelOfAsync("linux-image-amd64");
        var older = await KernelOfAsync(await OlderMetaAsync());
        Assume.That(older.Release, Is.Not.EqualTo(kernel.Release), "apt knows only one 6.1 kernel release");
        var artifacts = Path.Combine(_dir, "wrong-modules");
        var (code, _, stderr) = await Qhh("run", "--kernel-image", $"patched={kernel.Image}", "--modules", older.Modules, "--kernel", "patched", "--artifacts", artifacts);
        Assert.That(code, Is.EqualTo((int)ExitCode.BadInput));
        var lines = stderr.TrimEnd().Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), stderr);
        Assert.That(lines[0], Does.StartWith($"qhh: --modules {older.Modules}: modules are for {older.Release} (")
            .And.EndWith($"but patched={kernel.Image} is {kernel.Release}"));
        Assert.That(Directory.Exists(artifacts), Is.False, "nothing was built or booted");
    }

    [Test]
    public async Task A_guest_without_network_still_writes_its_observation_and_console()
    {
        var kernel = await KernelOfAsync("linux-image-amd64");
        // The image alone, without the config beside it: nothing tells before boot that its NIC driver is a module.
        var alone = Path.Combine(_dir, "alone");
        Directory.CreateDirectory(alone);
        File.Copy(kernel.Image, Path.Combine(alone, "vmlinuz"), overwrite: true);
        var artifacts = Path.Combine(_dir, "no-network");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var (code, _, _) = await Qhh("run", "--kernel-image", $"patched={Path.Combine(alone, "vmlinuz")}", "--kernel", "patched", "--boot-timeout", BootTimeout, "--artifacts", artifacts);
        var o = ObservationIn(artifacts);
        Assert.That(code, Is.EqualTo((int)ExitCode.Infrastructure));
        Assert.That(o.Outcome, Is.EqualTo(Outcome.InfraError));
        Assert.That(o.Error, Does.StartWith("guest init: no eth0"));
        Assert.That(File.ReadAllText(Path.Combine(artifacts, "console.log")), Does.Contain("QHH-FAILED: no eth0"));
        TestContext.Progress.WriteLine($"no-network guest ended after {watch.Elapsed.TotalSeconds:F0} s: {o.Error}");
    }

    /// <summary>linux-image-amd64 at a version other than the candidate (bookworm's point release beside -security).</summary>
    private static async Task<string> OlderMetaAsync()
    {
        var policy = await Tool("apt-cache", "madison", "linux-image-amd64");
        var versions = policy.Split('\n').Select(l => l.Split('|')).Where(p => p.Length >= 3 && p[0].Trim() == "linux-image-amd64" && p[2].Contains("Packages"))
            .Select(p => p[1].Trim()).Distinct().ToList();
        if (versions.Count < 2) Assert.Ignore("apt knows one version of linux-image-amd64 only: no modules tree of another release to feed");
        return $"linux-image-amd64={versions[^1]}";
    }
}
