using QemuHotplugHarness.Tests.Orchestration;

namespace QemuHotplugHarness.Tests.Cli;

/// <summary>qhh compare on the command line: exit codes, outputs, bad input.</summary>
[NonParallelizable]
public class CompareCliTests
{
    private string _dir = "";
    private string _nights = "";

    /// <summary>Night 1: the seed's matrix, patch-fixes. Night 2: the patched kernel with PSE off oopses. Each a summary.json the harness wrote.</summary>
    private string Night(int n) => Path.Combine(_nights, $"night{n}", "summary.json");

    [SetUp]
    public void MakeFolder()
    {
        _dir = Directory.CreateTempSubdirectory("qhh-compare-cli-").FullName;
        _nights = Directory.CreateTempSubdirectory("qhh-nights-").FullName;
        Nights.Write(Path.Combine(_nights, "night1"), Nights.Seed());
        Nights.Write(Path.Combine(_nights, "night2"),
            Nights.Seed((cell, _) => cell == "patched-pse-off" ? Nights.PatchedOops() : SeedObservations.Of(cell)), seconds: 70);
        Nights.Write(Path.Combine(_nights, "night3"),
            Nights.Seed((cell, _) => cell == "unpatched-pse-off" ? Nights.Infra() : SeedObservations.Of(cell)));
    }

    [TearDown]
    public void RemoveNights() => Directory.Delete(_nights, recursive: true);

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task A_regression_exits_1_and_says_what_regressed()
    {
        var (code, stdout, stderr) = await QhhCli.RunAsync("compare", Night(1), Night(2));
        Assert.That(code, Is.EqualTo(1), stderr);
        Assert.That(stdout, Does.Contain("new oops titles:\n  general protection fault in stable_page_flags (in 6.1/patched-pse-off)\n"));
        Assert.That(stdout, Does.Contain("6.1/patched-pse-off match: match → mismatch (regression)"));
        Assert.That(stdout, Does.Contain("regressed: 3 regression(s)"));
    }

    [Test]
    public async Task An_improvement_exits_0_and_artifact_folders_are_read_like_files()
    {
        var folder = Path.Combine(_dir, "last-night");
        Directory.CreateDirectory(folder);
        File.Copy(Night(2), Path.Combine(folder, "summary.json"));
        var (code, stdout, stderr) = await QhhCli.RunAsync("compare", folder, Night(1));
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("verdict: patch-does-not-fix → patch-fixes\n").And.EndWith("no regression\n"));
    }

    [Test]
    public async Task Json_on_stdout_and_markdown_appended_to_the_file()
    {
        var md = Path.Combine(_dir, "step-summary.md");
        File.WriteAllText(md, "earlier step\n");
        var (code, stdout, _) = await QhhCli.RunAsync("compare", Night(1), Night(2), "--json", "--markdown", md);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(System.Text.Json.Nodes.JsonNode.Parse(stdout)!["regressed"]!.GetValue<bool>(), Is.True);
        Assert.That(File.ReadAllText(md), Does.StartWith("earlier step\n## qhh compare: regressed\n"));
    }

    [Test]
    public async Task Bad_inputs_exit_2_with_one_line_each_naming_the_input()
    {
        var notSummary = Path.Combine(_dir, "scenario.json");
        File.WriteAllText(notSummary, """{ "machine": { "ram": "4160M" } }""");
        var (code, stdout, stderr) = await QhhCli.RunAsync("compare", "/nonexistent/before.json", notSummary);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stdout, Is.Empty);
        Assert.That(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[]
        {
            "qhh: compare /nonexistent/before.json: no such file or folder",
            $"qhh: compare {notSummary}: its summary.json is not a summary (no verdict)",
        }));
    }

    [Test]
    public async Task An_infra_night_exits_0_and_lists_what_it_could_not_judge_apart()
    {
        var (code, stdout, stderr) = await QhhCli.RunAsync("compare", Night(1), Night(3));
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("could not judge (not regressions):\n  verdict infra-error\n  6.1/unpatched-pse-off: infra-error: qemu exited"));
        Assert.That(stdout, Does.EndWith("no regression\n"));
    }

    [Test]
    public async Task A_known_intermittent_issue_exits_0_and_a_bad_known_issues_file_is_one_line()
    {
        var known = Path.Combine(_dir, "known-issues.json");
        File.WriteAllText(known, $$"""[ { "cell": "6.1/patched-pse-off", "title": "{{Nights.NewTitle}}", "intermittent": true } ]""");
        var (code, stdout, stderr) = await QhhCli.RunAsync("compare", Night(1), Night(2), "--known-issues", known);
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("known intermittent issues (not counted):\n").And.EndWith("no regression\n"));
        (code, _, stderr) = await QhhCli.RunAsync("compare", Night(1), Night(2), "--known-issues", "/nonexistent/k.json");
        Assert.That((code, stderr), Is.EqualTo((2, "qhh: --known-issues /nonexistent/k.json: no such file\n")));
    }

    [Test]
    public async Task A_folder_without_a_summary_is_bad_input()
    {
        var (code, _, stderr) = await QhhCli.RunAsync("compare", _dir, Night(1));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Is.EqualTo($"qhh: compare {_dir}: has no summary.json\n"));
    }

    [Test]
    public async Task A_markdown_file_that_cannot_be_written_is_bad_input()
    {
        var (code, _, stderr) = await QhhCli.RunAsync("compare", Night(1), Night(1), "--markdown", "/proc/qhh-summary.md");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.StartWith("qhh: --markdown /proc/qhh-summary.md: cannot write there: "));
    }
}
