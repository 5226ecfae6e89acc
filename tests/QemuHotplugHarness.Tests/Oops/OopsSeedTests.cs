using System.Text.RegularExpressions;
using QemuHotplugHarness.Oops;

namespace QemuHotplugHarness.Tests.Oops;

/// <summary>The two real reports of the mailing-list thread in ../shared/seed, from the raw thread text.</summary>
public class OopsSeedTests
{
    private static string? ThreadPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "seed", "mm-sparse-early-section-thread.txt");
            if (File.Exists(candidate)) return candidate;
            candidate = Path.Combine(dir.FullName, "..", "shared", "seed", "mm-sparse-early-section-thread.txt");
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        return null;
    }

    [Test]
    public void Raw_thread_with_quoting_stripped_yields_both_seed_crashes()
    {
        var path = ThreadPath();
        if (path is null)
        {
            Assert.Ignore("../shared/seed/mm-sparse-early-section-thread.txt is not beside this checkout; the corpus keeps clean copies (seed-*.txt)");
            return;
        }
        var text = Regex.Replace(File.ReadAllText(path), @"^(?:> ?)+", "", RegexOptions.Multiline);
        var groups = OopsDedup.Group(OopsScanner.Scan(text));
        Assert.That(groups.Select(g => g.Title), Is.EquivalentTo(new[]
        {
            "general protection fault in stable_page_flags",
            "BUG: unable to handle kernel paging request in memmap_init_zone",
        }));
        var gpf = groups.Single(g => g.Title.StartsWith("general")).First;
        Assert.Multiple(() =>
        {
            Assert.That(gpf.Function, Is.EqualTo("stable_page_flags"));
            Assert.That(gpf.FaultAddress, Is.EqualTo("0xfdfdfdfdfdfdfdfc"));
            Assert.That(gpf.CallTrace, Is.EqualTo(new[] { "kpageflags_read", "proc_reg_read", "vfs_read", "ksys_pread64", "do_syscall_64", "entry_SYSCALL_64_after_hwframe" }));
            Assert.That(gpf.Comm, Is.EqualTo("page-types"));
            Assert.That(gpf.KernelVersion, Is.EqualTo("5.8.0-rc2"));
        });
        var pf = groups.Single(g => g.Title.StartsWith("BUG")).First;
        Assert.Multiple(() =>
        {
            Assert.That(pf.Function, Is.EqualTo("memmap_init_zone"));
            Assert.That(pf.FaultAddress, Is.EqualTo("0xffffec73c51000b4"));
            Assert.That(pf.Rip, Is.EqualTo("memmap_init_zone+0x154/0x1c2"));
            Assert.That(pf.CallTrace.Take(4), Is.EqualTo(new[] { "move_pfn_range_to_zone", "memremap_pages", "devm_memremap_pages", "dev_dax_probe" }));
            Assert.That(pf.CallTrace, Does.Not.Contain("driver_allows_async_probing"), "'?' frames are unreliable and left out");
            Assert.That(pf.Registers["RBX"], Is.EqualTo("0000000000144002"));
            Assert.That(pf.Registers["RSP"], Is.EqualTo("ffffbdc7011a39b0"));
            Assert.That(pf.Comm, Is.EqualTo("ndctl"));
            Assert.That(pf.Pid, Is.EqualTo(1348));
            Assert.That(pf.Taint, Is.EqualTo("G W"));
        });
    }

    [Test]
    public void Streaming_reports_the_oops_as_soon_as_its_end_marker_arrives()
    {
        var detector = new OopsDetector();
        var corpus = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Corpus", "oops", "ref-6.1-init_single_page.txt"))
            .SkipWhile(l => l.Length > 0).Skip(1).ToList();
        OopsReport? report = null;
        var startedAt = -1;
        for (var i = 0; i < corpus.Count && report is null; i++)
        {
            report = detector.Feed(corpus[i]);
            if (startedAt < 0 && detector.InReport) startedAt = i;
        }
        Assert.That(startedAt, Is.EqualTo(0), "the header line opens the report");
        Assert.That(report, Is.Not.Null);
        Assert.That(report!.Title, Is.EqualTo("BUG: unable to handle kernel paging request in __init_single_page"));
        Assert.That(report.EndLine, Is.LessThan(corpus.Count), "returned at the end marker, before the log ends");
        Assert.That(detector.Finish(), Is.Null, "the trailing 'Kernel panic ... Fatal exception' belongs to the oops");
    }
}
