using QemuHotplugHarness.Build;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Ci;

/// <summary>
/// .ci/kernel-under-test run with bash on kernels as they are built: a `make bindeb-pkg` set, Debian's and Ubuntu's
/// split sets, a bzImage with its .config and modules tarball. The packages are real (dpkg-deb --build, tiny payloads);
/// the arguments the script writes are read back as the CLI reads them.
/// </summary>
public class KernelUnderTestTests
{
    private string _scratch = "";

    [SetUp]
    public void SetUp() => _scratch = CiScripts.Scratch("kut");

    [TearDown]
    public void TearDown() => Directory.Delete(_scratch, recursive: true);

    private string Artifact => Path.Combine(_scratch, "artifact");
    private string ArgsPath => Path.Combine(_scratch, "kernel-args.txt");

    private Task<ScriptRun> RunAsync(Dictionary<string, string> env) =>
        CiScripts.RunAsync("kernel-under-test", _scratch, new Dictionary<string, string>(env) { ["KUT_DIR"] = Path.Combine(_scratch, "kut") }, [ArgsPath]);

    /// <summary>What `make bindeb-pkg` of 6.13-rc1 leaves: the image, its -dbg twin (sorted first), headers and libc-dev.</summary>
    private Dictionary<string, string> BindebPkg(string into)
    {
        const string r = "6.13.0-rc1";
        return new()
        {
            ["image"] = CiScripts.Deb(into, $"linux-image-{r}", $"{r}-1",
                new Dictionary<string, string> { [$"boot/vmlinuz-{r}"] = "kernel", [$"boot/config-{r}"] = "CONFIG_X=y\n", [$"lib/modules/{r}/modules.order"] = "" }),
            ["dbg"] = CiScripts.Deb(into, $"linux-image-{r}-dbg", $"{r}-1", new Dictionary<string, string> { [$"usr/lib/debug/lib/modules/{r}/vmlinux"] = "" }),
            ["headers"] = CiScripts.Deb(into, $"linux-headers-{r}", $"{r}-1"),
            ["libc"] = CiScripts.Deb(into, "linux-libc-dev", $"{r}-1"),
        };
    }

    [Test]
    public async Task A_bindeb_pkg_set_registers_its_image_package_not_the_dbg_one_nor_headers_or_libc_dev()
    {
        var debs = BindebPkg(Artifact);
        Assert.That(string.CompareOrdinal(debs["dbg"], debs["image"]), Is.LessThan(0), "the -dbg package sorts before the image, as bindeb-pkg names them");

        var run = await RunAsync(new() { ["KUT_ARTIFACT_DIR"] = Artifact });

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        Assert.That(CiScripts.ArgsFile(ArgsPath), Is.EqualTo(new[] { "--kernel-deb", "patched=" + debs["image"], "--boot-timeout", "600" }));
        Assert.That(run.Stderr, Does.Contain("left out linux-image-6.13.0-rc1-dbg (debug symbols)"));
    }

    [Test]
    public async Task Debs_given_as_URLs_are_sorted_like_an_artifact()
    {
        CiScripts.Require("curl");
        var debs = BindebPkg(Path.Combine(_scratch, "published"));
        var urls = string.Join(" ", debs.Values.Order(StringComparer.Ordinal).Select(f => "file://" + f));

        var run = await RunAsync(new() { ["KUT_DEBS"] = urls });

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        var args = CiScripts.ArgsFile(ArgsPath);
        Assert.That(args, Has.Length.EqualTo(4), run.ToString());
        Assert.That(args[0], Is.EqualTo("--kernel-deb"));
        Assert.That(args[1], Does.StartWith("patched=" + Path.Combine(_scratch, "kut")).And.EndWith("linux-image-6.13.0-rc1_6.13.0-rc1-1_amd64.deb"));
        Assert.That(File.ReadAllBytes(args[1]["patched=".Length..]), Is.EqualTo(File.ReadAllBytes(debs["image"])), "the fetched image package");
    }

    public static IEnumerable<TestCaseData> SplitSets()
    {
        const string u = "6.8.0-40-generic";
        yield return new TestCaseData(
            new[] { $"linux-image-unsigned-{u}", $"linux-modules-{u}", $"linux-modules-extra-{u}" },
            new[] { $"linux-image-{u}", $"linux-headers-{u}", "linux-image-generic", $"linux-image-unsigned-{u}-dbgsym" }).SetArgDisplayNames("ubuntu");
        const string d = "6.17.8+deb14-amd64";
        yield return new TestCaseData(
            new[] { $"linux-binary-{d}", $"linux-image-{d}", $"linux-modules-{d}" },
            new[] { $"linux-headers-{d}", "linux-image-amd64", $"linux-image-{d}-dbg" }).SetArgDisplayNames("debian");
    }

