using QemuHotplugHarness.Build;

namespace QemuHotplugHarness.Tests.Build;

/// <summary>
/// Whether the patch under test can make a variant of the tree, decided before anything is built: dry runs of GNU
/// patch on a copy of the files it touches (the bad-input table covers the command line on a stand-in tree).
/// </summary>
[Category("HostTools")] // patch, tar, Debian's linux-source-6.1
public class PatchCheckTests
{
    private static string ProjectPatch => Path.Combine(RepoLayout.Discover().Root, "cases", "early-section-memmap", "fix-6.1.patch");

    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("qhh-patch-check-test-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void A_patch_touches_the_files_of_its_minus_and_plus_lines()
    {
        var patch = Path.Combine(_dir, "two.patch");
        File.WriteAllText(patch, "Subject: x\n--- a/mm/sparse.c\t2024-01-01\n+++ b/mm/sparse.c\n@@ -1 +1 @@\n-a\n+b\n" +
                                 "--- /dev/null\n+++ b/mm/new.c\n@@ -0,0 +1 @@\n+c\n--- a/../../etc/passwd\n+++ b/../../etc/passwd\n");
        Assert.That(PatchSeries.TouchedFiles(patch), Is.EqualTo(new[] { "mm/sparse.c", "mm/new.c" }), "/dev/null and paths leaving the tree are not files of the tree");
        Assert.That(PatchSeries.TouchedFiles(ProjectPatch), Is.EqualTo(new[] { "mm/sparse.c" }));
    }

    [Test]
    public async Task On_Debians_source_the_projects_patch_passes_and_a_patch_for_other_code_is_named_with_its_hunk()
    {
        HostTools.Require("patch", "patch");
        HostTools.Require("tar", "tar");
        const string tarball = "/usr/src/linux-source-6.1.tar.xz";
        if (!File.Exists(tarball)) Assert.Ignore($"{tarball} is not installed (run.ps1 setup installs linux-source-6.1)");
        var wrong = Path.Combine(_dir, "wrong.patch");
        File.WriteAllText(wrong, "--- a/mm/sparse.c\n+++ b/mm/sparse.c\n@@ -1,3 +1,3 @@\n void sparse_init(void)\n {\n-\tnot_in_linux_at_all();\n+\tmemblocks_present_early();\n");
        // An empty cache: the source comes out of the tarball, and the cache is not made.
        var cache = Path.Combine(_dir, "cache");

        var ok = await KernelBuilder.PatchProblemAsync(cache, null, ProjectPatch, CancellationToken.None);
        var problem = await KernelBuilder.PatchProblemAsync(cache, null, wrong, CancellationToken.None);

        Assert.That(ok, Is.Null, "Debian's 6.1 holds the fix: the patch applies in reverse, so both variants can be made");
        Assert.That(problem, Does.Match(@"^applies to linux-source-6\.1 \S+ neither forward nor in reverse: hunk #1 FAILED at line 1 of mm/sparse\.c$"));
        Assert.That(Directory.Exists(cache), Is.False, "checking made no cache");
    }

    [Test]
    public async Task On_a_users_tree_the_files_are_read_where_they_are_and_nothing_is_written_there()
    {
        HostTools.Require("patch", "patch");
        var tree = Path.Combine(_dir, "linux");
        Directory.CreateDirectory(Path.Combine(tree, "mm"));
        File.WriteAllText(Path.Combine(tree, "mm/sparse.c"), "void sparse_init(void)\n{\n\tmemblocks_present();\n}\n");
        var fits = Path.Combine(_dir, "fits.patch");
        File.WriteAllText(fits, "--- a/mm/sparse.c\n+++ b/mm/sparse.c\n@@ -1,4 +1,4 @@\n void sparse_init(void)\n {\n-\tmemblocks_present();\n+\tmemblocks_present_early();\n }\n");
        var gone = Path.Combine(_dir, "gone.patch");
        File.WriteAllText(gone, "--- a/mm/gone.c\n+++ b/mm/gone.c\n@@ -1 +1 @@\n-a\n+b\n");
        var before = File.GetLastWriteTimeUtc(Path.Combine(tree, "mm/sparse.c"));

        Assert.That(await KernelBuilder.PatchProblemAsync(Path.Combine(_dir, "cache"), tree, fits, CancellationToken.None), Is.Null);
        Assert.That(await KernelBuilder.PatchProblemAsync(Path.Combine(_dir, "cache"), tree, gone, CancellationToken.None),
            Does.StartWith("applies to linux neither forward nor in reverse: a file it patches is missing"));
        Assert.That(Directory.GetFileSystemEntries(tree, "*", SearchOption.AllDirectories), Is.EquivalentTo(new[] { Path.Combine(tree, "mm"), Path.Combine(tree, "mm/sparse.c") }));
        Assert.That(File.GetLastWriteTimeUtc(Path.Combine(tree, "mm/sparse.c")), Is.EqualTo(before));
    }
}
