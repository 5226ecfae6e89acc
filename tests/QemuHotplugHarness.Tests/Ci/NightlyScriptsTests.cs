using System.Text.Json;
using QemuHotplugHarness.Build;

namespace QemuHotplugHarness.Tests.Ci;

/// <summary>
/// The nightly jobs' scripts run with bash: the lines the matrix gets (checked against the harness's own reading of
/// kernel-lines/ and defaults.json), the harness commands the build and shard jobs assemble (DRY_RUN=1 prints them),
/// and the merge job's sequence with a stub harness (merge, compare, keep tonight's summary; its exit code).
/// </summary>
public class NightlyScriptsTests
{
    private string _scratch = "";

    [SetUp]
    public void SetUp() => _scratch = CiScripts.Scratch("nightly");

    [TearDown]
    public void TearDown() => Directory.Delete(_scratch, recursive: true);

    private Task<ScriptRun> RunAsync(string script, Dictionary<string, string> env, params string[] args) =>
        CiScripts.RunAsync(script, _scratch, env, args);

    private static string[] Json(string text) => JsonSerializer.Deserialize<string[]>(text)!;

    private static string[] AllLines => RepoLayout.Discover().Lines().All.Select(l => l.Name).ToArray();

    [Test]
    public async Task The_matrix_gets_every_line_of_kernel_lines_by_default()
    {
        var run = await RunAsync("nightly-lines", new());

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        Assert.That(Json(run.Stdout), Is.EqualTo(AllLines));
        Assert.That(AllLines, Has.Length.GreaterThanOrEqualTo(3));
    }

    [Test]
    public async Task The_lines_input_picks_lines_once_each_and_an_unknown_one_is_refused()
    {
        var picked = await RunAsync("nightly-lines", new() { ["LINES"] = "latest, 6.12 latest" });
        Assert.That(picked.Code, Is.EqualTo(0), picked.ToString());
        Assert.That(Json(picked.Stdout), Is.EqualTo(new[] { "latest", "6.12" }));

        var unknown = await RunAsync("nightly-lines", new() { ["LINES"] = "6.1 5.15" });
        Assert.That(unknown.Code, Is.EqualTo(2), unknown.ToString());
        Assert.That(unknown.Stderr, Does.Contain("5.15: no such kernel line (kernel-lines/ has: " + string.Join(" ", AllLines) + ")"));
    }

    [Test]
    public async Task A_kernel_under_test_runs_on_its_own_line_only()
    {
        var defaulted = await RunAsync("nightly-lines", new() { ["KUT_ARTIFACT"] = "kernel-debs", ["LINES"] = "6.12" });
        Assert.That(defaulted.Code, Is.EqualTo(0), defaulted.ToString());
        Assert.That(Json(defaulted.Stdout), Is.EqualTo(new[] { HarnessDefaults.Load(CiScripts.RepoRoot).Line }), "defaults.json's line");
        Assert.That(defaulted.Stderr, Does.Contain("LINES (6.12) not used"));

        var asked = await RunAsync("nightly-lines", new() { ["KUT_GIT"] = "https://example.org/linux.git", ["KERNEL_LINE"] = "latest" });
        Assert.That(asked.Code, Is.EqualTo(0), asked.ToString());
        Assert.That(Json(asked.Stdout), Is.EqualTo(new[] { "latest" }));
    }

    [Test]
    public async Task The_build_job_prebuilds_the_suite_of_each_line_with_the_private_cases()
    {
        Directory.CreateDirectory(Path.Combine(_scratch, "caller", "qa", "cases"));
        var run = await RunAsync("nightly-build", new()
        {
            ["DRY_RUN"] = "1", ["NIGHTLY_LINES"] = "[\"6.1\",\"latest\"]", ["CASES"] = "qa/cases", ["CASES_ROOT"] = "caller",
        });

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        var cases = Path.Combine(_scratch, "caller", "qa", "cases");
        Assert.That(run.StdoutLines, Is.EqualTo(new[]
        {
            $"qhh build all --suite --kernel-line 6.1 --cases {cases}",
            $"qhh build all --suite --kernel-line latest --cases {cases}",
        }));
    }

