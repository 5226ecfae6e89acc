using System.Diagnostics;
using QemuHotplugHarness.Cli;
using QemuHotplugHarness.Cli.Commands;

namespace QemuHotplugHarness.Tests.Cli;

/// <summary>bench build: bad input stops it before anything is built; its figures and table.</summary>
[NonParallelizable]
public class BenchBuildTests
{
    private static Task<(int Code, string Stdout, string Stderr)> Run(params string[] args) => QhhCli.RunAsync(args);

    [Test]
    public async Task An_existing_scratch_folder_or_an_unknown_build_is_bad_input_before_any_build()
    {
        var existing = Directory.CreateTempSubdirectory("qhh-bench-scratch-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(existing, "keep-me"), "x");
            var (code, _, err) = await Run("bench", "build", "--scratch", existing);
            Assert.That(code, Is.EqualTo(2));
            Assert.That(err.Trim(), Is.EqualTo($"qhh: --scratch {existing}: already exists (the scratch cache starts empty)"));
            Assert.That(File.Exists(Path.Combine(existing, "keep-me")), Is.True, "an existing folder is never used or deleted");
            (code, _, err) = await Run("bench", "build", "--only", "firmware");
            Assert.That((code, err.Trim()), Is.EqualTo((2, "qhh: --only firmware: unknown build (use kernel or qemu)")));
        }
        finally
        {
            Directory.Delete(existing, recursive: true);
        }
    }

    [Test]
    public void The_table_names_the_machine_and_every_step_with_its_tool_steps_slowest_first()
    {
        var result = new BuildBenchResult(new BuildBenchHost(2, 24, 2, "none (builds)", "/tmp/x"),
        [
            new BuildBenchStep("kernel cold (unpatched)", "kernel unpatched", 300.5, 580.2, 1.5, 2.1,
                [new BuildBenchTool("unpack linux-source-6.1", 20), new BuildBenchTool("make bzImage (unpatched)", 270.4), new BuildBenchTool("kernelrelease", 0.2)]),
            new BuildBenchStep("kernel cached", "kernel unpatched", 0.1, 0, 2.1, 2.1, []),
        ]);
        var lines = BuildBench.Table(result).ToList();
        Assert.That(lines[0], Does.StartWith("bench build: 2 cores, 24 GiB, make/ninja -j2"));
        Assert.That(lines[2], Does.StartWith("kernel cold (unpatched)").And.Contain(" 300.5 ").And.Contain(" 580.2 ").And.Contain("1.5→2.1"));
        Assert.That(lines[3].Trim(), Does.StartWith("make bzImage (unpatched)"), "slowest tool step first");
        Assert.That(lines[4].Trim(), Does.StartWith("unpack linux-source-6.1"));
        Assert.That(lines[5], Does.StartWith("kernel cached"), "sub-second tool steps are left out");
    }

    [Test]
    [Category("HostTools")] // runs sh and reads /proc
    public async Task Child_cpu_seconds_count_the_work_of_finished_children()
    {
        if (!File.Exists("/proc/self/stat")) { Assert.Ignore("no /proc (not Linux): bench build reports no CPU seconds here"); return; }
        var before = HostFacts.ChildCpuSeconds();
        using (var p = Process.Start(new ProcessStartInfo("sh", ["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"]))!)
            await p.WaitForExitAsync();
        Assert.That(HostFacts.ChildCpuSeconds() - before, Is.GreaterThan(0.05), "a busy child's CPU time is counted once it has been waited for");
        Assert.That(HostFacts.Load1(), Is.GreaterThanOrEqualTo(0));
        Assert.That(HostFacts.MemoryGiB(), Is.GreaterThan(0));
    }
}
