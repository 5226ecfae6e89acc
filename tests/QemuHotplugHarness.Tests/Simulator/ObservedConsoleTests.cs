using System.Text.RegularExpressions;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Simulator;

/// <summary>
/// Every console a real guest left beside a case (observed-LINE-VARIANT.log) against the simulator's prediction on
/// that line: the oracle is the console, read with the harness's oops scanner, never the model.
/// </summary>
public class ObservedConsoleTests
{
    private static readonly Regex Name = new(@"^observed-(?<line>[\w.]+)-(?<variant>unpatched|patched)\.log$");

    private static IEnumerable<TestCaseData> Consoles() =>
        SuiteCases.Library(RepoLayout.Discover()).LoadAll()
            .SelectMany(c => Directory.EnumerateFiles(c.Folder, "observed-*.log").Select(f => (c.Name, File: Path.GetFileName(f))))
            .OrderBy(x => x.Name, StringComparer.Ordinal).ThenBy(x => x.File, StringComparer.Ordinal)
            .Select(x => new TestCaseData(x.Name, x.File).SetName($"{x.Name}/{x.File}"));

    [TestCaseSource(nameof(Consoles))]
    public void The_prediction_on_the_console_s_line_is_what_the_console_shows(string name, string file)
    {
        var c = SuiteCases.Library(RepoLayout.Discover()).Load(name);
        var m = Name.Match(file);
        Assert.That(m.Success, Is.True, $"{file}: named observed-LINE-unpatched.log or observed-LINE-patched.log");
        var (line, variant) = (m.Groups["line"].Value, m.Groups["variant"].Value == "patched" ? KernelVariant.Patched : KernelVariant.Unpatched);
        var cell = c.Cells!.First(x => x.Kernel == variant);
        var p = Predictor.Predict(CellExpectationAsserts.ScenarioOf(c, cell, line), c.Model);
        var reports = OopsScanner.Scan(File.ReadAllText(Path.Combine(c.Folder, file)));
        if (variant == KernelVariant.Patched)
        {
            Assert.That((p.Outcome, reports.Count), Is.EqualTo((Outcome.Clean, 0)), $"{file}: a clean console, a clean prediction on line {line}");
            return;
        }
        Assert.That(reports, Is.Not.Empty, $"{file}: the unpatched console shows an oops");
        Assert.Multiple(() =>
        {
            Assert.That(p.Outcome, Is.EqualTo(Outcome.Oops));
            Assert.That(p.OopsTitle, Is.EqualTo(reports[0].Title), $"line {line}");
            Assert.That(p.OopsFunction, Is.EqualTo(reports[0].Function), $"line {line}");
        });
    }
}
