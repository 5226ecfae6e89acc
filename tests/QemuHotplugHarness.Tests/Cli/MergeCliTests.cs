using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Tests.Orchestration;

namespace QemuHotplugHarness.Tests.Cli;

/// <summary>qhh merge on shards the harness wrote: the three nights a CI maintainer must be able to trust, by verdict and exit code.</summary>
[NonParallelizable]
public class MergeCliTests
{
    private string _dir = "";

    [SetUp]
    public void MakeFolder() => _dir = Directory.CreateTempSubdirectory("qhh-merge-cli-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, recursive: true);

    private string Shard(string shard, Func<string, int, Observation>? observe = null) =>
        Nights.WriteShard(Path.Combine(_dir, "shard-" + shard.Replace('/', '-')), shard, observe: observe);

    private Task<(int Code, string Stdout, string Stderr)> Merge(params string[] shards) =>
        QhhCli.RunAsync(["merge", .. shards, "--out", Path.Combine(_dir, "merged")]);

    [Test]
    public async Task A_night_missing_a_shard_is_incomplete_exit_3_never_patch_fixes()
    {
        var (code, stdout, stderr) = await Merge(Shard("1/2"));
        Assert.That(code, Is.EqualTo(3), stderr);
        Assert.That(stdout, Does.Contain("verdict incomplete;"));
        Assert.That(stderr, Does.StartWith("qhh: merge: incomplete: shard 2/2 missing; 2 planned cell(s) missing: unpatched-pse-off, patched-pse-off"));
        Directory.Delete(Path.Combine(_dir, "merged"), recursive: true);
        (code, stdout, stderr) = await Merge(Path.Combine(_dir, "shard-1-2"), Shard("2/2"));
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("verdict patch-fixes;"));
    }

    [Test]
    public async Task A_night_with_one_infra_cell_and_one_real_regression_is_the_regression_exit_1_and_says_both()
    {
        Observation Seen(string cell, int _) => cell switch
        {
            "unpatched-pse-on" => Nights.Infra(),
            "patched-pse-off" => Nights.PatchedOops(),
            _ => SeedObservations.Of(cell),
        };
        var (code, stdout, stderr) = await Merge(Shard("1/2", Seen), Shard("2/2", Seen));
        Assert.That(code, Is.EqualTo(1), stderr);
        Assert.That(stdout, Does.Contain("verdict patch-does-not-fix; also: 1 cell(s) not judged (infra-error): unpatched-pse-on;"));
    }

    [Test]
    public async Task A_night_with_only_an_infra_cell_is_infra_error_exit_3()
    {
        Observation Seen(string cell, int _) => cell == "unpatched-pse-off" ? Nights.Infra() : SeedObservations.Of(cell);
        var (code, stdout, stderr) = await Merge(Shard("1/2", Seen), Shard("2/2", Seen));
        Assert.That(code, Is.EqualTo(3), stderr);
        Assert.That(stdout, Does.Contain("verdict infra-error;"));
    }

    [Test]
    public async Task A_night_whose_patched_kernel_oopses_is_patch_does_not_fix_exit_1()
    {
        Observation Seen(string cell, int _) => cell == "patched-pse-on" ? Nights.PatchedOops() : SeedObservations.Of(cell);
        var (code, stdout, stderr) = await Merge(Shard("1/2", Seen), Shard("2/2", Seen));
        Assert.That(code, Is.EqualTo(1), stderr);
        Assert.That(stdout, Does.Contain("verdict patch-does-not-fix;"));
    }

    [Test]
    public async Task An_unusable_out_folder_is_one_line_naming_out_exit_2()
    {
        var file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "");
        var (code, _, stderr) = await QhhCli.RunAsync("merge", Shard("1/1"), "--out", Path.Combine(file, "merged"));
        Assert.That((code, stderr), Is.EqualTo((2, $"qhh: --out {Path.Combine(file, "merged")}: cannot write there: {file} is a file, not a folder\n")));
    }
}
