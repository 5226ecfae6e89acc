using QemuHotplugHarness.Build;

namespace QemuHotplugHarness.Tests.Ci;

/// <summary>The example workflow a CI maintainer copies lints clean with action-validator; a broken one does not.</summary>
[Category("HostTools")] // npm and the registry
public class WorkflowLintTests
{
    public static string Workflow => Path.Combine(RepoLayout.Discover().Root, ".github", "workflows", "nightly.yml");

    [Test]
    public async Task The_nightly_workflow_lints_clean()
    {
        var (code, output) = await ActionValidator.LintAsync(Workflow);
        Assert.That(code, Is.EqualTo(0), output);
    }

    [Test]
    public async Task A_broken_workflow_fails_the_lint_naming_the_problem()
    {
        var dir = Directory.CreateTempSubdirectory("qhh-workflow-lint-").FullName;
        try
        {
            var broken = Path.Combine(dir, "nightly.yml");
            var text = File.ReadAllText(Workflow);
            const string shardJob = "\n    runs-on: ubuntu-latest\n    container: debian:12\n    strategy:";
            Assert.That(text, Does.Contain(shardJob), "the shard job as the test breaks it");
            File.WriteAllText(broken, text.Replace(shardJob, shardJob.Replace("runs-on", "runs_on")));
            var (code, output) = await ActionValidator.LintAsync(broken);
            Assert.That(code, Is.Not.EqualTo(0), output);
            Assert.That(output, Does.Contain("runs_on"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
