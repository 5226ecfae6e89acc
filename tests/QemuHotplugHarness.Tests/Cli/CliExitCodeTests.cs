using QemuHotplugHarness.Build;
using QemuHotplugHarness.Cli;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Cli;

/// <summary>The qhh command line: exit codes and one-line errors on bad input.</summary>
[NonParallelizable]
public class CliExitCodeTests
{
    private static Task<(int Code, string Stdout, string Stderr)> Run(params string[] args) => QhhCli.RunAsync(args);

    private const string NotASize = "not a size or address (use e.g. 16M, 4160M, 8G, 128K or 0x144000000)";

    [TestCase(new[] { "predict", "--nvdimm-addr", "0x144100000" }, "qhh: --nvdimm-addr 0x144100000: not 2 MiB aligned")]
    [TestCase(new[] { "predict", "--ram", "4160.5M" }, "qhh: --ram 4160.5M: " + NotASize)]
    [TestCase(new[] { "predict", "--bogus" }, "qhh: --bogus: unknown option of qhh predict (see qhh predict --help)")]
    [TestCase(new[] { "reproduce", "--jbos", "2" }, "qhh: --jbos: unknown option of qhh reproduce; did you mean --jobs?")]
    [TestCase(new[] { "reproduce", "--artifact", "x" }, "qhh: --artifact: unknown option of qhh reproduce; did you mean --artifacts?")]
    [TestCase(new[] { "compare", "--knwon-issues", "k", "a", "b" }, "qhh: --knwon-issues: unknown option of qhh compare; did you mean --known-issues?")]
    [TestCase(new[] { "merge", "--jobs", "2", "x" }, "qhh: --jobs: unknown option of qhh merge (an option of qhh reproduce and validate; see qhh merge --help)")]
    [TestCase(new[] { "reproduc" }, "qhh: reproduc: unknown command; did you mean reproduce?")]
    [TestCase(new[] { "--verison" }, "qhh: --verison: unknown option; did you mean --version?")]
    [TestCase(new[] { "predict", "--scenario", "/nonexistent.json" }, "qhh: --scenario /nonexistent.json: no such file")]
    [TestCase(new[] { "predict", "--kernel", "sideways" }, "qhh: --kernel sideways: not a kernel variant (predict models unpatched and patched; prebuilt images are registered with run/reproduce --kernel-image)")]
    [TestCase(new[] { "run", "--artifacts", "/proc/qhh-artifacts" }, "qhh: --artifacts /proc/qhh-artifacts: cannot write there: a kernel file system (/proc, /sys) where no folder can be made")]
    [TestCase(new[] { "run", "--artifacts", "/etc/hostname/x" }, "qhh: --artifacts /etc/hostname/x: cannot write there: /etc/hostname is a file, not a folder")]
    [TestCase(new[] { "reproduce", "--artifacts", "" }, "qhh: --artifacts '': not a path (empty, or with a NUL character)")]
    [TestCase(new[] { "reproduce", "--artifacts", "/proc/qhh-artifacts" }, "qhh: --artifacts /proc/qhh-artifacts: cannot write there: ")]
    [TestCase(new[] { "scan", "/nonexistent.log" }, "qhh: /nonexistent.log: no such file")]
    [TestCase(new[] { "reproduce", "--repeat", "0" }, "qhh: --repeat 0: must be between 1 and 1000")]
    [TestCase(new[] { "reproduce", "--shard", "3/2" }, "qhh: --shard 3/2: use k/n with 1 <= k <= n")]
    [TestCase(new[] { "reproduce", "--matrix", "/nonexistent/m.json" }, "qhh: --matrix /nonexistent/m.json: no such file")]
    [TestCase(new[] { "run", "--kernel", "nightly" }, "qhh: --kernel nightly: no such kernel variant or --kernel-image (use unpatched, patched, or register NAME=PATH)")]
    [TestCase(new[] { "run", "--kernel-image", "x=/nonexistent/bzImage", "--kernel", "x" }, "qhh: --kernel-image x=/nonexistent/bzImage: no such file")]
    [TestCase(new[] { "run", "--kernel-image", "bzImage" }, "qhh: --kernel-image bzImage: use NAME=PATH")]
    [TestCase(new[] { "run", "--accel", "warp" }, "qhh: --accel warp: unknown value (use auto, kvm or tcg)")]
    [TestCase(new[] { "build", "kernel", "--variant", "both-ish" }, "qhh: --variant both-ish: unknown value (use unpatched, patched or both)")]
    [TestCase(new[] { "merge", "/nonexistent/shard1" }, "qhh: merge /nonexistent/shard1: no such file or folder")]
    [TestCase(new[] { "validate", "--sample", "0" }, "qhh: --sample 0: must be between 1 and 1000")]
    [TestCase(new[] { "validate", "--jobs", "0" }, "qhh: --jobs 0: at least 1")]
    [TestCase(new[] { "validate", "--shard", "0/2" }, "qhh: --shard 0/2: use k/n with 1 <= k <= n")]
    [TestCase(new[] { "validate", "--kernel", "nightly" }, "qhh: --kernel nightly: not a kernel variant (validate models unpatched and patched")]
    [TestCase(new[] { "validate", "--artifacts", "/proc/qhh-artifacts" }, "qhh: --artifacts /proc/qhh-artifacts: cannot write there: ")]
    [TestCase(new[] { "bench", "nothing" }, "qhh: bench nothing: unknown benchmark (use scan, predict, build, guest or all)")]
    public async Task Bad_input_exits_2_with_one_line_naming_it(string[] args, string expected)
    {
        var (code, _, stderr) = await Run(args);
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(Lines(stderr), Has.Length.EqualTo(1), "one line, before anything is built or booted");
        Assert.That(stderr, Does.StartWith(expected));
    }

