using System.Text.Json.Nodes;
using System.Xml.Linq;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Orchestration;

/// <summary>What the tools a night feeds rely on: stable junit identities, the harness version in every file, KCIDB statuses, origin and URLs.</summary>
public class OutputContractTests
{
    private const string Case = "early-section-memmap";
    private static readonly CaseInfo[] Cases = [new(Case, "mm/sparse: never partially remove memmap for early section", "f6f02d0b3c1c", true)];
    private string _root = "";

    [SetUp]
    public void MakeFolder() => _root = Directory.CreateTempSubdirectory("qhh-contract-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_root, recursive: true);

    private string Good(KcidbOptions? kcidb = null) => Nights.Write(Path.Combine(_root, "good"), Nights.Seed(caseName: Case), cases: Cases, kcidb: kcidb);

    /// <summary>The patched kernel with PSE off oopses, the unpatched PSE-on guest was killed before it booted.</summary>
    private string Broken(KcidbOptions? kcidb = null) => Nights.Write(Path.Combine(_root, "broken"), Nights.Seed((cell, _) => cell switch
    {
        "patched-pse-off" => Nights.PatchedOops(),
        "unpatched-pse-on" => Nights.Infra(),
        _ => SeedObservations.Of(cell),
    }, caseName: Case), cases: Cases, kcidb: kcidb);

    private static List<XElement> TestCases(string dir) => XDocument.Load(Path.Combine(dir, "junit.xml")).Descendants("testcase").ToList();

    private static string Prop(XElement e, string name) =>
        (string)e.Element("properties")!.Elements("property").Single(p => (string?)p.Attribute("name") == name).Attribute("value")!;

    [Test]
    public void Junit_test_identities_are_equal_across_a_good_and_a_broken_night()
    {
        static List<(string, string)> Ids(string dir) => TestCases(dir).Select(t => ((string)t.Attribute("classname")!, (string)t.Attribute("name")!)).ToList();
        var (good, broken) = (Good(), Broken());
        Assert.That(Ids(broken), Is.EqualTo(Ids(good)));
        Assert.That(Ids(good).Select(i => i.Item1).Distinct(), Is.EqualTo(new[] { "early-section-memmap.linux-6_1" }), "classname: case and kernel line");
        Assert.That(Ids(good).Select(i => i.Item2), Does.Contain("patched-pse-off"), "name: the cell");
        var patched = TestCases(broken).Single(t => (string)t.Attribute("name")! == "patched-pse-off");
        Assert.That((Prop(patched, "verdict"), Prop(patched, "observed")), Is.EqualTo(("patch-does-not-fix", "oops")), "the verdict is a property");
        Assert.That(patched.Element("failure"), Is.Not.Null);
        Assert.That(TestCases(broken).Single(t => (string)t.Attribute("name")! == "unpatched-pse-on").Element("error"), Is.Not.Null);
        Assert.That(Prop(TestCases(good).First(), "verdict"), Is.EqualTo("patch-fixes"));
    }

    [Test]
    public void Summary_junit_and_kcidb_name_the_harness_version_and_commit()
    {
        var dir = Good();
        var version = HarnessVersion.Current;
        Assert.That(version.Version, Does.Match(@"^\d+\.\d+\.\d+"));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))!;
        Assert.That(((string?)summary["harness"]!["version"], (string?)summary["harness"]!["commit"]), Is.EqualTo((version.Version, version.Commit)));
        var suite = XDocument.Load(Path.Combine(dir, "junit.xml")).Descendants("testsuite").First();
        Assert.That((Prop(suite, "harness_version"), Prop(suite, "harness_commit")), Is.EqualTo((version.Version, version.Commit)));
        var kcidb = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "kcidb.json")))!;
        Assert.That((string?)kcidb["checkouts"]![0]!["misc"]!["harness_version"], Is.EqualTo(version.Version));
        Assert.That(kcidb["tests"]!.AsArray().Select(t => (string?)t!["misc"]!["harness_commit"]).Distinct(), Is.EqualTo(new[] { version.Commit }));
    }

    [Test]
    [NonParallelizable] // captures the process's Console, as every CLI test
    public async Task Qhh_version_prints_the_harness_version_and_commit()
    {
        var (code, stdout, _) = await QhhCli.RunAsync("--version");
        Assert.That((code, stdout.Trim()), Is.EqualTo((0, HarnessVersion.Current.ToString())));
        Assert.That(stdout, Does.StartWith("qemu-hotplug-harness "));
    }

    [Test]
    public void Kcidb_statuses_say_what_happened_against_each_cell_s_expectation()
    {
        var kcidb = JsonNode.Parse(File.ReadAllText(Path.Combine(Broken(), "kcidb.json")))!;
        var status = kcidb["tests"]!.AsArray().ToDictionary(t => ((string)t!["path"]!).Split('.')[1], t => (string)t!["status"]!);
        Assert.That(status, Is.EqualTo(new Dictionary<string, string>
        {
            ["stock-qemu-unpatched-pse-off"] = "PASS", // rejected, as predicted
            ["unpatched-pse-off"] = "PASS",            // the unpatched control oopsed, as expected
            ["unpatched-pse-on"] = "MISS",             // killed before its kernel ran: not a kernel failure
            ["patched-pse-off"] = "FAIL",              // the patched kernel oopsed
            ["patched-pse-on"] = "PASS",
        }));
        Assert.That(Kcidb.Status(JudgedCell(new Observation { Outcome = Outcome.InfraError, Error = "ssh: connection lost", KernelRelease = "6.1.158" })),
            Is.EqualTo("ERROR"), "a kernel ran, then the run broke: ERROR, still not FAIL");
        Assert.That(KcidbSchema.Errors(Path.Combine(_root, "broken", "kcidb.json")), Is.Empty);
    }

    private static SummaryCell JudgedCell(Observation o)
    {
        var cell = QemuHotplugHarness.Orchestration.Matrix.Default(QemuHotplugHarness.Scenarios.Scenario.Seed)[1];
        var p = cell.Predict();
        var m = Comparison.Mismatches(p, o);
        return new SummaryCell(cell.Name, 1, cell.Scenario, p, o, m.Count == 0, m, cell.Name);
    }

    [Test]
    public void Kcidb_takes_its_origin_and_makes_artifact_urls_from_the_published_folder()
    {
        var options = new KcidbOptions("my_lab", "https://ci.example.org/runs/42/nightly");
        var dir = Good(options);
        var cell = Directory.CreateDirectory(Path.Combine(dir, Case, "unpatched-pse-off")).FullName;
        File.WriteAllText(Path.Combine(cell, "dmesg.txt"), "[    0.000000] Linux version 6.1.158\n");
        File.WriteAllText(Path.Combine(cell, "console.log"), "console\n");
        Reports.WriteReports(new RunArtifacts(dir), Merge.Load(dir), ChangeUnderTest.FromPatches([], "linux-source-6.1"), options);
        var kcidb = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "kcidb.json")))!;
        var origins = new[] { "checkouts", "builds", "tests" }.SelectMany(k => kcidb[k]!.AsArray().Select(o => (string?)o!["origin"])).Distinct();
        Assert.That(origins, Is.EqualTo(new[] { "my_lab" }));
        Assert.That((string?)kcidb["checkouts"]![0]!["id"], Does.StartWith("my_lab:"));
        var test = kcidb["tests"]!.AsArray().Single(t => ((string)t!["path"]!).EndsWith(".unpatched-pse-off", StringComparison.Ordinal))!;
        Assert.That((string?)test["log_url"], Is.EqualTo($"https://ci.example.org/runs/42/nightly/{Case}/unpatched-pse-off/console.log"));
        Assert.That((string?)test["output_files"]![0]!["url"], Is.EqualTo($"https://ci.example.org/runs/42/nightly/{Case}/unpatched-pse-off/dmesg.txt"));
        Assert.That(KcidbOptions.Problems("My-Lab", "ftp://x").Select(p => p.Input), Is.EqualTo(new InputKind?[] { InputKind.KcidbOrigin, InputKind.ArtifactsUrl }));
    }

    [Test]
    public void A_prebuilt_kernel_s_build_is_not_labelled_with_the_harness_s_tree_or_config()
    {
        var image = QemuHotplugHarness.Scenarios.Scenario.Seed;
        image = image with { Kernel = image.Kernel with { Image = "nightly" } };
        var cell = new Cell("patched-pse-off", image);
        var dir = Nights.Write(Path.Combine(_root, "prebuilt"), [(cell, 1, SeedObservations.Clean() with { KernelRelease = "6.12.9-amd64" })]);
        var build = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "kcidb.json")))!["builds"]![0]!;
        Assert.That(build["config_name"], Is.Null);
        Assert.That((string?)build["comment"], Is.EqualTo("prebuilt kernel image 'nightly', release 6.12.9-amd64; not built by the harness"));
    }
}
