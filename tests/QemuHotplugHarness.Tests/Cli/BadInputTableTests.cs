using System.Net;
using System.Net.Sockets;
using QemuHotplugHarness.Cli;

namespace QemuHotplugHarness.Tests.Cli;

/// <summary>
/// The bad-input table: every command refuses what it cannot use with exit 2, one line per problem on stderr, each
/// starting <c>qhh:</c> and naming the input, no stack trace, and nothing built, booted or written: each case runs
/// in an empty working folder (where default artifacts folders would go) with <c>QHH_CACHE</c> pointing at a folder
/// that must not come to exist (anything that starts a build makes it).
/// </summary>
[NonParallelizable]
public class BadInputTableTests
{
    private string _work = "";
    private string _cache = "";
    private string? _oldCache;
    private string _oldCwd = "";
    private TcpListener _busy = null!;

    [SetUp]
    public void SetUp()
    {
        _work = Directory.CreateTempSubdirectory("qhh-badinput-").FullName;
        _cache = Path.Combine(Path.GetTempPath(), $"qhh-badinput-cache-{Guid.NewGuid():N}");
        _oldCache = Environment.GetEnvironmentVariable("QHH_CACHE");
        Environment.SetEnvironmentVariable("QHH_CACHE", _cache);
        _oldCwd = Directory.GetCurrentDirectory();
        _busy = new TcpListener(IPAddress.Loopback, 0);
        _busy.Start();
    }

    [TearDown]
    public void TearDown()
    {
        _busy.Stop();
        Directory.SetCurrentDirectory(_oldCwd);
        Environment.SetEnvironmentVariable("QHH_CACHE", _oldCache);
        Directory.Delete(_work, recursive: true);
        if (Directory.Exists(_cache)) Directory.Delete(_cache, recursive: true);
    }

