using QemuHotplugHarness.Orchestration;

namespace QemuHotplugHarness.Tests.Orchestration;

public class CellArtifactsTests
{
    private string _dir = "";

    [SetUp]
    public void MakeFolder() => _dir = Directory.CreateTempSubdirectory("qhh-cell-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Outputs_lists_the_files_that_exist_in_a_fixed_order()
    {
        // Written out of order; ndctl.log and qemu-cmdline.txt missing; oops-3 missing, so oops-4 is not reached.
        foreach (var name in new[] { "oops-2.txt", "prediction.json", "console.log", "oops-4.txt", "iomem-1.txt", "dmesg.txt", "observation.json", "oops-1.txt" })
            File.WriteAllText(Path.Combine(_dir, name), name);
        var outputs = new CellArtifacts(_dir).Outputs();
        Assert.That(outputs.Select(Path.GetFileName), Is.EqualTo(new[] { "dmesg.txt", "observation.json", "prediction.json", "oops-1.txt", "oops-2.txt" }));
        Assert.That(outputs, Has.All.StartWith(_dir + Path.DirectorySeparatorChar));
    }

    [Test]
    public void An_empty_or_missing_folder_has_no_outputs()
    {
        Assert.That(new CellArtifacts(_dir).Outputs(), Is.Empty);
        Assert.That(new CellArtifacts(Path.Combine(_dir, "never-made")).Outputs(), Is.Empty);
    }

    [Test]
    public void File_names_are_the_ones_reports_link_to()
    {
        var a = new CellArtifacts("/runs/x");
        Assert.That(new[] { a.Console, a.Dmesg, a.NdctlLog, a.QemuCommandLine, a.Observation, a.Prediction, a.IomemAtBoot, a.IomemAfter(2), a.Oops(1) },
            Is.EqualTo(new[]
            {
                "/runs/x/console.log", "/runs/x/dmesg.txt", "/runs/x/ndctl.log", "/runs/x/qemu-cmdline.txt", "/runs/x/observation.json",
                "/runs/x/prediction.json", "/runs/x/iomem-boot.txt", "/runs/x/iomem-2.txt", "/runs/x/oops-1.txt",
            }));
    }
}
