using QemuHotplugHarness.Build;

namespace QemuHotplugHarness.Tests.Ci;

/// <summary>
/// .ci/cache-key run with bash on a copy of the repository's data (its kernel lines, read by the harness's own loader
/// for the expectations), with apt and dpkg stubbed to answer chosen versions: the key names and covers every
/// line's Debian source version (the latest line's newest linux-source-X.Y of its suite), the harness's inputs, and
/// nothing its build writes.
/// </summary>
public class CacheKeyTests
{
    private string _scratch = "";
    private string Repo => Path.Combine(_scratch, "repo");
    private string Stubs => Path.Combine(_scratch, "stubs");
    private string Manifest => Path.Combine(_scratch, "manifest.txt");

    [SetUp]
    public void SetUp()
    {
        _scratch = CiScripts.Scratch("cache-key");
        var real = CiScripts.RepoRoot;
        Copy(Path.Combine(real, ".ci"), Path.Combine(Repo, ".ci"));
        Copy(Path.Combine(real, "kernel-lines"), Path.Combine(Repo, "kernel-lines"));
        File.Copy(Path.Combine(real, HarnessDefaults.FileName), Path.Combine(Repo, HarnessDefaults.FileName));
        Write("cases/a-case/case.json", "{}");
        Write("src/Harness/Program.cs", "class P {}");
        Write("qemu-patches/0001-x.patch", "patch");
        Write("images/initramfs/packages.txt", "# guest packages\nbusybox-static\nndctl\n");
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_scratch, recursive: true);

