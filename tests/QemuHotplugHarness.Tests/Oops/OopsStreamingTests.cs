using System.Text;
using QemuHotplugHarness.Oops;

namespace QemuHotplugHarness.Tests.Oops;

/// <summary>The detector's memory stays bounded whatever the log does, and the block reader cuts lines as ReadLine would.</summary>
public class OopsStreamingTests
{
    private const string Header = "[   20.000000] BUG: unable to handle page fault for address: ffd40000051000b4";

    [Test]
    public void A_report_that_never_ends_keeps_at_most_the_bounded_number_of_lines()
    {
        var detector = new OopsDetector();
        var reports = new List<OopsReport>();
        if (detector.Feed(Header) is { } r0) reports.Add(r0);
        for (var i = 0; i < 5 * OopsDetector.MaxReportLines; i++)
            if (detector.Feed($"[   20.{i:D6}] RIP: 0010:__init_single_page+0x6/0x47 noise {i}") is { } r) reports.Add(r);
        if (detector.Finish() is { } last) reports.Add(last);
        Assert.That(reports, Is.Not.Empty);
        Assert.That(reports[0].Text.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.LessThanOrEqualTo(OopsDetector.MaxReportLines));
    }

    [Test]
    public void Long_lines_are_cut_and_the_lines_after_them_still_scanned()
    {
        var huge = new string('x', 300_000);
        var log = $"{huge}BUG: not seen past the cut\n{Header}\r\n[   20.000100] RIP: 0010:__init_single_page+0x6/0x47\r\n" +
                  "[   20.000200] Call Trace:\r\n[   20.000300]  memmap_init_range+0xb5/0x117\r\n[   20.000400] ---[ end trace 0000000000000000 ]---\r\n";
        var reports = OopsScanner.Scan(new StringReader(log)).ToList();
        Assert.That(reports.Select(r => r.Title), Is.EqualTo(new[] { "BUG: unable to handle kernel paging request in __init_single_page" }));
        Assert.That(reports[0].StartLine, Is.EqualTo(2), "the long line counts as one line");
        Assert.That(reports[0].Corrupted, Is.False);
    }

    [Test]
    public void Block_reader_and_line_feeding_agree_on_every_report()
    {
        var sb = new StringBuilder();
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Corpus", "oops"), "*.txt").Order(StringComparer.Ordinal))
        {
            var text = File.ReadAllText(file);
            sb.Append(text[(text.IndexOf("\n\n", StringComparison.Ordinal) + 2)..]).Append("\n~ # \n");
        }
        var log = sb.ToString();
        var byLine = new List<string>();
        var detector = new OopsDetector();
        foreach (var line in log.Split('\n'))
            if (detector.Feed(line) is { } r) byLine.Add($"{r.Title} {r.StartLine}-{r.EndLine}");
        if (detector.Finish() is { } end) byLine.Add($"{end.Title} {end.StartLine}-{end.EndLine}");
        var byBlock = OopsScanner.Scan(new StringReader(log)).Select(r => $"{r.Title} {r.StartLine}-{r.EndLine}").ToList();
        Assert.That(byLine, Has.Count.GreaterThan(40));
        Assert.That(byBlock, Is.EqualTo(byLine));
    }
}