    [TestCaseSource(nameof(SplitSets))]
    public async Task A_split_set_is_registered_whole_as_one_set(string[] kept, string[] leftOut)
    {
        var files = kept.Concat(leftOut).ToDictionary(p => p, p => CiScripts.Deb(Artifact, p, "1"));

        var run = await RunAsync(new() { ["KUT_ARTIFACT_DIR"] = Artifact });

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        var args = CiScripts.ArgsFile(ArgsPath);
        var debSpecs = args.Zip(args.Skip(1)).Where(p => p.First == "--kernel-deb").Select(p => p.Second).ToList();
        Assert.That(debSpecs, Is.EquivalentTo(kept.Select(p => "patched=" + files[p])), run.ToString());
        Assert.That(args.TakeLast(2), Is.EqualTo(new[] { "--boot-timeout", "600" }));
        // The CLI's reading of those arguments: one set of every kept package, under the name reproduce uses.
        var sets = KernelDebSet.Group(debSpecs);
        Assert.That(sets, Has.Count.EqualTo(1));
        Assert.That(sets[0].Name, Is.EqualTo("patched"));
        Assert.That(sets[0].Files, Is.EquivalentTo(kept.Select(p => files[p])));
    }

    [Test]
    public async Task Packages_of_two_kernels_are_refused_naming_both_releases()
    {
        CiScripts.Deb(Artifact, "linux-image-6.13.0-rc1", "1");
        CiScripts.Deb(Artifact, "linux-image-6.12.9", "1");

        var run = await RunAsync(new() { ["KUT_ARTIFACT_DIR"] = Artifact });

        Assert.That(run.Code, Is.EqualTo(2), run.ToString());
        Assert.That(run.Stderr, Does.Contain("6.13.0-rc1").And.Contain("6.12.9").And.Contain("give one kernel"));
    }

    [Test]
    public async Task A_bzImage_registers_with_its_config_where_the_harness_reads_it_and_its_modules_tarball()
    {
        const string release = "6.13.0-rc1-00042-gdeadbeef";
        CiScripts.BzImageFile(Path.Combine(Artifact, "arch", "x86", "boot", "bzImage"), release);
        File.WriteAllText(Path.Combine(Artifact, ".config"), "CONFIG_MEMORY_HOTPLUG=y\n");
        var modules = Path.Combine(_scratch, "modules-tree");
        Directory.CreateDirectory(Path.Combine(modules, "lib", "modules", release));
        File.WriteAllText(Path.Combine(modules, "lib", "modules", release, "modules.order"), "");
        var tar = await CliWrap.Cli.Wrap("tar").WithArguments(["-C", modules, "-cJf", Path.Combine(Artifact, "modules.tar.xz"), "lib"])
            .WithValidation(CliWrap.CommandResultValidation.None).ExecuteAsync();
        Assert.That(tar.ExitCode, Is.EqualTo(0));

        var run = await RunAsync(new() { ["KUT_ARTIFACT_DIR"] = Artifact });

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        var kut = Path.Combine(_scratch, "kut");
        var image = Path.Combine(kut, "image", "bzImage");
        Assert.That(CiScripts.ArgsFile(ArgsPath), Is.EqualTo(new[]
        {
            "--kernel-image", "patched=" + image, "--modules", Path.Combine(kut, "modules", "lib", "modules", release), "--boot-timeout", "600",
        }));
        // The harness reads the image's release from its boot header and its config beside it as config-RELEASE.
        Assert.That(BzImage.TryRead(image, out var reason)?.Release, Is.EqualTo(release), reason);
        Assert.That(File.ReadAllText(Path.Combine(kut, "image", "config-" + release)), Is.EqualTo("CONFIG_MEMORY_HOTPLUG=y\n"));
        Assert.That(run.Stderr, Does.Not.Contain("no .config"));
    }

    [Test]
    public async Task The_harness_checks_the_kernel_under_test_against_the_config_the_script_placed()
    {
        CiScripts.BzImageFile(Path.Combine(Artifact, "bzImage"), "6.13.0-rc1");
        File.WriteAllText(Path.Combine(Artifact, ".config"), "CONFIG_MODULES=y\n"); // none of what the guest needs

        var run = await RunAsync(new() { ["KUT_ARTIFACT_DIR"] = Artifact });

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        var args = CiScripts.ArgsFile(ArgsPath);
        Assert.That(args[0], Is.EqualTo("--kernel-image"));
        // What reproduce does with --kernel-image NAME=PATH: the registration reads config-RELEASE beside the image.
        var error = Assert.Throws<BadInputException>(() => KernelSources.ParsePrebuilt([args[1]], null));
        Assert.That(error!.Message, Does.Contain("config config-6.13.0-rc1"));
    }