    [Test]
    public async Task A_shard_reproduces_the_suite_on_its_line_with_the_kernel_under_test_and_extra_arguments_unglobbed()
    {
        var image = CiScripts.Deb(Path.Combine(_scratch, "kernel-artifact"), "linux-image-6.12.9", "6.12.9-1");
        CiScripts.Deb(Path.Combine(_scratch, "kernel-artifact"), "linux-image-6.12.9-dbg", "6.12.9-1");
        File.WriteAllText(Path.Combine(_scratch, "a-file-a-glob-would-match"), "");

        var run = await RunAsync("nightly-shard", new()
        {
            ["DRY_RUN"] = "1", ["LINE"] = "6.12", ["SHARD"] = "2/3", ["REPEAT"] = "5", ["KUT_ARTIFACT_DIR"] = "kernel-artifact",
            ["CASES"] = "mine", ["QHH_ARGS"] = "--accel tcg  --iterations 4 --note *",
        }, "shard");

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        Assert.That(run.StdoutLines, Is.EqualTo(new[]
        {
            $"qhh reproduce --suite --kernel-line 6.12 --shard 2/3 --repeat 5 --artifacts {Path.Combine(_scratch, "shard")} " +
            $"--cases {Path.Combine(_scratch, "mine")} --kernel-deb patched={image} --boot-timeout 600 --accel tcg --iterations 4 --note \\*",
        }));
        Assert.That(File.ReadAllLines(Path.Combine(_scratch, "kernel-args.txt")), Is.EqualTo(new[] { "--kernel-deb", "patched=" + image, "--boot-timeout", "600" }));
    }

    [Test]
    public async Task A_shard_without_a_kernel_under_test_runs_the_harness_kernels_once_each()
    {
        var run = await RunAsync("nightly-shard", new() { ["DRY_RUN"] = "1", ["LINE"] = "latest", ["SHARD"] = "1/2" });

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        Assert.That(run.StdoutLines, Is.EqualTo(new[] { $"qhh reproduce --suite --kernel-line latest --shard 1/2 --repeat 1 --artifacts {Path.Combine(_scratch, "shard")}" }));
    }

    /// <summary>A harness command for QHH_CLI: the built qhh with --plan appended, so the harness parses and plans what the job asks, building nothing.</summary>
    private string PlanningHarness()
    {
        var stubs = Path.Combine(_scratch, "stubs");
        CiScripts.Stub(stubs, "qhh-plan", $"exec dotnet {Path.Combine(AppContext.BaseDirectory, "qhh.dll")} \"$@\" --plan\n");
        return Path.Combine(stubs, "qhh-plan");
    }

    /// <summary>A private case folder: a copy of one of the repository's cases under a name of its own, with a config option more (kernels of its own).</summary>
    private string PrivateCases(string name)
    {
        var from = Path.Combine(CiScripts.RepoRoot, "cases", "memunmap-altmap-reserve");
        var to = Path.Combine(_scratch, "caller", "qa", name);
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        var json = Path.Combine(to, "case.json");
        File.WriteAllText(json, File.ReadAllText(json).Replace("\"name\": \"memunmap-altmap-reserve\"", $"\"name\": \"{name}\"", StringComparison.Ordinal)
            .Replace("\"config\": [\"debug-vm\"]", "\"config\": [\"debug-vm\", \"CONFIG_DEBUG_PAGEALLOC=y\"]", StringComparison.Ordinal));
        return "qa";
    }

