namespace QemuHotplugHarness.Oops;

/// <summary>Scans whole logs: a thin loop over <see cref="OopsDetector"/>, reading in fixed-size blocks.</summary>
public static class OopsScanner
{
    private const int BlockChars = 1 << 16;

    /// <summary>
    /// Lines are cut out of a reused block of characters; only lines the detector needs become strings, so a long
    /// quiet console costs no allocation per line. Lines end at '\n' (a '\r' before it is dropped by the detector);
    /// a line longer than a block is cut at the block's end.
    /// </summary>
    public static IEnumerable<OopsReport> Scan(TextReader reader)
    {
        var detector = new OopsDetector();
        var block = new char[BlockChars];
        var filled = 0;
        var skipRest = false;
        while (true)
        {
            var read = reader.Read(block, filled, block.Length - filled);
            var end = filled + read;
            var start = 0;
            for (int nl; (nl = Array.IndexOf(block, '\n', start, end - start)) >= 0; start = nl + 1)
            {
                if (skipRest) { skipRest = false; continue; }
                if (detector.Feed(block.AsSpan(start, nl - start)) is { } report) yield return report;
            }
            if (read == 0)
            {
                if (start < end && !skipRest && detector.Feed(block.AsSpan(start, end - start)) is { } tail) yield return tail;
                break;
            }
            if (start == 0 && end == block.Length)
            {
                // A line longer than the block: keep its head, drop the rest up to the next newline.
                if (!skipRest && detector.Feed(block.AsSpan(0, end)) is { } cut) yield return cut;
                skipRest = true;
                filled = 0;
                continue;
            }
            filled = end - start;
            Array.Copy(block, start, block, 0, filled);
        }
        if (detector.Finish() is { } last) yield return last;
    }

    public static IReadOnlyList<OopsReport> Scan(string text)
    {
        using var reader = new StringReader(text);
        return Scan(reader).ToList();
    }
}
