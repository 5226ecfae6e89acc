using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using Renci.SshNet;

namespace QemuHotplugHarness.Tests.Reliability;

/// <summary>Whole qhh processes: interrupted by signals, two at once, a hostile kernel path, a short soak.</summary>
public partial class GuestReliabilityTests
{
    private const int SigInt = 2, SigTerm = 15;

    /// <summary>A fresh empty working folder for one qhh process.</summary>
    private string Work(string name) => Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;

    private static JsonElement Summary(string artifacts) => JsonDocument.Parse(File.ReadAllText(Path.Combine(artifacts, "summary.json"))).RootElement;

    [TestCase(SigInt, 130)]
    [TestCase(SigTerm, 143)]
    public async Task A_signal_during_reproduce_stops_every_qemu_and_leaves_a_partial_summary(int signal, int expectedExit)
    {
        var work = Work($"signal-{signal}");
        var artifacts = Path.Combine(work, "out");
        int? qemu = null;
        // Ten iterations: with cells restored from snapshots a default matrix can end within seconds, before the signal.
        var (code, _, stderr) = await RunQhhAsync(work, ["reproduce", "--accel", "tcg", "--iterations", "10", "--artifacts", artifacts], TimeSpan.FromMinutes(10), async p =>
        {
            // The stock cell is rejected at once (summary.json has it); the next cell's QEMU runs when the signal comes.
            var ready = await Poll.UntilAsync(() => File.Exists(Path.Combine(artifacts, "summary.json")), Deadline.In(TimeSpan.FromMinutes(5)), TimeSpan.FromMilliseconds(100), CancellationToken.None);
            Assert.That(ready, Is.True, "the first cell finished");
            qemu = await Procs.DescendantAsync(p.Id, "qemu-system", TimeSpan.FromMinutes(2));
            Assert.That(qemu, Is.Not.Null, "the second cell's QEMU runs");
            NoQemuLeftBehind.Seen(qemu!.Value);
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.That(kill(p.Id, signal), Is.EqualTo(0));
        });
        var summary = Summary(artifacts);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(expectedExit), stderr);
            Assert.That(stderr, Does.Contain("qhh: interrupted; partial summary written to " + artifacts));
            Assert.That(summary.GetProperty("interrupted").GetBoolean(), Is.True);
            Assert.That(summary.GetProperty("cells").GetArrayLength(), Is.GreaterThanOrEqualTo(1), "the cells done are in it");
            Assert.That(summary.GetProperty("cells")[0].GetProperty("name").GetString(), Is.EqualTo("stock-qemu-unpatched-pse-off"));
            Assert.That(summary.GetProperty("verdict").GetString(), Is.EqualTo("infra-error"), "an interrupted run decides nothing");
            Assert.That(Procs.Alive(qemu!.Value), Is.False, "the QEMU was stopped with its run");
        });
    }

    [Test]
    public async Task Two_reproductions_at_once_both_succeed_in_separate_folders_ports_and_sockets()
    {
        var work = Work("two-at-once");
        var matrix = Path.Combine(work, "two-cells.json");
        File.WriteAllText(matrix, """
            [
              { "name": "unpatched-pse-off", "scenario": { "kernel": { "variant": "unpatched" }, "cpu": { "pse": false }, "workload": { "iterations": 2 } } },
              { "name": "patched-pse-off", "scenario": { "kernel": { "variant": "patched" }, "cpu": { "pse": false }, "workload": { "iterations": 2 } } }
            ]
            """);
        // No --artifacts: both start in the same second in the same folder, so the default names collide unless claimed.
        var runs = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => RunQhhAsync(work, ["reproduce", "--accel", "tcg", "--matrix", matrix], TimeSpan.FromMinutes(15))));
        foreach (var (code, stdout, stderr) in runs) Assert.That(code, Is.EqualTo(0), stdout + stderr);
        var folders = Directory.GetDirectories(Path.Combine(work, "artifacts"));
        Assert.That(folders, Has.Length.EqualTo(2), "one run folder each");
        var cmdlines = folders.SelectMany(f => Directory.GetFiles(f, "qemu-cmdline.txt", SearchOption.AllDirectories)).Select(File.ReadAllText).ToList();
        Assert.That(cmdlines, Has.Count.EqualTo(4));
        var ports = cmdlines.Select(c => System.Text.RegularExpressions.Regex.Match(c, @"hostfwd=tcp:127\.0\.0\.1:(\d+)").Groups[1].Value).ToList();
        var sockets = cmdlines.Select(c => System.Text.RegularExpressions.Regex.Match(c, @"unix:([^,]+),").Groups[1].Value).ToList();
        Assert.That(ports.Distinct().Count(), Is.EqualTo(4), string.Join(", ", ports));
        Assert.That(sockets.Distinct().Count(), Is.EqualTo(4), string.Join(", ", sockets));
        foreach (var f in folders) Assert.That(Summary(f).GetProperty("verdict").GetString(), Is.EqualTo("patch-fixes"), f);
    }

    // ---- security --------------------------------------------------------------------------------------------

    /// <summary>Listening sockets of a process: TCP/UDP (v4 and v6) local addresses, and unix socket paths.</summary>
    private static (List<string> Inet, List<string> Unix) ListeningSockets(int pid)
    {
        var inodes = new HashSet<string>();
        foreach (var fd in Directory.GetFiles($"/proc/{pid}/fd"))
        {
            try
            {
                var target = new FileInfo(fd).LinkTarget ?? "";
                if (target.StartsWith("socket:[", StringComparison.Ordinal)) inodes.Add(target[8..^1]);
            }
            catch (IOException) { }
        }
        var inet = new List<string>();
        foreach (var table in new[] { "tcp", "tcp6", "udp", "udp6" })
            foreach (var line in File.ReadLines($"/proc/{pid}/net/{table}").Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var listening = table.StartsWith("udp", StringComparison.Ordinal) || f[3] == "0A";
                if (listening && inodes.Contains(f[9])) inet.Add($"{table} {Address(f[1])}");
            }
        var unix = File.ReadLines($"/proc/{pid}/net/unix").Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 8 && inodes.Contains(f[6])).Select(f => f[7]).ToList();
        return (inet, unix);
    }

    /// <summary>/proc/net's hex address:port as text (IPv4 in network order, little-endian hex; IPv6 as four words).</summary>
    private static string Address(string hex)
    {
        var (ip, port) = (hex[..hex.IndexOf(':')], int.Parse(hex[(hex.IndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        if (ip.Length == 8)
        {
            var b = BitConverter.GetBytes(uint.Parse(ip, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            return $"{b[0]}.{b[1]}.{b[2]}.{b[3]}:{port}";
        }
        return $"[{ip}]:{port}";
    }

    [Test]
    public async Task A_run_with_a_hostile_kernel_path_listens_only_on_loopback_and_private_sockets_and_leaves_no_secrets()
    {
        var work = Work("security");
        var marker = Path.Combine(work, "PWNED"); // qhh runs in the working folder: a shell would make it there
        // Spaces, ;, $(…), backticks and both quotes: any shell between the harness and QEMU would run the touch.
        var hostile = Directory.CreateDirectory(Path.Combine(work, "k dir; touch PWNED; $(touch PWNED) `touch PWNED` 'q' \"dq\"")).FullName;
        var scenario = Scenario.Seed.WithKernel(KernelVariant.Patched).WithPse(true);
        var inputs = await _inputs.ResolveAsync(scenario, CancellationToken.None);
        var kernel = Path.Combine(hostile, "bzImage");
        File.Copy(inputs.Kernel.BzImage, kernel);
        var artifacts = Path.Combine(work, "out");
        (List<string> Inet, List<string> Unix) sockets = ([], []);
        string? privateDir = null;
        UnixFileMode? dirMode = null, keyMode = null;
        string[] offered = [];
        var (code, stdout, stderr) = await RunQhhAsync(work,
            ["run", "--kernel-image", $"evil={kernel}", "--kernel", "evil", "--pse", "on", "--iterations", "40", "--accel", "tcg", "--no-snapshot", "--artifacts", artifacts],
            TimeSpan.FromMinutes(10), async p =>
            {
                var qemu = await Procs.DescendantAsync(p.Id, "qemu-system", TimeSpan.FromMinutes(2));
                Assert.That(qemu, Is.Not.Null);
                NoQemuLeftBehind.Seen(qemu!.Value);
                var console = Path.Combine(artifacts, "console.log");
                await Poll.UntilAsync(() => File.Exists(console) && File.ReadAllText(console).Contains("QHH-READY", StringComparison.Ordinal), Deadline.In(TimeSpan.FromMinutes(3)), TimeSpan.FromMilliseconds(200), CancellationToken.None);
                var cmdline = Procs.CommandLine(qemu.Value);
                Assert.That(cmdline, Does.Contain(kernel), "QEMU got the path as one argument, unchanged");
                sockets = ListeningSockets(qemu.Value);
                var qmp = System.Text.RegularExpressions.Regex.Match(cmdline, @"unix:([^,]+),").Groups[1].Value;
                privateDir = Path.GetDirectoryName(qmp);
                dirMode = File.GetUnixFileMode(privateDir!);
                keyMode = File.GetUnixFileMode(Path.Combine(privateDir!, "id_ed25519"));
                offered = AuthenticationMethodsOffered(int.Parse(System.Text.RegularExpressions.Regex.Match(cmdline, @"hostfwd=tcp:127\.0\.0\.1:(\d+)").Groups[1].Value, CultureInfo.InvariantCulture));
            });
        TestContext.Progress.WriteLine($"security: sockets {string.Join(", ", sockets.Inet.Concat(sockets.Unix))}; private {privateDir}; auth offered: {string.Join(",", offered)}");
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(0), stdout + stderr);
            Assert.That(File.ReadAllText(Path.Combine(artifacts, "ndctl.log")), Does.Contain("### reconfigure-40"), "the guest booted from that path and ran");
            Assert.That(sockets.Inet, Is.Not.Empty.And.All.Match(@"^tcp6? 127\.0\.0\.1:\d+$"), "every TCP/UDP listener on 127.0.0.1");
            Assert.That(sockets.Unix, Is.Not.Empty.And.All.StartsWith(privateDir + "/"), "every unix socket in the private folder");
            Assert.That(dirMode, Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute), "private folder 0700");
            Assert.That(keyMode, Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "private key 0600");
            Assert.That(offered, Is.EqualTo(new[] { "publickey" }), "the guest offers public keys only: no password, no keyboard-interactive");
            Assert.That(Directory.Exists(privateDir), Is.False, "the private folder (key, sockets) is deleted after the run");
            Assert.That(File.Exists(marker), Is.False, "no shell ran the path");
            Assert.That(Directory.GetFileSystemEntries(hostile), Is.EqualTo(new[] { kernel }), "nothing created beside the kernel");
            Assert.That(Directory.GetFileSystemEntries(work).Select(Path.GetFileName), Is.EquivalentTo(new[] { Path.GetFileName(hostile), "out" }), "nothing created in the working folder");
        });
        AssertNoSecrets(artifacts);
    }

    /// <summary>The "none" method: the server answers with the methods it would accept.</summary>
    private static string[] AuthenticationMethodsOffered(int port)
    {
        var none = new NoneAuthenticationMethod("root");
        using var client = new SshClient(new ConnectionInfo("127.0.0.1", port, "root", none) { Timeout = TimeSpan.FromSeconds(20) });
        try
        {
            client.Connect();
        }
        catch (Renci.SshNet.Common.SshAuthenticationException e)
        {
            // SSH.NET ends its message with the methods the server listed: "... authentication (publickey)."
            TestContext.Progress.WriteLine("ssh none auth: " + e.Message);
            if (none.AllowedAuthentications is { Length: > 0 } listed) return listed;
            var methods = System.Text.RegularExpressions.Regex.Match(e.Message, @"\(([^)]*)\)\.?$").Groups[1].Value;
            return methods.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }
        return ["none"]; // the server let "none" in: no authentication at all
    }

    /// <summary>Users upload the artifacts folder: no private key, no socket, no snapshot, no key file of any kind in it.</summary>
    private static void AssertNoSecrets(string artifacts)
    {
        foreach (var path in Directory.GetFileSystemEntries(artifacts, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetFileName(path);
            var info = new FileInfo(path);
            Assert.That(info.Attributes.HasFlag(FileAttributes.Directory) || info.Attributes.HasFlag(FileAttributes.Normal) || info.Attributes.HasFlag(FileAttributes.Archive) || info.Attributes.HasFlag(FileAttributes.ReadOnly) || info.Attributes.HasFlag(FileAttributes.Hidden),
                Is.True, $"{path}: an ordinary file or folder (no socket, no device)");
            Assert.That(name, Does.Not.Match(@"^id_|\.sock$|\.pem$|\.key$|snapshot|\.qcow2$|^initrd$|vmstate"), path);
            if (Directory.Exists(path)) continue;
            var head = File.ReadAllText(path);
            Assert.That(head, Does.Not.Contain("PRIVATE KEY"), path);
        }
    }

    // ---- soak -------------------------------------------------------------------------------------------------

    [Test]
    public async Task A_short_soak_of_three_default_matrices_has_no_wrong_verdict_and_no_orphan()
    {
        var work = Work("soak");
        var artifacts = Path.Combine(work, "out");
        var (code, stdout, stderr) = await RunQhhAsync(work, ["soak", "--runs", "3", "--accel", "tcg", "--artifacts", artifacts, "--json"], TimeSpan.FromMinutes(20));
        Assert.That(code, Is.EqualTo(0), stderr);
        var report = JsonDocument.Parse(stdout).RootElement;
        TestContext.Progress.WriteLine("soak: " + stdout.Replace('\n', ' '));
        Assert.Multiple(() =>
        {
            Assert.That(report.GetProperty("runs").GetInt32(), Is.EqualTo(3));
            Assert.That(report.GetProperty("wrongVerdicts").GetInt32(), Is.EqualTo(0));
            Assert.That(report.GetProperty("orphans").GetInt32(), Is.EqualTo(0));
            var oops = report.GetProperty("cells").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "unpatched-pse-off");
            Assert.That(oops.GetProperty("asPredicted").GetInt32(), Is.EqualTo(3), "reproduced every time");
            Assert.That(report.GetProperty("peakWorkingSetMiB").GetDouble(), Is.GreaterThan(0));
            Assert.That(File.Exists(Path.Combine(artifacts, "soak.json")), Is.True);
            Assert.That(Directory.GetDirectories(artifacts).Select(Path.GetFileName), Is.EquivalentTo(new[] { "run-001", "run-002", "run-003" }));
        });
    }
}
