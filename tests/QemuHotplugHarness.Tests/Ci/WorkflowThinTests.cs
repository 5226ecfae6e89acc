using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace QemuHotplugHarness.Tests.Ci;

/// <summary>
/// The nightly workflow stays a thin layer over .ci/: every run step calls one script of .ci/ (which the other Ci tests
/// run directly), the matrix is the lines the build job's plan step says × the shards, each job checks out the harness
/// (not a calling kernel repository), and every input of the kernel-under-test script is wired from the workflow.
/// </summary>
public partial class WorkflowThinTests
{
    /// <summary>The one run step that cannot call a script: it installs what the checkout and the scripts need first.</summary>
    private const string Bootstrap =
        "apt-get update -q && apt-get install -y -q --no-install-recommends ca-certificates curl git libicu72 zstd python3";

    private static readonly YamlMappingNode Workflow = Load();

    private static YamlMappingNode Load()
    {
        var yaml = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(WorkflowLintTests.Workflow));
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    private static YamlMappingNode Map(YamlNode node, string key) => (YamlMappingNode)node[key];

    private static string? Scalar(YamlNode node, string key) =>
        node is YamlMappingNode m && m.Children.TryGetValue(key, out var v) && v is YamlScalarNode s ? s.Value : null;

    private static IEnumerable<(string Job, YamlMappingNode Step)> Steps() =>
        Map(Workflow, "jobs").Children.SelectMany(job => ((YamlSequenceNode)job.Value["steps"]).Children
            .Select(step => (((YamlScalarNode)job.Key).Value!, (YamlMappingNode)step)));

    [GeneratedRegex(@"^\.ci/([a-z][a-z-]*)( [a-z][a-z-]*)*$")]
    private static partial Regex ScriptCall();

    [Test]
    public void Every_run_step_calls_one_script_of_ci_that_exists_and_is_executable()
    {
        var runs = Steps().Where(s => Scalar(s.Step, "run") is not null).ToList();
        Assert.That(runs.Select(s => s.Job).Distinct(), Is.EquivalentTo(new[] { "build", "shard", "merge" }));
        foreach (var (job, step) in runs)
        {
            var run = Scalar(step, "run")!.Trim();
            if (run == Bootstrap) continue;
            var call = ScriptCall().Match(run);
            Assert.That(call.Success, $"{job}: '{run}' is not a call of one .ci/ script (logic belongs in the script, where the tests run it)");
            var script = Path.Combine(CiScripts.RepoRoot, ".ci", call.Groups[1].Value);
            Assert.That(File.Exists(script), $"{job}: {script}");
            Assert.That(File.GetUnixFileMode(script) & UnixFileMode.UserExecute, Is.Not.EqualTo(UnixFileMode.None), $"{script} is executable");
        }
        foreach (var job in new[] { "build", "shard", "merge" })
            Assert.That(Steps().Where(s => s.Job == job).Select(s => Scalar(s.Step, "run")).TakeWhile(r => r != Bootstrap).Count(), Is.EqualTo(0),
                $"{job}: the bootstrap is its first step");
    }

