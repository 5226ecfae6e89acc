namespace QemuHotplugHarness.Tests.Oops;

/// <summary>
/// The scanner against syzkaller's own Linux report corpus (the half in ../shared/syzkaller-linux-reports, read at test
/// time, never copied here): detection, crashing frame, title and corrupted verdicts against each file's headers.
/// Prints the figures and every miss; fails below the goals; skipped with the reason where ../shared is absent.
/// </summary>
public class SyzkallerCorpusTests
{
    private const double DetectedGoal = 99, FrameGoal = 90, TitleGoal = 80, CorruptedGoal = 90;

    [Test]
    public void Scanner_names_syzkallers_corpus_as_syzkaller_does()
    {
        var dir = SyzkallerCase.FindDirectory();
        if (dir is null)
        {
            Assert.Ignore("syzkaller's report corpus is not here: no shared/syzkaller-linux-reports beside this checkout or a parent, and QHH_SHARED is not set");
            return;
        }
        var cases = SyzkallerCase.LoadAll(dir);
        var figures = SyzkallerFigures.Measure(cases);
        foreach (var miss in figures.Misses) TestContext.Out.WriteLine(miss);
        TestContext.Out.WriteLine($"{dir}: {figures}");
        Assert.Multiple(() =>
        {
            Assert.That(figures.Crashes, Is.GreaterThan(300), "the corpus should hold the half of syzkaller's 747 files");
            Assert.That(figures.DetectedPercent, Is.GreaterThanOrEqualTo(DetectedGoal), "crash logs detected");
            Assert.That(figures.CleanFlagged, Is.Zero, "clean logs flagged");
            Assert.That(figures.FramePercent, Is.GreaterThanOrEqualTo(FrameGoal), "crashing frame equal to syzkaller's");
            Assert.That(figures.TitlePercent, Is.GreaterThanOrEqualTo(TitleGoal), "title equal to syzkaller's");
            Assert.That(figures.CorruptedPercent, Is.GreaterThanOrEqualTo(CorruptedGoal), "CORRUPTED: Y logs reported corrupted");
            Assert.That(figures.CleanCalledCorrupted, Is.Zero, "reports syzkaller trusts called corrupted");
        });
    }

    [Test]
    public void Corpus_file_headers_are_read_as_syzkaller_writes_them()
    {
        var c = SyzkallerCase.Parse("x", "TITLE: WARNING in foo\nALT: bad in foo\nFRAME: bar\nCORRUPTED: Y\n\n[ 1.0] WARNING: x\n\nREPORT:\nWARNING: x\n");
        Assert.Multiple(() =>
        {
            Assert.That(c.Title, Is.EqualTo("WARNING in foo"));
            Assert.That(c.Alts, Is.EqualTo(new[] { "bad in foo" }));
            Assert.That(c.ExpectedFrame, Is.EqualTo("bar"));
            Assert.That(c.Corrupted, Is.True);
            Assert.That(c.Log, Is.EqualTo("[ 1.0] WARNING: x\n"), "the expected REPORT text is not part of the log");
        });
        Assert.That(SyzkallerCase.Parse("y", "TITLE: KASAN: use-after-free Read in tcp_v4_rcv\n\nlog").ExpectedFrame, Is.EqualTo("tcp_v4_rcv"));
        Assert.That(SyzkallerCase.Parse("z", "\nclean log").IsCrash, Is.False);
    }
}