    private void Write(string path, string text)
    {
        var file = Path.Combine(Repo, path);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, text);
    }

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    /// <summary>The repository's lines as the harness reads them, each with the package the stubs offer and a version of its own.</summary>
    private static List<(string Line, string Suite, string Package, string Version)> Offered(string newest = "linux-source-7.10")
    {
        var lines = new List<(string, string, string, string)>();
        foreach (var (line, i) in RepoLayout.Discover().Lines().All.Select((l, i) => (l, i)))
            lines.Add((line.Name, line.Debian.Suite, line.Debian.Package ?? newest, $"{i + 1}.0.{i}-1"));
        return lines;
    }

    private void Offer(IEnumerable<(string Line, string Suite, string Package, string Version)> lines, params string[] more) =>
        CiScripts.AptStubs(Stubs, lines.Select(l => $"{l.Suite} {l.Package} {l.Version}")
            .Concat(["system qemu-system-x86 1:7.2+dfsg-7", "system busybox-static 1:1.35.0-4", "system ndctl 76.1-1"]).Concat(more));

    private async Task<(string Key, string[] Manifest)> KeyAsync(Dictionary<string, string>? env = null)
    {
        var run = await CiScripts.RunAsync("cache-key", _scratch, env ?? new(), [Manifest], root: Repo, pathPrefix: Stubs);
        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        Assert.That(run.StdoutLines, Has.Length.EqualTo(1), run.ToString());
        Assert.That(run.Stdout.Trim(), Does.Match("^qhh-[0-9a-f]{40}$"));
        return (run.Stdout.Trim(), File.ReadAllLines(Manifest));
    }

    [Test]
    public async Task The_key_names_every_lines_Debian_source_version_and_changes_with_each()
    {
        var offered = Offered();
        Assert.That(offered.Select(l => l.Line), Is.SupersetOf(new[] { "6.1", "6.12", "latest" }), "the repository's lines");
        // latest: the suite's newest linux-source-X.Y by version (7.10 after 7.9), never a flavour (-rt) or another prefix.
        var sidNoise = new[] { "sid linux-source-7.9 7.9.3-1", "sid linux-source-7.10-rt 9.9-1", "sid linux-source-all 1" };
        Offer(offered, sidNoise);

        var (key, manifest) = await KeyAsync();

        foreach (var l in offered)
            Assert.That(manifest, Does.Contain($"line {l.Line} {l.Package} {l.Version}"), string.Join("\n", manifest));
        Assert.That(manifest, Does.Contain("qemu qemu-system-x86 1:7.2+dfsg-7"));
        Assert.That(manifest, Does.Contain("image ndctl 76.1-1"));
        Assert.That(File.ReadAllLines(Path.Combine(Stubs, "apt.log")).Order(), Is.EqualTo(offered.Select(l => "update " + l.Suite).Distinct().Order()),
            "each line's own suite, read through lists of its own");

        foreach (var changed in offered)
        {
            Offer(offered.Select(l => l.Line == changed.Line ? l with { Version = l.Version + "+security1" } : l), sidNoise);
            Assert.That((await KeyAsync()).Key, Is.Not.EqualTo(key), $"a new Debian source version of line {changed.Line}");
        }
        Offer(offered, [.. sidNoise, "sid linux-source-7.11 7.11.0-1"]);
        var (newer, newerManifest) = await KeyAsync();
        Assert.That(newer, Is.Not.EqualTo(key), "Debian's newest kernel moved on");
        Assert.That(newerManifest, Does.Contain("line latest linux-source-7.11 7.11.0-1"));
    }

    [Test]
    public async Task A_new_kernel_line_file_is_covered_without_an_edit_of_the_script()
    {
        Offer(Offered(), "bookworm-backports linux-source-6.6 6.6.9-1~bpo12+1");
        var (key, _) = await KeyAsync();
        Write("kernel-lines/6.6.json", """
            { "name": "6.6", "description": "a line added for the test", "from": "6.6",
              "debian": { "package": "linux-source-6.6", "suite": "bookworm-backports", "mirror": "http://deb.debian.org/debian" } }
            """);

        var (withLine, manifest) = await KeyAsync();

        Assert.That(withLine, Is.Not.EqualTo(key));
        Assert.That(manifest, Does.Contain("line 6.6 linux-source-6.6 6.6.9-1~bpo12+1"));
    }

    [Test]
    public async Task A_line_whose_suite_lacks_its_source_fails_naming_the_line()
    {
        Offer(Offered().Where(l => l.Line != "6.12"));

        var run = await CiScripts.RunAsync("cache-key", _scratch, new(), [Manifest], root: Repo, pathPrefix: Stubs);

        Assert.That(run.Code, Is.EqualTo(1), run.ToString());
        Assert.That(run.Stderr, Does.Contain("kernel line 6.12: Debian's bookworm-security has no linux-source-6.12"));
    }

    [Test]
    public async Task The_key_changes_with_the_harness_inputs_and_the_lines_built_but_not_with_build_outputs()
    {
        Offer(Offered());
        var (key, _) = await KeyAsync();

        Write("src/Harness/bin/Release/qhh.dll", "built");
        Write("src/Harness/obj/project.assets.json", "{}");
        Assert.That((await KeyAsync()).Key, Is.EqualTo(key), "bin/ and obj/ are the build's, not its inputs");

        Assert.That((await KeyAsync(new() { ["NIGHTLY_LINES"] = "[\"6.1\"]" })).Key, Is.Not.EqualTo(key), "a run building fewer lines");
        var previous = key;
        foreach (var input in new[] { "cases/a-case/case.json", "src/Harness/Program.cs", "qemu-patches/0001-x.patch", "images/kernel/hotplug.config", HarnessDefaults.FileName, "kernel-lines/6.1.json" })
        {
            var file = Path.Combine(Repo, input);
            Write(input, (File.Exists(file) ? File.ReadAllText(file) : "") + "\n");
            var next = (await KeyAsync()).Key;
            Assert.That(next, Is.Not.EqualTo(previous), input);
            previous = next;
        }
    }

    [Test]
    public async Task Private_cases_are_covered()
    {
        Offer(Offered());
        var caller = Path.Combine(_scratch, "caller");
        Directory.CreateDirectory(Path.Combine(caller, "my-cases", "my-bug"));
        File.WriteAllText(Path.Combine(caller, "my-cases", "my-bug", "case.json"), "{}");
        var env = new Dictionary<string, string> { ["CASES"] = "my-cases", ["CASES_ROOT"] = "caller" };
        var (key, manifest) = await KeyAsync(env);
        Assert.That(manifest, Has.One.StartsWith("cases my-cases "));

        File.WriteAllText(Path.Combine(caller, "my-cases", "my-bug", "case.json"), "{ }");

        Assert.That((await KeyAsync(env)).Key, Is.Not.EqualTo(key));
    }
}