    [Test]
    public async Task The_commands_the_build_and_shard_jobs_run_are_the_ones_the_harness_plans()
    {
        var cli = PlanningHarness();
        var cases = PrivateCases("my-private-bug");

        var build = await RunAsync("nightly-build", new() { ["QHH_CLI"] = cli, ["NIGHTLY_LINES"] = "[\"6.1\",\"latest\"]", ["CASES"] = cases, ["CASES_ROOT"] = "caller" });
        Assert.That(build.Code, Is.EqualTo(0), build.ToString());
        Assert.That(build.Stdout, Does.Contain("kernels to build on line 6.1:").And.Contain("kernels to build on line latest:"));
        Assert.That(build.Stdout, Does.Contain("zone-device-section-collision/fix-7.x.patch"), "the suite's kernels, not only the default case's");
        Assert.That(build.Stdout, Does.Contain("my-private-bug/fix-6.1.patch + 9 config option(s)").And.Contain("my-private-bug/fix-7.x.patch"),
            "the private case's kernels: the suite's eight options and its own DEBUG_PAGEALLOC");

        var image = CiScripts.Deb(Path.Combine(_scratch, "kernel-artifact"), "linux-image-6.12.9", "6.12.9-1");
        var shard = await RunAsync("nightly-shard", new()
        {
            ["QHH_CLI"] = cli, ["LINE"] = "6.12", ["SHARD"] = "2/2", ["KUT_ARTIFACT_DIR"] = "kernel-artifact", ["CASES"] = cases, ["CASES_ROOT"] = "caller",
        }, "shard");
        Assert.That(shard.Code, Is.EqualTo(0), shard.ToString());
        Assert.That(shard.Stdout, Does.Contain("on kernel line 6.12"));
        Assert.That(shard.Stdout, Does.Contain("my-private-bug/unpatched-pse-off"), "the private case is in the suite");
        Assert.That(shard.Stdout, Does.Not.Contain("skipped: my-private-bug"));
        Assert.That(File.ReadAllLines(Path.Combine(_scratch, "kernel-args.txt")), Does.Contain("patched=" + image));
    }

    [TestCase("1of2", "1", "SHARD 1of2: use K/N")]
    [TestCase("1/2", "0", "REPEAT 0: a positive number")]
    public async Task A_shard_refuses_a_malformed_slice_or_repeat(string shard, string repeat, string message)
    {
        var run = await RunAsync("nightly-shard", new() { ["DRY_RUN"] = "1", ["LINE"] = "6.1", ["SHARD"] = shard, ["REPEAT"] = repeat });

        Assert.That(run.Code, Is.EqualTo(2), run.ToString());
        Assert.That(run.Stderr, Does.Contain(message));
        Assert.That(run.Stdout, Is.Empty);
    }

    /// <summary>
    /// A stub `dotnet` on PATH for the merge job: `pwsh ./run.ps1 merge … --out DIR` writes DIR/summary.json (the night
    /// named by STUB_NIGHT) unless STUB_MERGE_WRITES=0, and exits with the code in the file merge-exit-LINE beside the
    /// stub (LINE = DIR's name), else STUB_MERGE_EXIT; `compare` appends to its --markdown file and exits
    /// STUB_COMPARE_EXIT. Every call is logged to calls.log.
    /// </summary>
    private string DotnetStub()
    {
        var stubs = Path.Combine(_scratch, "stubs");
        CiScripts.Stub(stubs, "dotnet", """
            here=$(dirname "$0")
            echo "$*" >>"$here/calls.log"
            [ "$1" = tool ] && exit 0
            shift 2 # pwsh ./run.ps1
            case $1 in
              merge)
                out=${@: -1}
                prev=""; for a in "$@"; do [ "$prev" = --out ] && out=$a; prev=$a; done
                if [ "${STUB_MERGE_WRITES:-1}" = 1 ]; then mkdir -p "$out" && echo "{\"night\": \"$STUB_NIGHT\"}" >"$out/summary.json"; fi
                if [ -f "$here/merge-exit-$(basename "$out")" ]; then exit "$(cat "$here/merge-exit-$(basename "$out")")"; fi
                exit "${STUB_MERGE_EXIT:-0}" ;;
              compare)
                echo "compared $2 with $3" >>"${@: -1}"
                exit "${STUB_COMPARE_EXIT:-0}" ;;
            esac
            exit 99

            """);
        return stubs;
    }

    private Task<ScriptRun> MergeAsync(string stubs, Dictionary<string, string> env)
    {
        env["GITHUB_STEP_SUMMARY"] = Path.Combine(_scratch, "step-summary.md");
        if (File.Exists(Path.Combine(stubs, "calls.log"))) File.Delete(Path.Combine(stubs, "calls.log"));
        return CiScripts.RunAsync("nightly-merge", _scratch, env, ["shards", "merged", "previous-night"], pathPrefix: stubs);
    }

    private string S(params string[] parts) => Path.Combine([_scratch, .. parts]);