    [Test]
    public async Task A_bzImage_without_its_config_is_registered_with_a_warning()
    {
        CiScripts.BzImageFile(Path.Combine(Artifact, "bzImage"), "6.12.9");

        var run = await RunAsync(new() { ["KUT_ARTIFACT_DIR"] = Artifact });

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        Assert.That(CiScripts.ArgsFile(ArgsPath), Is.EqualTo(new[] { "--kernel-image", "patched=" + Path.Combine(_scratch, "kut", "image", "bzImage"), "--boot-timeout", "600" }));
        Assert.That(Directory.GetFiles(Path.Combine(_scratch, "kut", "image")).Select(Path.GetFileName), Is.EqualTo(new[] { "bzImage" }));
        Assert.That(run.Stderr, Does.Contain("no .config beside bzImage"));
    }

    [Test]
    public async Task A_file_named_bzImage_that_is_no_kernel_is_refused()
    {
        Directory.CreateDirectory(Artifact);
        File.WriteAllText(Path.Combine(Artifact, "bzImage"), "not a kernel");

        var run = await RunAsync(new() { ["KUT_ARTIFACT_DIR"] = Artifact });

        Assert.That(run.Code, Is.EqualTo(2), run.ToString());
        Assert.That(run.Stderr, Does.Contain("not a bzImage"));
    }

    [Test]
    public async Task A_bzImage_its_config_and_modules_given_as_URLs_are_fetched_and_registered()
    {
        CiScripts.Require("curl");
        const string release = "6.12.9";
        var published = Path.Combine(_scratch, "published");
        CiScripts.BzImageFile(Path.Combine(published, "vmlinuz"), release);
        File.WriteAllText(Path.Combine(published, "kernel.config"), "CONFIG_MEMORY_HOTPLUG=y\n");
        Directory.CreateDirectory(Path.Combine(_scratch, "mods", "lib", "modules", release));
        File.WriteAllText(Path.Combine(_scratch, "mods", "lib", "modules", release, "modules.dep"), "");
        var tar = await CliWrap.Cli.Wrap("tar").WithArguments(["-C", Path.Combine(_scratch, "mods"), "-czf", Path.Combine(published, "mods.tgz"), "lib"])
            .WithValidation(CliWrap.CommandResultValidation.None).ExecuteAsync();
        Assert.That(tar.ExitCode, Is.EqualTo(0));

        var run = await RunAsync(new()
        {
            ["KUT_IMAGE_URL"] = "file://" + Path.Combine(published, "vmlinuz"), ["KUT_CONFIG_URL"] = "file://" + Path.Combine(published, "kernel.config"),
            ["KUT_MODULES_URL"] = "file://" + Path.Combine(published, "mods.tgz"),
        });

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        var kut = Path.Combine(_scratch, "kut");
        Assert.That(CiScripts.ArgsFile(ArgsPath), Is.EqualTo(new[]
        {
            "--kernel-image", "patched=" + Path.Combine(kut, "image", "bzImage"), "--modules", Path.Combine(kut, "modules", "lib", "modules", release),
            "--boot-timeout", "600",
        }));
        Assert.That(File.ReadAllText(Path.Combine(kut, "image", "config-" + release)), Is.EqualTo("CONFIG_MEMORY_HOTPLUG=y\n"));
    }

    [Test]
    public async Task A_git_tree_is_fetched_at_its_ref_and_built_with_kernel_src()
    {
        var origin = Path.Combine(_scratch, "origin");
        Directory.CreateDirectory(origin);
        async Task Git(params string[] args)
        {
            var r = await CliWrap.Cli.Wrap("git").WithArguments(["-C", origin, "-c", "user.name=t", "-c", "user.email=t@example.org", .. args])
                .WithValidation(CliWrap.CommandResultValidation.None).ExecuteAsync();
            Assert.That(r.ExitCode, Is.EqualTo(0), "git " + string.Join(" ", args));
        }
        await Git("init", "-q", "-b", "main");
        File.WriteAllText(Path.Combine(origin, "Makefile"), "VERSION = 6\n");
        await Git("add", "Makefile");
        await Git("commit", "-q", "-m", "one");
        await Git("checkout", "-q", "-b", "for-next");
        File.WriteAllText(Path.Combine(origin, "Makefile"), "VERSION = 7\n");
        await Git("commit", "-q", "-am", "two");
        await Git("checkout", "-q", "main"); // the origin's HEAD is not the ref asked for

        var run = await RunAsync(new() { ["KUT_GIT"] = "file://" + origin, ["KUT_REF"] = "for-next" });

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        var tree = Path.Combine(_scratch, "kut", "linux");
        Assert.That(CiScripts.ArgsFile(ArgsPath), Is.EqualTo(new[] { "--kernel-src", tree }));
        Assert.That(File.ReadAllText(Path.Combine(tree, "Makefile")), Is.EqualTo("VERSION = 7\n"), "the ref's commit");
    }

    [Test]
    public async Task Nothing_given_writes_no_arguments()
    {
        File.WriteAllText(ArgsPath, "stale\n");

        var run = await RunAsync(new());

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        Assert.That(File.ReadAllText(ArgsPath), Is.Empty);
        Assert.That(run.Stderr, Does.Contain("none given"));
    }
}
