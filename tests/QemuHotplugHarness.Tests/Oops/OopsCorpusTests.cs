using QemuHotplugHarness.Oops;

namespace QemuHotplugHarness.Tests.Oops;

/// <summary>
/// The corpus: each file in Corpus/oops starts with header lines ("TITLE: ..." once per expected report, in order,
/// then optional FUNCTION, FAULT, TRACE, VERSION, COMM, TAINT, CORRUPTED, GROUPS, REG_xxx about the first report),
/// a blank line, then the log. Add a file to add a test.
/// </summary>
public class OopsCorpusTests
{
    private static string CorpusDir => Path.Combine(TestContext.CurrentContext.TestDirectory, "Corpus", "oops");

    public static IEnumerable<TestCaseData> Cases() =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Corpus", "oops"), "*.txt")
            .OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => new TestCaseData(Path.GetFileName(f)).SetName("Corpus_" + Path.GetFileNameWithoutExtension(f)));

    [Test]
    public void Corpus_has_at_least_forty_cases() =>
        Assert.That(Directory.GetFiles(CorpusDir, "*.txt").Count(f => File.ReadLines(f).First().StartsWith("TITLE:")), Is.GreaterThanOrEqualTo(40));

    [TestCaseSource(nameof(Cases))]
    public void Corpus(string file)
    {
        var (expect, log) = Parse(File.ReadAllText(Path.Combine(CorpusDir, file)));
        var reports = OopsScanner.Scan(log);
        var titles = expect.Where(e => e.Key == "TITLE").Select(e => e.Value).ToList();
        Assert.That(reports.Select(r => r.Title), Is.EqualTo(titles), file);
        if (reports.Count == 0) return;
        var first = reports[0];
        foreach (var (key, value) in expect)
        {
            switch (key)
            {
                case "FUNCTION": Assert.That(first.Function, Is.EqualTo(value)); break;
                case "FAULT": Assert.That(first.FaultAddress, Is.EqualTo(value)); break;
                case "TRACE": Assert.That(first.CallTrace.Take(value.Split(' ').Length), Is.EqualTo(value.Split(' '))); break;
                case "VERSION": Assert.That(first.KernelVersion, Is.EqualTo(value)); break;
                case "COMM": Assert.That(first.Comm, Is.EqualTo(value)); break;
                case "TAINT": Assert.That(first.Taint, Is.EqualTo(value)); break;
                case "CORRUPTED": Assert.That(first.Corrupted, Is.EqualTo(bool.Parse(value))); break;
                case "GROUPS": Assert.That(OopsDedup.Group(reports), Has.Count.EqualTo(int.Parse(value))); break;
                case var k when k.StartsWith("REG_"): Assert.That(first.Registers[k[4..]], Is.EqualTo(value)); break;
            }
        }
        if (!expect.Any(e => e.Key == "CORRUPTED")) Assert.That(reports.Any(r => r.Corrupted), Is.False, "no report should be corrupted");
    }

    private static (List<KeyValuePair<string, string>> Expect, string Log) Parse(string text)
    {
        var expect = new List<KeyValuePair<string, string>>();
        var lines = text.Split('\n');
        var i = 0;
        for (; i < lines.Length && lines[i].TrimEnd('\r').Length > 0; i++)
        {
            var line = lines[i].TrimEnd('\r');
            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            expect.Add(new(line[..colon], line[(colon + 2)..]));
        }
        return (expect, string.Join('\n', lines.Skip(i + 1)));
    }
}