    [Test]
    public async Task The_merge_job_merges_each_lines_shards_compares_each_with_its_previous_night_and_keeps_tonight()
    {
        var stubs = DotnetStub();
        foreach (var shard in new[] { "shard-latest-5", "shard-6.1-0", "shard-6.1-1" }) Directory.CreateDirectory(S("shards", shard));
        var summary = S("step-summary.md");
        string Kept(string line) => File.ReadAllText(S("previous-night", line, "summary.json"));
        string[] Calls() => File.ReadAllLines(Path.Combine(stubs, "calls.log"));

        // Night 1: a patch that does not fix (merge exits 1); nothing to compare with; tonight's summaries are kept anyway.
        var night1 = await MergeAsync(stubs, new() { ["STUB_NIGHT"] = "1", ["STUB_MERGE_EXIT"] = "1" });
        Assert.That(night1.Code, Is.EqualTo(1), night1.ToString());
        Assert.That(Calls(), Is.EqualTo(new[]
        {
            "tool restore",
            $"pwsh ./run.ps1 merge {S("shards", "shard-6.1-0")} {S("shards", "shard-6.1-1")} --out {S("merged", "6.1")}",
            $"pwsh ./run.ps1 merge {S("shards", "shard-latest-5")} --out {S("merged", "latest")}",
        }));
        Assert.That(File.ReadAllText(summary), Does.Contain("No previous night's summary of line 6.1").And.Contain("### Kernel line latest"));
        Assert.That(Kept("6.1") + Kept("latest"), Is.EqualTo("{\"night\": \"1\"}\n{\"night\": \"1\"}\n"));

        // Night 2: merges are fine, compare finds a regression: each line compared with its own night 1, night 2 kept.
        var night2 = await MergeAsync(stubs, new() { ["STUB_NIGHT"] = "2", ["STUB_COMPARE_EXIT"] = "1" });
        Assert.That(night2.Code, Is.EqualTo(1), night2.ToString());
        Assert.That(Calls().Where(c => c.Contains(" compare ", StringComparison.Ordinal)), Is.EqualTo(new[]
        {
            $"pwsh ./run.ps1 compare {S("previous-night", "6.1")} {S("merged", "6.1")} --markdown {summary}",
            $"pwsh ./run.ps1 compare {S("previous-night", "latest")} {S("merged", "latest")} --markdown {summary}",
        }));
        Assert.That(Kept("6.1"), Does.Contain("\"2\""));

        // Night 3: an infra error on 6.1 (3) and a finding on latest (1): the finding decides the job's code.
        File.WriteAllText(Path.Combine(stubs, "merge-exit-6.1"), "3");
        File.WriteAllText(Path.Combine(stubs, "merge-exit-latest"), "1");
        var night3 = await MergeAsync(stubs, new() { ["STUB_NIGHT"] = "3" });
        Assert.That(night3.Code, Is.EqualTo(1), night3.ToString());
        File.WriteAllText(Path.Combine(stubs, "merge-exit-latest"), "0");
        var night3b = await MergeAsync(stubs, new() { ["STUB_NIGHT"] = "3b" });
        Assert.That(night3b.Code, Is.EqualTo(3), "nothing but the infra error: could not judge");
        Assert.That(Kept("6.1"), Does.Contain("\"2\""), "a night that could not be judged does not become the baseline");
        Assert.That(Kept("latest"), Does.Contain("\"3b\""), "a judged night does");

        // Night 4: merge writes nothing: no compare, the previous nights stay as they were.
        foreach (var line in new[] { "6.1", "latest" }) File.Delete(S("merged", line, "summary.json"));
        File.Delete(Path.Combine(stubs, "merge-exit-6.1"));
        File.Delete(Path.Combine(stubs, "merge-exit-latest"));
        var night4 = await MergeAsync(stubs, new() { ["STUB_NIGHT"] = "4", ["STUB_MERGE_EXIT"] = "3", ["STUB_MERGE_WRITES"] = "0" });
        Assert.That(night4.Code, Is.EqualTo(3), night4.ToString());
        Assert.That(Calls().Any(c => c.Contains(" compare ", StringComparison.Ordinal)), Is.False);
        Assert.That(Kept("6.1"), Does.Contain("\"2\""));
        Assert.That(Kept("latest"), Does.Contain("\"3b\""));
    }

