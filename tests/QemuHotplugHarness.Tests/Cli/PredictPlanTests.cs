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
            Assert.That(lines.Where(l => l.StartsWith("  kpageflags-subsection-validity/unpatched-pse-off: simulator: oops " +
                "\"BUG: unable to handle kernel NULL pointer dereference in page_cgroup_ino\" at iteration 1", StringComparison.Ordinal)).ToList(), Has.Count.EqualTo(1),
                "7.x's kpageflags reads a copy and survives; the kpagecgroup read after it oopses");
            Assert.That(lines.Where(l => l.StartsWith("  skipped: ", StringComparison.Ordinal)).ToList(), Is.Empty, "every case applies on latest");
        });
    }

    [Test]
    public async Task Predict_case_of_a_case_not_applicable_on_the_default_line_predicts_on_a_line_it_applies_to_and_says_so()
    {
        var (code, stdout, stderr) = await QhhCli.RunAsync("predict", "--case", "pcdimm-remove-memmap-node");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.StartWith("qhh: case pcdimm-remove-memmap-node: not applicable on kernel line 6.1").And.Contain("predicting on kernel line 6.12"));
        Assert.That(stdout, Does.Contain("Cells of pcdimm-remove-memmap-node on kernel line 6.12, each with its judge:")
            .And.Contain("pcdimm-remove-memmap-node/unpatched: simulator: oops \"kernel BUG in section_deactivate\" at iteration 1"));
        var asked = await QhhCli.RunAsync("predict", "--case", "pcdimm-remove-memmap-node", "--kernel-line", "6.1");
        Assert.That(asked.Code, Is.EqualTo(2), "a line the user names where the case does not apply stays bad input");
    }
}
