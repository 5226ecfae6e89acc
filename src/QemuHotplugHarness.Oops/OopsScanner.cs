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

/// <summary>
/// A live detector closes a report that is still open when the settle window passes: a splat whose tail reached the
/// console later is then cut, and titled "… in corrupted". The whole console, read again once it is complete, has
/// that tail. Pure: the caller reads the console.
/// </summary>
public static class OopsCompletion
{
    /// <summary>
    /// <paramref name="live"/> with each corrupted report replaced by the whole console's report of the same header line
    /// (its line numbers kept: they are on the live scale); a report the console does not complete stays as it was.
    /// </summary>
    public static IReadOnlyList<OopsReport> Complete(IReadOnlyList<OopsReport> live, string console)
    {
        if (!live.Any(r => r.Corrupted)) return live;
        var whole = OopsScanner.Scan(console).Where(r => !r.Corrupted).ToList();
        return live.Select(r => r.Corrupted && whole.FirstOrDefault(w => Header(w) == Header(r)) is { } done
            ? done with { StartLine = r.StartLine, EndLine = r.StartLine + (done.EndLine - done.StartLine) }
            : r).ToList();
    }

    private static string Header(OopsReport r) => r.Text.Split('\n', 2)[0];
}
