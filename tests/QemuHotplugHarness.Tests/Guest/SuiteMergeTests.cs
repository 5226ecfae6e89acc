using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Tests.Orchestration;

namespace QemuHotplugHarness.Tests.Guest;

/// <summary>merge of a suite's shards: cells of two cases with the same names stay apart, each case gets its verdict again, the suite its own.</summary>
public class SuiteMergeTests
{
    private string _root = "";

    [SetUp]
    public void MakeFolder() => _root = Directory.CreateTempSubdirectory("qhh-suite-merge-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_root, recursive: true);

    private static readonly CaseInfo[] Infos =
    [
        new("case-a", "mm: fix a", "aaaaaaaaaaaa", true), new("case-b", "mm: fix b", null, true),
    ];

    /// <summary>Shard k of 2 of a suite of two cases, each the seed's matrix; case-b's patched-pse-off oopses when <paramref name="brokenB"/>.</summary>
    private string Shard(int k, bool brokenB)
    {
        var cells = Infos.SelectMany(i => SeedMatrix.Cells(Scenario.Seed).Select(c => c with { Case = i.Name })).ToList();
        var mine = Reproducer.Plan(Matrix.Shard(cells, 1, $"{k}/2"), caseFolders: true).Select(w =>
        {
            var p = w.Cell.Predict();
            var o = brokenB && w.Cell.Label == "case-b/patched-pse-off" ? SeedObservations.OopsAtIteration2() : SeedObservations.Of(w.Cell.Name);
            var m = Comparison.Mismatches(p, o);
            return new SummaryCell(w.Cell.Name, 1, w.Cell.Scenario, p, o, m.Count == 0, m, w.Folder) { Case = w.Cell.Case };
        }).ToList();
        var cases = RunState.CaseSummaries(Infos, mine, RunKind.Reproduce, shard: true);
        var summary = new Summary
        {
            Verdict = Verdicts.Suite(cases.Select(c => c.Verdict).ToList()), Cells = mine, Cases = cases, StartedAt = DateTimeOffset.UnixEpoch, Shard = $"{k}/2",
        };
        var dir = Path.Combine(_root, "shard" + k);
        Reports.WriteAll(new RunArtifacts(dir), summary, ChangeUnderTest.FromPatches([], "linux-source-6.1"));
        return dir;
    }

    [TestCase(false, Verdict.PatchFixes, Verdict.PatchFixes)]
    [TestCase(true, Verdict.PatchFixes, Verdict.PatchDoesNotFix)]
    public void Merged_shards_of_a_suite_give_each_case_its_verdict_and_the_suite_theirs(bool brokenB, Verdict a, Verdict b)
    {
        var shards = new[] { Shard(1, brokenB), Shard(2, brokenB) };
        Assert.That(shards.Select(d => Merge.Load(d).Verdict), Has.None.EqualTo(Verdict.PatchFixes), "a shard never says patch-fixes");
        var merged = Merge.Run(shards, Path.Combine(_root, "merged"));
        Assert.That(merged.Cells, Has.Count.EqualTo(10), "cells of the same name in two cases are not duplicates");
        Assert.That(merged.Cases!.Select(c => (c.Name, c.Verdict)), Is.EqualTo(new[] { ("case-a", a), ("case-b", b) }));
        Assert.That(merged.Verdict, Is.EqualTo(b), "the suite: patch-fixes only when every case is");
    }
}
