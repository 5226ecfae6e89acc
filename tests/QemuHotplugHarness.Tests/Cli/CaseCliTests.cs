using QemuHotplugHarness.Cli.Commands;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios.Cases;

namespace QemuHotplugHarness.Tests.Cli;

/// <summary>predict --case: the seed's case predicts as the seed; a case outside the model says why and what each cell must show.</summary>
public class CaseCliTests
{
    [Test]
    public async Task Predict_of_the_seed_case_is_the_seed_prediction()
    {
        var seed = await QhhCli.RunAsync("predict", "--json");
        var viaCase = await QhhCli.RunAsync("predict", "--case", SuiteCases.DefaultCase, "--json");
        Assert.That((viaCase.Code, viaCase.Stderr), Is.EqualTo((0, "")));
        Assert.That(viaCase.Stdout, Does.Contain("\"firstFaultPfn\": \"0x144002\""));
        Assert.That(viaCase.Stdout, Is.EqualTo(seed.Stdout));
    }

    [Test]
    public void A_case_outside_the_model_is_described_by_its_reason_and_expectations()
    {
        var c = new CaseLibrary(Path.Combine(AppContext.BaseDirectory, "Corpus", "cases", "good")).Load("memunmap-uninit");
        Assert.That(CaseExpectations.Describe(c), Is.EqualTo(new[]
        {
            "Case memunmap-uninit: destroying a --map=dev namespace touches uninitialized memmap",
            "Fix: mm/memunmap: don't access uninitialized memmap in memunmap_pages() (77e080e7680e); kernel lines: 6.1",
            "Not modelled: the simulator has no model of memunmap_pages()",
            "Expectations (judged on real guests):",
            "  unpatched-pse-off: kernel unpatched, PSE off, QEMU patched: oops \"kernel BUG in *\" at iteration 1",
            "  patched-pse-on: kernel patched, PSE on, QEMU patched: clean",
        }));
    }

    [Test]
    public void Run_of_a_case_outside_the_model_takes_the_expectation_of_its_cell_or_says_there_is_none()
    {
        var c = new CaseLibrary(Path.Combine(AppContext.BaseDirectory, "Corpus", "cases", "good")).Load("memunmap-uninit");
        var p = CaseExpectations.PredictionFor(c, c.Scenario.WithKernel(QemuHotplugHarness.Scenarios.KernelVariant.Patched).WithPse(true));
        Assert.That((p.Outcome, p.Expected), Is.EqualTo((QemuHotplugHarness.Scenarios.Outcome.Clean, new CaseExpectation(QemuHotplugHarness.Scenarios.Outcome.Clean))));
        var e = Assert.Throws<QemuHotplugHarness.Scenarios.BadInputException>(() => CaseExpectations.PredictionFor(c, c.Scenario.WithKernel(QemuHotplugHarness.Scenarios.KernelVariant.Patched)))!;
        Assert.That(e.Reason, Does.StartWith("not modelled, and none of its cells (unpatched-pse-off, patched-pse-on) is kernel patched, PSE off, QEMU patched"));
    }
}
