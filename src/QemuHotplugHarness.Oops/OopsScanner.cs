namespace QemuHotplugHarness.Oops;

/// <summary>Scans whole logs: a thin loop over <see cref="OopsDetector"/>.</summary>
public static class OopsScanner
{
    public static IEnumerable<OopsReport> Scan(TextReader reader)
    {
        var detector = new OopsDetector();
        while (reader.ReadLine() is { } line)
            if (detector.Feed(line) is { } report) yield return report;
        if (detector.Finish() is { } last) yield return last;
    }

    public static IReadOnlyList<OopsReport> Scan(string text)
    {
        using var reader = new StringReader(text);
        return Scan(reader).ToList();
    }
}