    [Test]
    public async Task Two_problems_print_two_lines_each_prefixed()
    {
        var (code, _, stderr) = await Run("predict", "--nvdimm-addr", "0x144100000", "--iterations", "0");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(Lines(stderr), Is.EqualTo(new[]
        {
            "qhh: --nvdimm-addr 0x144100000: not 2 MiB aligned",
            "qhh: --iterations 0: at least one reconfiguration is needed",
        }));
    }

    [Test]
    public async Task Bad_jobs_is_refused_before_the_artifacts_folder_is_made()
    {
        var artifacts = Path.Combine(Path.GetTempPath(), $"qhh-jobs-{Guid.NewGuid():N}");
        try
        {
            var (code, _, stderr) = await Run("reproduce", "--jobs", "0", "--artifacts", artifacts);
            Assert.That(code, Is.EqualTo(2), stderr);
            Assert.That(Lines(stderr), Is.EqualTo(new[] { "qhh: --jobs 0: at least 1" }));
            Assert.That(Directory.Exists(artifacts), Is.False, "bad input is refused before anything is written");
        }
        finally
        {
            if (Directory.Exists(artifacts)) Directory.Delete(artifacts, recursive: true);
        }
    }

    [Test]
    public async Task Problems_of_a_matrix_cell_name_the_file_and_the_cell()
    {
        var dir = Directory.CreateTempSubdirectory("qhh-matrix-").FullName;
        try
        {
            var matrix = Path.Combine(dir, "m.json");
            File.WriteAllText(matrix, """[{ "name": "odd", "scenario": { "nvdimm": { "address": "0x144100000" }, "workload": { "iterations": 0 } } }]""");
            var (code, _, stderr) = await Run("reproduce", "--matrix", matrix);
            Assert.That(code, Is.EqualTo(2), stderr);
            Assert.That(Lines(stderr), Is.EqualTo(new[]
            {
                $"qhh: {matrix} cell odd: --nvdimm-addr 0x144100000: not 2 MiB aligned",
                $"qhh: {matrix} cell odd: --iterations 0: at least one reconfiguration is needed",
            }));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private const string QmpCase = """
        { "name": "mine", "summary": "s", "fix": { "subject": "mm: fix" }, "lines": { "6.1": { "patch": "fix-6.1.patch" } },
          "scenario": { "machine": { "slots": 2 } }, "kernelArgs": ["memhp_default_state=offline"],
          "devices": { "backends": [ { "id": "mem1", "size": "1G" } ], "dimms": [ { "id": "dimm1", "memdev": "mem1" } ] },
          "workload": { "iteration": [
            { "qmp": "device_del", "arguments": { "id": "dimm1" } },
            { "waitEvent": "DEVICE_DELETED", "device": "dimm1", "timeout": "90s" } ], "iterations": 1 },
          "cells": [ { "name": "unpatched", "kernel": "unpatched", "expect": { "outcome": "oops" } } ],
          "modelled": false, "notModelledReason": "r" }
        """;

    /// <summary>Issue 28's four bad inputs in a user's QMP case: one line naming the file and the field, exit 2, nothing planned or written.</summary>
    [TestCase("\"qmp\": \"device_del\"", "\"qmp\": \"device_remove\"",
        "workload.iteration[0].qmp: unknown QMP command \"device_remove\" (use object-add, object-del, device_add, device_del, qom-set, qom-get)")]
    [TestCase("\"memdev\": \"mem1\" } ]", "\"memdev\": \"mem2\" } ]",
        "devices.dimms[0].memdev: \"mem2\" is not a backend of devices.backends (a device needs its backend)")]
    [TestCase(", \"timeout\": \"90s\"", "", "workload.iteration[1].timeout: missing")]
    [TestCase("\"device\": \"dimm1\"", "\"device\": \"dimm2\"",
        "workload.iteration[1].device: \"dimm2\" is no device or backend (declare it in devices or add it in an earlier step)")]
    public async Task A_bad_qmp_case_in_a_users_folder_is_one_line_naming_the_file_and_field(string from, string to, string problem)
    {
        var dir = Directory.CreateTempSubdirectory("qhh-qmpcase-").FullName;
        var artifacts = Path.Combine(dir, "artifacts");
        try
        {
            var folder = Path.Combine(dir, "mycases", "mine");
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "fix-6.1.patch"), "Subject: mm: fix\n");
            Assert.That(QmpCase, Does.Contain(from), "the mutation must change the valid case");
            File.WriteAllText(Path.Combine(folder, "case.json"), QmpCase);
            var args = new[] { "reproduce", "--cases", Path.Combine(dir, "mycases"), "--case", "mine", "--kernel-line", "6.1", "--artifacts", artifacts, "--plan" };
            var (okCode, okOut, okErr) = await Run(args);
            Assert.That(okCode, Is.EqualTo(0), "the unmutated case plans: " + okErr + okOut);
            File.WriteAllText(Path.Combine(folder, "case.json"), QmpCase.Replace(from, to));
            var (code, stdout, stderr) = await Run(args);
            Assert.That(code, Is.EqualTo(2), stderr);
            Assert.That(Lines(stderr), Is.EqualTo(new[] { "qhh: mycases/mine/case.json: " + problem }));
            Assert.That(stdout, Does.Not.Contain("plan:"), "refused while loading, before the plan");
            Assert.That(Directory.Exists(artifacts), Is.False, "bad input is refused before anything is written");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string[] Lines(string stderr) => stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    private static readonly object[] Failures =
    [
        new object[] { new BadInputException(InputKind.SshPort, "22", "port is busy on 127.0.0.1"), ExitCode.BadInput, "--ssh-port 22: port is busy on 127.0.0.1" },
        new object[] { new CheckFailedException("2 cells mismatch"), ExitCode.CheckFailed, "2 cells mismatch" },
        new object[] { new InfrastructureException("QMP: QEMU closed the socket"), ExitCode.Infrastructure, "QMP: QEMU closed the socket" },
        new object[] { new ToolFailedException("make bzImage", "/usr/bin/make", 2, "Error 2", "make.log"), ExitCode.SetupFailed, "make bzImage: make failed with exit code 2: Error 2 (log: make.log)" },
        new object[] { new OperationCanceledException(), ExitCode.Interrupted, "interrupted" },
        new object[] { new OperationCanceledException("interrupted; partial summary written to artifacts/x"), ExitCode.Interrupted, "interrupted; partial summary written to artifacts/x" },
        new object[] { new InvalidOperationException("boom"), ExitCode.Infrastructure, "internal error: InvalidOperationException: boom" },
    ];

    /// <summary>Exit codes are decided in one place, by the exception's type.</summary>
    [TestCaseSource(nameof(Failures))]
    public void Each_failure_maps_to_its_exit_code_and_line(Exception e, ExitCode code, string line)
    {
        var failure = HarnessApp.Failure(e);
        Assert.That(failure.Code, Is.EqualTo(code));
        Assert.That(failure.Lines, Is.EqualTo(new[] { line }));
    }

    [Test]
    public void An_internal_error_says_it_is_the_harness_s_bug_and_gives_its_stack_trace_under_QHH_DEBUG()
    {
        Exception bug;
        try { throw new NullReferenceException("boom"); } catch (NullReferenceException e) { bug = e; }
        Assert.Multiple(() =>
        {
            Assert.That(HarnessApp.Failure(bug).Lines, Is.EqualTo(new[] { "internal error: NullReferenceException: boom" }));
            Assert.That(HarnessApp.IsInternal(bug), Is.True);
            Assert.That(HarnessApp.IsInternal(new InfrastructureException("qemu ended")), Is.False, "the harness's named failures carry their own words");
            Assert.That(HarnessApp.InternalTrace(bug, null), Is.EqualTo("qhh: this is a bug of the harness; run again with QHH_DEBUG=1 for its stack trace"));
            Assert.That(HarnessApp.InternalTrace(bug, "1"), Does.StartWith("System.NullReferenceException: boom").And.Contain(nameof(An_internal_error_says_it_is_the_harness_s_bug_and_gives_its_stack_trace_under_QHH_DEBUG)));
        });
    }

    [TestCase("QHH_SNAPSHOT_KEEP", "snapshots")]
    [TestCase("QHH_BUILD_TREES_KEEP", "kernel build trees")]
    public async Task A_bad_cache_bound_is_bad_input_before_anything_runs(string variable, string what)
    {
        Environment.SetEnvironmentVariable(variable, "lots");
        try
        {
            var (code, stdout, stderr) = await Run("predict");
            Assert.That((code, stdout, stderr), Is.EqualTo((2, "", $"qhh: {variable}=lots: not a whole number of {what} to keep (at least 1)\n")));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Test]
    public async Task Predict_json_succeeds_with_the_seed_outcome()
    {
        var (code, stdout, _) = await Run("predict", "--json");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(stdout, Does.Contain("\"outcome\": \"oops\"").And.Contain("\"firstFaultPfn\": \"0x144002\""));
    }

    [Test]
    public async Task Scan_fail_on_oops_exits_1_when_a_crash_is_found()
    {
        var file = Path.Combine(AppContext.BaseDirectory, "Corpus", "oops", "seed-gpf-stable_page_flags.txt");
        var (code, stdout, _) = await Run("scan", file, "--fail-on-oops");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stdout, Does.Contain("general protection fault in stable_page_flags"));
    }

    [Test]
    public async Task Scan_reads_standard_input_for_a_dash()
    {
        var oldIn = Console.In;
        var log = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Corpus", "oops", "seed-gpf-stable_page_flags.txt"));
        Console.SetIn(new StringReader(log));
        try
        {
            var (code, stdout, stderr) = await Run("scan", "-", "--fail-on-oops");
            Assert.That(stderr, Is.Empty);
            Assert.That(stdout, Does.Contain("general protection fault in stable_page_flags"));
            Assert.That(code, Is.EqualTo(1), "--fail-on-oops: a crash was found on stdin");
        }
        finally
        {
            Console.SetIn(oldIn);
        }
    }

    [Test]
    public async Task Validate_prints_the_same_draw_for_a_seed_and_boots_nothing_with_draw_only()
    {
        var (code, first, stderr) = await Run("validate", "--draw-only", "--sample", "6", "--seed", "3");
        var (_, second, _) = await Run("validate", "--draw-only", "--sample", "6", "--seed", "3");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(first, Is.EqualTo(second));
        Assert.That(first, Does.StartWith("draw: seed 3, sample 6 of "));
        Assert.That(first, Does.Contain("outcome classes drawn: oops@2, clean, workload-failed, rejected"));
        Assert.That(Lines(first).Count(l => l.StartsWith("   0", StringComparison.Ordinal)), Is.EqualTo(6));
    }

    [Test]
    public async Task Validate_draw_only_json_gives_each_scenario_its_run_command()
    {
        var (code, stdout, stderr) = await Run("validate", "--draw-only", "--json", "--sample", "2", "--machine", "q35");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        var runs = doc.RootElement.GetProperty("scenarios").EnumerateArray().Select(e => e.GetProperty("run").GetString()).ToList();
        Assert.That(runs, Has.Count.EqualTo(2));
        Assert.That(runs, Is.All.StartWith("qhh run --machine q35 --qemu "));
    }

    [Test]
    public async Task Predict_says_what_is_not_modelled_instead_of_guessing()
    {
        var file = Path.Combine(Path.GetTempPath(), $"qhh-nolabels-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """{ "workload": { "initLabels": false } }""");
        try
        {
            var (code, stdout, stderr) = await Run("predict", "--scenario", file);
            Assert.That(code, Is.EqualTo(0), stderr);
            Assert.That(stdout, Does.Contain("Not modelled: a workload without init-labels"));
            Assert.That(stdout, Does.Contain("Predicted outcome: none (outside the model"));
            Assert.That(stdout, Does.Not.Contain("Iteration 1"));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
