using QemuHotplugHarness.Cli;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Tests.Integration;

/// <summary>
/// The regression suite on real guests, as README's <c>reproduce --suite</c> runs it: every case of cases/ on the
/// default line, each its own unpatched-vs-patched matrix, each case's verdict patch-fixes and the suite's too; a case
/// whose case.json says the line is not applicable (or gives no fix for it) is skipped, not run. Every case is built on
/// the line's one configuration, so the suite adds no kernel configuration to the test command's builds.
/// </summary>
[TestFixture]
[Category("RealGuest")]
[NonParallelizable]
public class SuiteRealGuestTests
{
    private Summary _summary = null!;
    private (int Code, string Stdout, string Stderr) _run;

    [OneTimeSetUp]
    public async Task Reproduce()
    {
        var r = await ReproduceRun.StartAsync("qhh-suite-", "--suite");
        (_summary, _run) = (r.Summary, r.Run);
    }

    private static readonly string Root = QemuHotplugHarness.Build.RepoLayout.Discover().Root;

    private static IReadOnlyList<string> AllFolders =>
        Directory.GetDirectories(Path.Combine(Root, "cases")).Select(Path.GetFileName).OfType<string>().Order().ToList();

    /// <summary>The folders whose case.json gives the default line (defaults.json) a fix and does not call it not applicable, read as plain JSON.</summary>
    private static IReadOnlyList<string> CaseFolders => AllFolders.Where(RunsOnDefaultLine).ToList();

    private static bool RunsOnDefaultLine(string folder)
    {
        using var defaults = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "defaults.json")));
        using var c = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "cases", folder, "case.json")));
        var line = defaults.RootElement.GetProperty("line").GetString()!;
        return c.RootElement.GetProperty("lines").TryGetProperty(line, out var l) && l.TryGetProperty("patch", out _) && !l.TryGetProperty("notApplicable", out _);
    }

    [Test]
    public void Every_case_of_cases_ran_and_says_patch_fixes_and_so_does_the_suite()
    {
        Assert.That(CaseFolders, Has.Count.GreaterThanOrEqualTo(4), "the seed and at least three more real bugs");
        var cases = _summary.Cases ?? [];
        Assert.That(cases.Select(c => c.Name).Order(), Is.EqualTo(CaseFolders));
        Assert.That((_summary.Skipped ?? []).Select(x => x.Case).Order(), Is.EqualTo(AllFolders.Except(CaseFolders)), "the others are skipped, saying why");
        Assert.That(cases.Where(c => c.Verdict != Verdict.PatchFixes).Select(c => $"{c.Name}: {c.Verdict.Kebab()}"), Is.Empty, _run.Stderr);
        Assert.That(_summary.Cells.Where(c => !c.Match).Select(c => $"{c.Case}/{c.Name}: {string.Join("; ", c.Mismatches)}"), Is.Empty);
        Assert.That(_summary.Verdict, Is.EqualTo(Verdict.PatchFixes));
        Assert.That(_run.Code, Is.EqualTo((int)ExitCode.Success));
    }

    [Test]
    public void Each_cases_unpatched_kernel_oopses_with_the_title_its_case_expects()
    {
        foreach (var cell in _summary.Cells.Where(c => c.Scenario.Kernel.Variant == KernelVariant.Unpatched && c.Observation.Outcome == Outcome.Oops))
            Assert.That(cell.Observation.Oopses, Is.Not.Empty, $"{cell.Case}/{cell.Name}: an oops with its report");
        var oopsing = _summary.Cells.Where(c => c.Observation.Outcome == Outcome.Oops).Select(c => c.Case).Distinct().Order().ToList();
        Assert.That(oopsing, Is.EqualTo(CaseFolders), "every case reproduces its bug on its unpatched kernel");
    }
}
