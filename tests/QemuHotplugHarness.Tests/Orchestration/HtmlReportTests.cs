using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Tests.Orchestration;

public class HtmlReportTests
{
    [Test]
    public void Every_owner_and_vmemmap_state_has_its_own_colour()
    {
        var owners = Enum.GetValues<SubsectionOwner>().Select(HtmlReport.Color).ToList();
        var states = Enum.GetValues<VmemmapPageState>().Select(HtmlReport.Color).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(owners, Is.Unique, "owners");
            Assert.That(states, Is.Unique, "vmemmap states");
            Assert.That(owners.Concat(states), Has.None.EqualTo("#000000"), "black is the switch's fallback: a value without a colour");
            Assert.That(owners.Concat(states), Has.All.Match("^#[0-9a-f]{6}$"));
        });
    }

    [Test]
    public void A_shared_section_with_every_owner_and_state_renders_each_in_its_colour()
    {
        var owners = Enum.GetValues<SubsectionOwner>();
        var states = Enum.GetValues<VmemmapPageState>();
        var subsections = owners.SelectMany(o => states.Select(s => (o, s)))
            .Select((p, i) => new SubsectionSnapshot(i, AddressRange.FromLength(0x1_4000_0000UL + (ulong)i * 0x20_0000, 0x20_0000), p.o, p.s))
            .ToList();
        var prediction = Predictor.Predict(Scenario.Seed) with
        {
            Iterations = [new IterationPrediction { Index = 1, Outcome = Outcome.Clean, SharedSection = subsections }],
        };
        var observation = SeedObservations.Clean();
        var cell = new SummaryCell("every-colour", 1, Scenario.Seed, prediction, observation, true, [], "every-colour-1");
        var summary = new Summary { Verdict = Verdict.PatchFixes, Cells = [cell], StartedAt = DateTimeOffset.UnixEpoch, Accel = Accel.Tcg };
        var html = HtmlReport.Render(summary, new ChangeUnderTest("(no patch)", "linux-source-6.1", [], ""), new Dictionary<SummaryCell, CellEvidence>());
        Assert.Multiple(() =>
        {
            foreach (var owner in owners)
                Assert.That(html, Does.Contain($" {owner.Kebab()}\" style=\"background:{HtmlReport.Color(owner)}\""), owner.ToString());
            foreach (var state in states)
                Assert.That(html, Does.Contain($" vmemmap {state.Kebab()}\" style=\"background:{HtmlReport.Color(state)}\""), state.ToString());
            Assert.That(html, Does.Contain("<span title=\"140000000-1401fffff boot-ram\" style=\"background:#4a90d9\"></span>"));
            Assert.That(html, Does.Contain("<span title=\"141e00000-141ffffff vmemmap poisoned\" style=\"background:#fb8c00\"></span>"));
            Assert.That(html, Does.EndWith("</body></html>"));
        });
    }
}