    [Test]
    public async Task The_merge_job_passes_the_kcidb_origin_to_merge_and_the_callers_known_issues_file_to_compare()
    {
        var stubs = DotnetStub();
        Directory.CreateDirectory(S("shards", "shard-6.1-0"));
        Directory.CreateDirectory(S("previous-night", "6.1"));
        File.WriteAllText(S("previous-night", "6.1", "summary.json"), "{}");
        Directory.CreateDirectory(S("caller", "ci"));
        File.WriteAllText(S("caller", "ci", "known-issues.json"), "[]");
        var run = await MergeAsync(stubs, new()
        {
            ["STUB_NIGHT"] = "1", ["KCIDB_ORIGIN"] = "mylab", ["KNOWN_ISSUES"] = "ci/known-issues.json", ["CASES_ROOT"] = "caller",
        });
        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        var calls = File.ReadAllLines(Path.Combine(_stubsCalls(stubs)));
        Assert.That(calls, Has.Some.EqualTo($"pwsh ./run.ps1 merge {S("shards", "shard-6.1-0")} --kcidb-origin mylab --out {S("merged", "6.1")}")
            .Or.Some.EqualTo($"pwsh ./run.ps1 merge {S("shards", "shard-6.1-0")} --out {S("merged", "6.1")} --kcidb-origin mylab"));
        Assert.That(calls, Has.Some.EqualTo(
            $"pwsh ./run.ps1 compare {S("previous-night", "6.1")} {S("merged", "6.1")} --markdown {S("step-summary.md")} --known-issues {S("caller", "ci", "known-issues.json")}"));
    }

    private static string _stubsCalls(string stubs) => Path.Combine(stubs, "calls.log");

    [Test]
    public async Task The_merge_job_refuses_a_folder_that_is_not_a_lines_shard()
    {
        Directory.CreateDirectory(S("shards", "shard-6.1-0"));
        Directory.CreateDirectory(S("shards", "nightly-report"));

        var run = await CiScripts.RunAsync("nightly-merge", _scratch, new() { ["DRY_RUN"] = "1" }, ["shards"]);

        Assert.That(run.Code, Is.EqualTo(2), run.ToString());
        Assert.That(run.Stderr, Does.Contain("nightly-report: not named shard-LINE-INDEX"));
        Assert.That(run.Stdout, Is.Empty, "nothing merged");
    }

    [Test]
    public async Task The_plan_step_writes_the_lines_the_night_and_the_cache_key_as_job_outputs()
    {
        var stubs = Path.Combine(_scratch, "stubs");
        CiScripts.AptStubs(stubs, RepoLayout.Discover().Lines().All.Select(l => $"{l.Debian.Suite} {l.Debian.Package ?? "linux-source-7.2"} 1.0-1"));
        var output = Path.Combine(_scratch, "github-output");

        var run = await CiScripts.RunAsync("nightly-plan", _scratch, new() { ["DRY_RUN"] = "1", ["GITHUB_OUTPUT"] = output, ["LINES"] = "6.12,latest" },
            pathPrefix: stubs);

        Assert.That(run.Code, Is.EqualTo(0), run.ToString());
        var outputs = File.ReadAllLines(output);
        Assert.That(outputs, Has.Length.EqualTo(3));
        Assert.That(outputs[0], Is.EqualTo("lines=[\"6.12\",\"latest\"]"));
        Assert.That(outputs[1], Is.EqualTo("night=6.12+latest"));
        Assert.That(outputs[2], Does.Match("^cache-key=qhh-[0-9a-f]{40}$"));
        Assert.That(run.Stdout, Does.Not.Contain("qhh setup"), "the harness's output goes to stderr, never into the job's outputs");
        Assert.That(run.Stderr, Does.Contain("qhh setup"));
        Assert.That(run.Stderr, Does.Contain("line latest linux-source-7.2 1.0-1"), "the log shows what the key covers");

        File.Delete(output);
        var kut = await CiScripts.RunAsync("nightly-plan", _scratch,
            new() { ["DRY_RUN"] = "1", ["GITHUB_OUTPUT"] = output, ["KUT_GIT"] = "https://example.org/linux.git", ["KERNEL_LINE"] = "6.12" }, pathPrefix: stubs);
        Assert.That(kut.Code, Is.EqualTo(0), kut.ToString());
        Assert.That(File.ReadAllLines(output).Take(2), Is.EqualTo(new[] { "lines=[\"6.12\"]", "night=6.12+kernel-under-test" }),
            "a kernel under test's nights are compared with each other, not with the harness's own kernels'");
    }
}