    [Test]
    public void The_shards_are_the_plans_lines_times_the_slices_each_told_its_line_and_slice()
    {
        var build = Map(Map(Workflow, "jobs"), "build");
        Assert.That(Scalar(Map(build, "outputs"), "lines"), Is.EqualTo("${{ steps.plan.outputs.lines }}"));
        var plan = Steps().Single(s => Scalar(s.Step, "id") == "plan");
        Assert.That((plan.Job, Scalar(plan.Step, "run")), Is.EqualTo(("build", ".ci/nightly-plan")));

        var matrix = Map(Map(Map(Map(Workflow, "jobs"), "shard"), "strategy"), "matrix");
        Assert.That(Scalar(matrix, "line"), Is.EqualTo("${{ fromJSON(needs.build.outputs.lines) }}"));
        Assert.That(((YamlSequenceNode)matrix["shard"]).Children.Select(c => ((YamlScalarNode)c).Value), Is.EqualTo(new[] { "1/2", "2/2" }));

        var shard = Steps().Single(s => Scalar(s.Step, "run")?.StartsWith(".ci/nightly-shard", StringComparison.Ordinal) == true);
        Assert.That(shard.Job, Is.EqualTo("shard"));
        Assert.That(Scalar(Map(shard.Step, "env"), "LINE"), Is.EqualTo("${{ matrix.line }}"));
        Assert.That(Scalar(Map(shard.Step, "env"), "SHARD"), Is.EqualTo("${{ matrix.shard }}"));
        var upload = Steps().Single(s => s.Job == "shard" && Scalar(s.Step, "uses")?.StartsWith("actions/upload-artifact@", StringComparison.Ordinal) == true);
        Assert.That(Scalar(Map(upload.Step, "with"), "name"), Is.EqualTo("shard-${{ matrix.line }}-${{ strategy.job-index }}"),
            "one artifact per line and slice, named as .ci/nightly-merge reads the line: shard-LINE-INDEX");
        var download = Steps().Single(s => s.Job == "merge" && Scalar(s.Step, "uses")?.StartsWith("actions/download-artifact@", StringComparison.Ordinal) == true);
        Assert.That((Scalar(Map(download.Step, "with"), "pattern"), Scalar(Map(download.Step, "with"), "path")), Is.EqualTo(("shard-*", "shards")));
        var merge = Steps().Single(s => Scalar(s.Step, "run")?.StartsWith(".ci/nightly-merge", StringComparison.Ordinal) == true);
        Assert.That(Scalar(merge.Step, "run"), Is.EqualTo(".ci/nightly-merge shards merged previous-night"));
    }

    [Test]
    public void Every_job_checks_out_the_harness_not_the_calling_repository()
    {
        var inputs = Map(Map(Map(Workflow, "on"), "workflow_call"), "inputs");
        Assert.That(Scalar(Map(inputs, "harness-repository"), "required"), Is.EqualTo("true"));
        foreach (var job in new[] { "build", "shard", "merge" })
        {
            var checkout = Steps().First(s => s.Job == job && Scalar(s.Step, "uses")?.StartsWith("actions/checkout@", StringComparison.Ordinal) == true);
            var with = Map(checkout.Step, "with");
            Assert.That(Scalar(with, "repository"), Is.EqualTo("${{ inputs.harness-repository || github.repository }}"), job);
            Assert.That(Scalar(with, "ref"), Is.EqualTo("${{ inputs.harness-ref }}"), job);
            Assert.That(Scalar(with, "path"), Is.Null, $"{job}: the harness is the workspace, where the steps call .ci/");
        }
    }

    [GeneratedRegex(@"\b(KUT_[A-Z_]+)\b")]
    private static partial Regex KutVariable();

    [Test]
    public void Every_input_the_kernel_under_test_script_reads_is_wired_from_the_workflow()
    {
        var script = File.ReadAllText(Path.Combine(CiScripts.RepoRoot, ".ci", "kernel-under-test"));
        var read = KutVariable().Matches(script).Select(m => m.Groups[1].Value).Distinct().Except(["KUT_DIR", "KUT_ARGS_FILE"]).ToList();
        Assert.That(read, Is.SupersetOf(new[] { "KUT_ARTIFACT_DIR", "KUT_DEBS", "KUT_IMAGE_URL", "KUT_CONFIG_URL", "KUT_MODULES_URL", "KUT_GIT", "KUT_REF" }));
        var wired = Map(Workflow, "env").Children.Keys.Concat(Steps().Where(s => s.Step.Children.ContainsKey("env")).SelectMany(s => Map(s.Step, "env").Children.Keys))
            .Select(k => ((YamlScalarNode)k).Value).ToHashSet();
        Assert.That(read.Where(v => !wired.Contains(v)), Is.Empty, "read by .ci/kernel-under-test but set nowhere in the workflow");
    }
}