    /// <summary>Files the cases refer to, made in the empty working folder's sibling (so the working folder stays empty).</summary>
    private string Inputs()
    {
        var dir = Directory.CreateTempSubdirectory("qhh-badinput-files-").FullName;
        File.WriteAllText(Path.Combine(dir, "truncated.json"), """{ "machine": """);
        File.WriteAllText(Path.Combine(dir, "not-an-array.json"), """{ "name": "x" }""");
        File.WriteAllText(Path.Combine(dir, "empty-matrix.json"), "[]");
        File.WriteAllText(Path.Combine(dir, "nameless.json"), """[{ "scenario": {} }]""");
        File.WriteAllText(Path.Combine(dir, "dupes.json"), """[{ "name": "a" }, { "name": "a" }]""");
        File.WriteAllText(Path.Combine(dir, "bad-cell.json"), """[{ "name": "big", "scenario": { "workload": { "namespaceSize": "16G" } } }]""");
        File.WriteAllText(Path.Combine(dir, "not-a-patch.patch"), "Subject: a mail without a diff\n\nhello\n");
        File.WriteAllBytes(Path.Combine(dir, "binary.patch"), [0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3]);
        Directory.CreateDirectory(Path.Combine(dir, "not-a-tree"));
        File.WriteAllText(Path.Combine(dir, "not-a-tree", "Makefile"), "all:\n\ttrue\n");
        Directory.CreateDirectory(Path.Combine(dir, "shard-without-summary"));
        Directory.CreateDirectory(Path.Combine(dir, "shard-broken"));
        File.WriteAllText(Path.Combine(dir, "shard-broken", "summary.json"), "{");
        Directory.CreateDirectory(Path.Combine(dir, "logs"));
        // A kernel tree (as far as the harness looks before building) whose mm/sparse.c no patch here fits.
        foreach (var f in new[] { "Makefile", "Kconfig", "arch/x86/Kconfig", "scripts/kconfig/merge_config.sh", "mm/sparse.c" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dir, "tree", f))!);
            File.WriteAllText(Path.Combine(dir, "tree", f), $"/* {f} */\nint nothing_like_the_patch;\n");
        }
        File.WriteAllText(Path.Combine(dir, "elsewhere.patch"),
            "--- a/mm/sparse.c\n+++ b/mm/sparse.c\n@@ -1,3 +1,3 @@\n void sparse_init(void)\n {\n-\tmemblocks_present();\n+\tmemblocks_present_early();\n");
        return dir;
    }

    /// <summary>Each case: the arguments ({in} = the inputs folder, {port} = a port someone listens on) and the line(s) expected, in order.</summary>
    private static readonly object[] Cases =
    [
        // predict: the scenario's numbers and names
        Case(["predict", "--nvdimm-addr", "0x144100000"], "--nvdimm-addr 0x144100000: not 2 MiB aligned"),
        Case(["predict", "--nvdimm-addr", "0x80000000"], "--nvdimm-addr 0x80000000: below 4 GiB, where QEMU has no device memory"),
        Case(["predict", "--namespace-size", "16G"], "--namespace-size 16G: larger than the NVDIMM"),
        Case(["predict", "--namespace-size", "3M"], "--namespace-size 3M: must be a multiple of 2M"),
        Case(["predict", "--ram", "24G"], "--ram 24G: above maxmem (20G)"),
        Case(["predict", "--ram", "lots"], "--ram lots: not a size or address"),
        Case(["predict", "--iterations", "0"], "--iterations 0: at least one reconfiguration is needed"),
        Case(["predict", "--iterations", "-1"], "--iterations -1: at least one reconfiguration is needed"),
        Case(["predict", "--iterations", "many"], "--iterations many: not a whole number"),
        Case(["predict", "--smp", "0"], "--smp 0: must be between 1 and 255"),
        Case(["predict", "--slots", "0"], "--slots 0: an NVDIMM needs at least one memory slot"),
        Case(["predict", "--machine", "virt"], "--machine virt: unknown value (use pc or q35)"),
        Case(["predict", "--mode", "raw"], "--mode raw: unknown value (use devdax or fsdax)"),
        Case(["predict", "--pse", "maybe"], "--pse maybe: use on or off"),
        Case(["predict", "--kernel-line", "5.4"], "--kernel-line 5.4: no such kernel line (kernel-lines/ has 6.1, 6.12, latest)"),
        Case(["reproduce", "--kernel-line", "6.6"], "--kernel-line 6.6: no such kernel line (kernel-lines/ has 6.1, 6.12, latest)"),
        Case(["build", "kernel", "--kernel-line", "next"], "--kernel-line next: no such kernel line (kernel-lines/ has 6.1, 6.12, latest)"),
        Case(["predict", "--qemu", "upstream"], "--qemu upstream: unknown value (use patched or stock)"),
        Case(["predict", "--label-size", "4K"], "--label-size 4K: too small: QEMU needs at least 128K"),
        Case(["predict", "--kernel", "sideways"], "--kernel sideways: not a kernel variant"),
        Case(["predict", "--scenario", "{in}/truncated.json"], "{in}/truncated.json: not a valid scenario"),
        Case(["predict", "--ram", "24G", "--smp", "0"], "--ram 24G: above maxmem (20G)", "--smp 0: must be between 1 and 255"),
        // run: files, folders, ports, timeouts — all before anything is built
        Case(["run", "--kernel", "nightly"], "--kernel nightly: no such kernel variant or --kernel-image"),
        Case(["run", "--kernel-image", "x=/nonexistent/bzImage", "--kernel", "x"], "--kernel-image x=/nonexistent/bzImage: no such file"),
        Case(["run", "--modules", "/nonexistent/modules"], "--modules /nonexistent/modules: no such directory"),
        Case(["run", "--kernel-src", "{in}/not-a-tree"], "--kernel-src {in}/not-a-tree: not a Linux kernel tree"),
        Case(["run", "--kernel-src", "/nonexistent/linux"], "--kernel-src /nonexistent/linux: no such directory"),
        Case(["run", "--patch", "{in}/not-a-patch.patch"], "--patch {in}/not-a-patch.patch: not a patch"),
        Case(["run", "--patch", "{in}/binary.patch"], "--patch {in}/binary.patch: not a patch"),
        Case(["run", "--patch", "/nonexistent/fix.patch"], "--patch /nonexistent/fix.patch: no such file"),
        Case(["run", "--qemu-src", "/nonexistent/qemu"], "--qemu-src /nonexistent/qemu: no such directory or tarball"),
        Case(["run", "--ssh-port", "{port}"], "--ssh-port {port}: port is busy on 127.0.0.1"),
        Case(["run", "--ssh-port", "70000"], "--ssh-port 70000: not a port (1-65535)"),
        Case(["run", "--boot-timeout", "0"], "--boot-timeout 0: seconds between 1 and"),
        Case(["run", "--command-timeout", "-5"], "--command-timeout -5: seconds between 1 and"),
        Case(["run", "--accel", "warp"], "--accel warp: unknown value (use auto, kvm or tcg)"),
        Case(["run", "--artifacts", "/proc/qhh-artifacts"], "--artifacts /proc/qhh-artifacts: cannot write there"),
        Case(["run", "--patch", "/nonexistent/fix.patch", "--boot-timeout", "0", "--ssh-port", "{port}"],
            "--patch /nonexistent/fix.patch: no such file", "--boot-timeout 0: seconds between 1 and", "--ssh-port {port}: port is busy on 127.0.0.1"),
        // reproduce: matrices, shards, counts
        Case(["reproduce", "--repeat", "0"], "--repeat 0: must be between 1 and 1000"),
        Case(["reproduce", "--jobs", "-2"], "--jobs -2: at least 1"),
        Case(["reproduce", "--shard", "3/2"], "--shard 3/2: use k/n with 1 <= k <= n"),
        Case(["reproduce", "--shard", "half"], "--shard half: use k/n with 1 <= k <= n"),
        Case(["reproduce", "--matrix", "/nonexistent/m.json"], "--matrix /nonexistent/m.json: no such file"),
        Case(["reproduce", "--matrix", "{in}/truncated.json"], "--matrix {in}/truncated.json: not a matrix"),
        Case(["reproduce", "--matrix", "{in}/not-an-array.json"], "--matrix {in}/not-an-array.json: not a matrix"),
        Case(["reproduce", "--matrix", "{in}/empty-matrix.json"], "--matrix {in}/empty-matrix.json: no cells"),
        Case(["reproduce", "--matrix", "{in}/nameless.json"], "--matrix {in}/nameless.json: not a matrix"),
        Case(["reproduce", "--matrix", "{in}/dupes.json"], "--matrix {in}/dupes.json: cell names must be unique"),
        Case(["reproduce", "--matrix", "{in}/bad-cell.json"], "{in}/bad-cell.json cell big: --namespace-size 16G: larger than the NVDIMM"),
        Case(["reproduce", "--ssh-port", "{port}"], "--ssh-port {port}: port is busy on 127.0.0.1"),
        Case(["reproduce", "--kernel-src", "{in}/not-a-tree"], "--kernel-src {in}/not-a-tree: not a Linux kernel tree"),
        // cases: an unknown case, flags that cannot go with a suite (before any case is loaded or anything built)
        Case(["predict", "--case", "nope"], "--case nope: no such case (cases: "),
        Case(["reproduce", "--case", "nope"], "--case nope: no such case (cases: "),
        Case(["build", "kernel", "--case", "nope"], "--case nope: no such case (cases: "),
        Case(["predict", "--case", "early-section-memmap", "--scenario", "{in}/truncated.json"],
            "--scenario {in}/truncated.json: give either a scenario file or --case"),
        Case(["reproduce", "--suite", "--case", "nope"], "--suite and --case: the suite runs every case with its own scenario and cells; give one"),
        Case(["reproduce", "--suite", "--matrix", "{in}/dupes.json", "--bisect"],
            "--suite and --matrix: the suite runs every case", "--suite and --bisect: the suite runs every case"),
        // build
        // a patch that applies to the tree neither forward nor in reverse: refused before QEMU or a kernel is built
        Case(["run", "--kernel-src", "{in}/tree", "--patch", "{in}/elsewhere.patch"],
            "--patch {in}/elsewhere.patch: applies to tree neither forward nor in reverse: hunk #1 FAILED at line 1 of mm/sparse.c"),
        Case(["reproduce", "--kernel-src", "{in}/tree"], "--kernel-src {in}/tree: the patch under test ("),
        Case(["build", "kernel", "--kernel-src", "{in}/tree", "--patch", "{in}/elsewhere.patch"], "--patch {in}/elsewhere.patch: applies to tree neither forward nor in reverse"),
        Case(["build", "kernel", "--variant", "both-ish"], "--variant both-ish: unknown value (use unpatched, patched or both)"),
        Case(["build", "kernel", "--kernel-src", "/nonexistent/linux"], "--kernel-src /nonexistent/linux: no such directory"),
        Case(["build", "kernel", "--patch", "{in}/not-a-patch.patch"], "--patch {in}/not-a-patch.patch: not a patch"),
        Case(["build", "qemu", "--qemu-src", "/nonexistent/qemu"], "--qemu-src /nonexistent/qemu: no such directory or tarball"),
        Case(["build", "image", "--artifacts", "/proc/qhh-build"], "--artifacts /proc/qhh-build: cannot write there"),
        Case(["build", "qemu", "--kernel-src", "/tmp"], "--kernel-src: unknown option of qhh build qemu (an option of qhh build"),
        Case(["build", "image", "--case", "early-section-memmap"], "--case: unknown option of qhh build image"),
        // scan
        Case(["scan", "/nonexistent/console.log"], "/nonexistent/console.log: no such file"),
        Case(["scan", "{in}/logs"], "{in}/logs: a folder, not a log file"),
        Case(["scan"], "Command 'scan' is missing required argument 'FILE...'"),
        Case(["merge"], "Command 'merge' is missing required argument 'DIR...'"),
        // merge
        Case(["merge", "/nonexistent/shard1"], "merge /nonexistent/shard1: no such file or folder"),
        Case(["merge", "{in}/shard-without-summary"], "merge {in}/shard-without-summary: has no summary.json"),
        Case(["merge", "{in}/shard-broken"], "merge {in}/shard-broken: its summary.json is not a summary"),
        // bench and the command line itself
        Case(["bench", "nothing"], "bench nothing: unknown benchmark"),
        Case(["bench", "scan", "--megabytes", "0"], "bench scan --megabytes 0: at least 1"),
        Case(["bench", "scan", "--megabytes", "x"], "--megabytes x: not a whole number"),
        Case(["frobnicate"], "frobnicate: unknown command (see qhh --help)"),
        Case(["predict", "--bogus"], "--bogus: unknown option of qhh predict (see qhh predict --help)"),
    ];

    private static object[] Case(string[] args, params string[] expected) => [args, expected];

    [Test]
    public void The_table_has_at_least_30_cases_across_every_command()
    {
        var commands = Cases.Select(c => ((string[])((object[])c)[0]).FirstOrDefault()).ToHashSet();
        Assert.That(Cases, Has.Length.GreaterThanOrEqualTo(30));
        Assert.That(commands, Is.SupersetOf(new[] { "predict", "run", "reproduce", "build", "scan", "merge", "bench" }));
    }

    [TestCaseSource(nameof(Cases))]
    public async Task Bad_input_exits_2_with_one_line_per_problem_naming_it_and_nothing_written(string[] args, string[] expected)
    {
        var inputs = Inputs();
        try
        {
            var port = ((IPEndPoint)_busy.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            string Fill(string s) => s.Replace("{in}", inputs, StringComparison.Ordinal).Replace("{port}", port, StringComparison.Ordinal);
            var before = Snapshot(inputs);
            Directory.SetCurrentDirectory(_work);
            var (code, stdout, stderr) = await QhhCli.RunAsync(args.Select(Fill).ToArray());
            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
            Assert.Multiple(() =>
            {
                Assert.That(code, Is.EqualTo(2), stderr);
                Assert.That(lines, Has.Length.EqualTo(expected.Length), "one line per problem: " + stderr);
                for (var i = 0; i < Math.Min(lines.Length, expected.Length); i++)
                    Assert.That(lines[i], Does.StartWith("qhh: " + Fill(expected[i])));
                Assert.That(stderr, Does.Not.Contain("   at ").And.Not.Contain("Exception"), "no stack trace");
                Assert.That(stdout, Is.Empty, "nothing on stdout");
                Assert.That(Directory.GetFileSystemEntries(_work), Is.Empty, "nothing written in the working folder (no artifacts folder)");
                Assert.That(Directory.Exists(_cache), Is.False, "nothing built: the cache was not even opened");
                Assert.That(Snapshot(inputs), Is.EqualTo(before), "the inputs are untouched");
            });
        }
        finally
        {
            Directory.SetCurrentDirectory(_oldCwd);
            Directory.Delete(inputs, recursive: true);
        }
    }

    private static string[] Snapshot(string dir) =>
        Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Binary garbage and an empty file are logs without crash reports, not bad input.</summary>
    [TestCase("garbage")]
    [TestCase("empty")]
    public async Task Scan_of_binary_garbage_or_an_empty_file_exits_0_with_no_report(string kind)
    {
        var file = Path.Combine(_work, kind + ".log");
        var bytes = kind == "empty" ? [] : new byte[256 * 1024];
        new Random(15).NextBytes(bytes);
        File.WriteAllBytes(file, bytes);
        var (code, stdout, stderr) = await QhhCli.RunAsync(["scan", file, "--fail-on-oops"]);
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stderr, Is.Empty);
        Assert.That(stdout.Trim(), Is.EqualTo($"{file}: no crash reports"));
        Assert.That(Directory.GetFileSystemEntries(_work), Is.EqualTo(new[] { file }), "scan writes nothing");
    }
}
