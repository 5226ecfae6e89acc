using QemuHotplugHarness.Build;
using QemuHotplugHarness.Oops;

namespace QemuHotplugHarness.Tests.Oops;

/// <summary>
/// A splat whose tail reaches the console after the live detector was flushed (the settle window passed) is cut and
/// titled "… in corrupted"; the whole console completes it. The console is a real guest's (virtio-mem case, 6.1).
/// </summary>
public class OopsCompletionTests
{
    private static string Console() => File.ReadAllText(Path.Combine(RepoLayout.Discover().Root, "cases", "virtio-mem-online-rcu-sleep", "observed-6.1-unpatched.log"));

    /// <summary>The live detector fed the console up to <paramref name="cut"/> (the line "Call Trace:" included), then flushed.</summary>
    private static IReadOnlyList<OopsReport> LiveUpTo(string console, string cut)
    {
        var detector = new OopsDetector();
        var reports = new List<OopsReport>();
        foreach (var line in console.Split('\n'))
        {
            if (detector.Feed(line) is { } r) reports.Add(r);
            if (line.Contains(cut, StringComparison.Ordinal)) break;
        }
        if (detector.Finish() is { } last) reports.Add(last);
        return reports;
    }

    [Test]
    public void A_report_cut_by_the_settle_window_is_completed_from_the_whole_console()
    {
        var console = Console();
        var live = LiveUpTo(console, "Call Trace:");
        Assert.That(live.Select(r => (r.Title, r.Corrupted)), Is.EqualTo(new[] { ("BUG: sleeping function called from invalid context in corrupted", true) }),
            "the cut report, as the live scanner titled it once on a loaded machine");
        var done = OopsCompletion.Complete(live, console);
        Assert.Multiple(() =>
        {
            Assert.That(done.Select(r => (r.Title, r.Corrupted)), Is.EqualTo(new[] { ("BUG: sleeping function called from invalid context in virtio_mem_set_fake_offline", false) }));
            Assert.That(done[0].StartLine, Is.EqualTo(live[0].StartLine), "line numbers stay on the live scale");
        });
    }

    [Test]
    public void A_whole_report_and_one_the_console_does_not_complete_stay_as_they_were()
    {
        var console = Console();
        var whole = OopsScanner.Scan(console);
        Assert.That(OopsCompletion.Complete(whole, console), Is.SameAs(whole));
        var cut = LiveUpTo(console, "Call Trace:");
        Assert.That(OopsCompletion.Complete(cut, "no crash here\n"), Is.EqualTo(cut));
    }
}
