namespace QemuHotplugHarness.Tests.Cli;

/// <summary>
/// predict prints the judgements of the plan reproduce runs: every cell of the suite on a line, with its judge and
/// what it predicts, and the cases the line skips with why; a case's cells the same way after its own prediction.
/// </summary>
public class PredictPlanTests
{
    [Test]
    public async Task Predict_suite_prints_each_planned_cell_with_its_judge_and_the_skipped_cases()
    {
        var (code, stdout, stderr) = await QhhCli.RunAsync("predict", "--suite", "--kernel-line", "latest");
        Assert.That(code, Is.EqualTo(0), stderr);
        var lines = stdout.Split('\n');
        Assert.Multiple(() =>
        {
            Assert.That(lines[0], Is.EqualTo("Cells of the suite on kernel line latest, each with its judge:"));
            Assert.That(lines, Does.Contain("  early-section-memmap/unpatched-pse-off: simulator: oops at iteration 2"));
            Assert.That(lines, Does.Contain("  early-section-memmap/stock-qemu-unpatched-pse-off: simulator: rejected"));
            Assert.That(lines.Where(l => l.StartsWith("  zone-device-section-collision/unpatched-pse-off: simulator: oops \"kernel BUG in page_zone\" at iteration 1",
                StringComparison.Ordinal)).ToList(), Has.Count.EqualTo(1));
            Assert.That(lines.Where(l => l.StartsWith("  skipped: kpageflags-subsection-validity: not applicable on kernel line latest", StringComparison.Ordinal)).ToList(),
                Has.Count.EqualTo(1));
        });
    }
}
