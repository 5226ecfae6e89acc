using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Orchestration;

/// <summary>docs/summary.schema.json against summaries the harness's own writers wrote: a run, a suite with an infra cell, a merge missing a shard.</summary>
public class SummarySchemaTests
{
    private string _root = "";

    [SetUp]
    public void MakeFolder() => _root = Directory.CreateTempSubdirectory("qhh-schema-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_root, recursive: true);

    private static string SchemaPath => Path.Combine(RepoLayout.Discover().Root, "docs", "summary.schema.json");

    private static IReadOnlyList<string> Errors(string json)
    {
        var schema = JsonSchema.FromText(File.ReadAllText(SchemaPath));
        using var doc = JsonDocument.Parse(json);
        var result = schema.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        return result.IsValid ? [] : (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")).ToList();
    }

    private static string SummaryIn(string dir) => File.ReadAllText(Path.Combine(dir, "summary.json"));

    [Test]
    public void Summaries_the_harness_writes_validate()
    {
        var run = Nights.Write(Path.Combine(_root, "run"), Nights.Seed(repeat: 2));
        CaseInfo[] cases = [new("early-section-memmap", "mm/sparse: fix", "f6f02d0b3c1c", true)];
        var suite = Nights.Write(Path.Combine(_root, "suite"), Nights.Seed((cell, _) => cell switch
        {
            "patched-pse-off" => Nights.PatchedOops(),
            "unpatched-pse-on" => Nights.Infra(),
            _ => SeedObservations.Of(cell),
        }, caseName: "early-section-memmap", line: "6.12"), cases: cases);
        // A merge of shard 1/2 alone (RunState writes the shard with its whole plan): verdict incomplete, missing listed.
        var cells = Matrix.Default(Scenario.Seed);
        var shardDir = Path.Combine(_root, "shard-1");
        var work = Reproducer.Plan(Matrix.Shard(cells, 1, "1/2"));
        var state = new RunState(new RunArtifacts(shardDir), "1/2", ChangeUnderTest.FromPatches([], "linux-source-6.1"), work) { Plan = ShardPlan.Of(cells, 1, "1/2") };
        foreach (var w in work)
        {
            var p = w.Cell.Predict();
            var o = SeedObservations.Of(w.Cell.Name);
            state.Add(new SummaryCell(w.Cell.Name, 1, w.Cell.Scenario, p, o, true, [], w.Folder));
        }
        state.Write(final: true);
        var merged = Merge.Run([shardDir], Path.Combine(_root, "merged"));
        Assert.That(merged.Verdict, Is.EqualTo(Verdict.Incomplete));
        foreach (var dir in new[] { run, suite, shardDir, Path.Combine(_root, "merged") })
            Assert.That(Errors(SummaryIn(dir)), Is.Empty, dir);
        var mergedJson = JsonNode.Parse(SummaryIn(Path.Combine(_root, "merged")))!;
        Assert.That(mergedJson["missing"]!["shards"]![0]!.GetValue<string>(), Is.EqualTo("2/2"));
        Assert.That(JsonNode.Parse(SummaryIn(shardDir))!["plan"]!["cells"]!.AsArray(), Has.Count.EqualTo(5), "a shard carries the whole plan");
    }

    [TestCase("\"verdict\": \"patch-fixes\"", "\"verdict\": \"looks-good\"")]
    [TestCase("\"outcome\": \"oops\"", "\"outcome\": \"crashed\"")]
    [TestCase("\"repeat\": 1", "\"repeat\": 0")]
    [TestCase("\"verdict\": \"patch-fixes\"", "\"verdict\": \"patch-fixes\", \"surprise\": 1")]
    public void A_summary_that_breaks_the_contract_does_not(string from, string to)
    {
        var json = SummaryIn(Nights.Write(Path.Combine(_root, "run"), Nights.Seed()));
        Assert.That(json, Does.Contain(from));
        Assert.That(Errors(json.Replace(from, to)), Is.Not.Empty);
    }

    [Test]
    public void The_schema_knows_every_verdict_and_outcome_and_no_other()
    {
        var schema = JsonNode.Parse(File.ReadAllText(SchemaPath))!;
        Assert.That(schema["$defs"]!["verdict"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()),
            Is.EquivalentTo(Enum.GetValues<Verdict>().Select(v => v.Kebab())));
        Assert.That(schema["$defs"]!["outcome"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()),
            Is.EquivalentTo(Enum.GetValues<Outcome>().Select(v => v.Kebab())));
        Assert.That(schema["$defs"]!["accel"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()),
            Is.EquivalentTo(Enum.GetValues<Accel>().Select(v => v.Kebab())));
    }
}
