using System.Xml.Linq;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

public sealed record Summary
{
    public required string Verdict { get; init; }
    public required IReadOnlyList<SummaryCell> Cells { get; init; }
    public bool Interrupted { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public double Seconds { get; init; }
    public string? Accel { get; init; }
    public string? Shard { get; init; }
}

public sealed record SummaryCell(string Name, int Repeat, Scenario Scenario, Simulator.Prediction Prediction, Guest.Observation Observation, bool Match, IReadOnlyList<string> Mismatches, string Folder);

/// <summary>summary.json and junit.xml of a reproduction.</summary>
public static class Reports
{
    public static void Write(string dir, Summary summary, IReadOnlyList<string>? patchFiles = null)
    {
        File.WriteAllText(Path.Combine(dir, "summary.json"), HarnessJson.Serialize(summary));
        Junit(summary).Save(Path.Combine(dir, "junit.xml"));
        File.WriteAllText(Path.Combine(dir, "report.html"), HtmlReport.Render(summary, dir));
        File.WriteAllText(Path.Combine(dir, "kcidb.json"), Kcidb.Build(summary, dir, patchFiles ?? []).ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    public static XDocument Junit(Summary s)
    {
        var cases = s.Cells.Select(c =>
        {
            var tc = new XElement("testcase",
                new XAttribute("classname", "qemu-hotplug-harness." + s.Verdict),
                new XAttribute("name", c.Repeat > 1 ? $"{c.Name}#{c.Repeat}" : c.Name),
                new XAttribute("time", c.Observation.Seconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)));
            if (c.Observation.Outcome is Simulator.Outcomes.InfraError)
                tc.Add(new XElement("error", new XAttribute("message", c.Observation.Error ?? "infrastructure error"), c.Observation.Error ?? ""));
            else if (!c.Match)
            {
                var oops = c.Observation.Oopses.FirstOrDefault();
                tc.Add(new XElement("failure", new XAttribute("message", string.Join("; ", c.Mismatches)),
                    string.Join("\n", c.Mismatches) + (oops is null ? "" : $"\n{oops.Title}\nsee {c.Folder}/oops-1.txt")));
            }
            var outText = $"predicted {c.Prediction.Outcome}, observed {c.Observation.Outcome}" +
                          string.Concat(c.Observation.Oopses.Select(o => $"\n{o.Title} (fault {o.FaultAddress}, pfn {o.FaultPfn})"));
            tc.Add(new XElement("system-out", outText));
            return tc;
        }).ToList();
        var suite = new XElement("testsuite",
            new XAttribute("name", "qemu-hotplug-harness reproduce"),
            new XAttribute("tests", cases.Count),
            new XAttribute("failures", cases.Count(c => c.Element("failure") is not null)),
            new XAttribute("errors", cases.Count(c => c.Element("error") is not null)),
            new XAttribute("skipped", 0),
            new XAttribute("time", s.Seconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)),
            new XAttribute("timestamp", s.StartedAt.UtcDateTime.ToString("s")),
            cases);
        return new XDocument(new XElement("testsuites", suite));
    }
}
