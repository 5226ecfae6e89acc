using System.Net.Sockets;
using System.Text;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Tests.Guest;

/// <summary>Snapshot keys, the memory and key-port arguments, and the key port's protocol (against a fake guest end).</summary>
public class SnapshotTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("qhh-snaptest-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private GuestConfiguration Config(string kernelBytes, Scenario? scenario = null)
    {
        var kernel = Path.Combine(_dir, "bzImage-" + kernelBytes);
        File.WriteAllText(kernel, kernelBytes);
        var qemu = Path.Combine(_dir, "qemu");
        if (!File.Exists(qemu)) File.WriteAllText(qemu, "qemu");
        return GuestBuilder.For(scenario ?? Scenario.Seed, qemu, kernel, "ssh-ed25519 AAAA", _ => { })
            .WithInputsKey("qemu q1; kernel k1; image i1").Build();
    }

    /// <summary>A finished snapshot of <paramref name="config"/> in the store, as <see cref="SnapshotStore"/> leaves one.</summary>
    private static GuestSnapshot Saved(SnapshotStore store, GuestConfiguration config)
    {
        var key = SnapshotStore.KeyOf(config, CellRunner.Prologue(config.Scenario));
        var s = new GuestSnapshot(key, Path.Combine(store.Root, key));
        Directory.CreateDirectory(s.Folder);
        File.WriteAllText(s.State, "state");
        File.WriteAllText(s.IomemAtBoot, "");
        File.WriteAllText(s.Manifest, "{}");
        return s;
    }

    [Test]
    public void A_snapshot_of_another_kernel_is_not_found_for_this_one()
    {
        var store = new SnapshotStore(Path.Combine(_dir, "snapshot"), Serilog.Core.Logger.None);
        var unpatched = Config("unpatched kernel");
        var saved = Saved(store, unpatched);
        Assert.That(store.Find(SnapshotStore.KeyOf(unpatched, CellRunner.Prologue(unpatched.Scenario)))?.Folder, Is.EqualTo(saved.Folder), "the same guest finds its snapshot");
        var patched = Config("patched kernel");
        Assert.That(store.Find(SnapshotStore.KeyOf(patched, CellRunner.Prologue(patched.Scenario))), Is.Null, "another kernel file: another key");
        var rebuilt = unpatched with { InputsKey = "qemu q1; kernel k2; image i1" };
        Assert.That(store.Find(SnapshotStore.KeyOf(rebuilt, CellRunner.Prologue(rebuilt.Scenario))), Is.Null, "another kernel build key: another key");
    }

    /// <summary>A finished snapshot folder named <paramref name="key"/>, last used <paramref name="minutesAgo"/> minutes ago.</summary>
    private static void Finished(SnapshotStore store, string key, int minutesAgo)
    {
        var s = new GuestSnapshot(key, Path.Combine(store.Root, key));
        Directory.CreateDirectory(s.Folder);
        File.WriteAllText(s.State, "state");
        File.WriteAllText(s.IomemAtBoot, "");
        File.WriteAllText(s.Manifest, "{}");
        File.SetLastWriteTimeUtc(s.Manifest, DateTime.UtcNow.AddMinutes(-minutesAgo));
    }

    [Test]
    public void Beyond_the_number_kept_the_least_recently_used_snapshots_go_and_the_current_one_stays()
    {
        var store = new SnapshotStore(Path.Combine(_dir, "snapshot"), Serilog.Core.Logger.None) { Keep = 3 };
        foreach (var (key, age) in new[] { ("a", 50), ("b", 40), ("c", 30), ("d", 20), ("e", 10), ("current", 60) }) Finished(store, key, age);
        Directory.CreateDirectory(Path.Combine(store.Root, "tmp", "half-made"));
        Directory.CreateDirectory(Path.Combine(store.Root, "unfinished")); // no manifest: not a snapshot yet
        var gone = store.Prune(current: "current");
        Assert.Multiple(() =>
        {
            Assert.That(gone, Is.EquivalentTo(new[] { "a", "b", "c" }), "the current one and the two used most recently stay");
            Assert.That(Directory.EnumerateDirectories(store.Root).Select(Path.GetFileName), Is.EquivalentTo(new[] { "current", "d", "e", "tmp", "unfinished" }));
            Assert.That(store.Prune(current: "current"), Is.Empty, "within the number kept: nothing more goes");
        });
    }

    [Test]
    public void Every_part_of_the_guest_is_in_the_snapshot_key()
    {
        var seed = Config("k");
        var key = SnapshotStore.KeyOf(seed, CellRunner.Prologue(seed.Scenario));
        var variants = new Dictionary<string, GuestConfiguration>
        {
            ["pse on"] = seed with { Scenario = Scenario.Seed.WithPse(true) },
            ["image"] = seed with { InputsKey = "qemu q1; kernel k1; image i2" },
            ["qemu build"] = seed with { InputsKey = "qemu q2; kernel k1; image i1" },
            ["kvm"] = seed with { Accel = Accel.Kvm },
            ["ram"] = seed with { Scenario = Scenario.Seed with { Machine = Scenario.Seed.Machine with { Ram = ByteSize.FromMiB(4096) } } },
            ["nvdimm address"] = seed with { Scenario = Scenario.Seed.WithNvdimmAddress(null) },
            ["kernel command line"] = seed with { KernelAppend = seed.KernelAppend + " quiet" },
        };
        foreach (var (what, config) in variants)
            Assert.That(SnapshotStore.KeyOf(config, CellRunner.Prologue(config.Scenario)), Is.Not.EqualTo(key), what);
        Assert.That(SnapshotStore.KeyOf(seed, []), Is.Not.EqualTo(key), "a snapshot without the label prologue is another snapshot");
        Assert.That(SnapshotStore.KeyOf(seed with { ConsoleLog = "/elsewhere", SshPort = 2222 }, CellRunner.Prologue(seed.Scenario)), Is.EqualTo(key),
            "what differs between runs of the same guest is not in the key");
    }

    [Test]
    public void Snapshot_memory_is_file_backed_shared_when_saved_and_private_when_restored()
    {
        var config = Config("k");
        var saving = string.Join(' ', config.Arguments(new GuestWiring("i", 1, "q", "/p/keys.sock", new GuestMemoryFiles("/s/ram", "/s/nvdimm", Shared: true))));
        Assert.That(saving, Does.Contain("-machine pc,nvdimm=on,memory-backend=ram0"));
        Assert.That(saving, Does.Contain("-object memory-backend-file,id=ram0,size=4160M,mem-path=/s/ram,share=on"));
        Assert.That(saving, Does.Contain("-object memory-backend-file,id=mem0,size=8192M,mem-path=/s/nvdimm,share=on,align=2M"), "aligned like anonymous memory: the same NVDIMM size");
        Assert.That(saving, Does.Not.Contain("-incoming"));
        var restoring = string.Join(' ', config.Arguments(new GuestWiring("i", 1, "q", "/p/keys.sock", new GuestMemoryFiles("/s/ram", "/s/nvdimm", Shared: false), Incoming: true)));
        Assert.That(restoring, Does.Contain("mem-path=/s/ram,share=off").And.Contain("mem-path=/s/nvdimm,share=off,align=2M").And.EndWith("-incoming defer"));
        var comma = string.Join(' ', config.Arguments(new GuestWiring("i", 1, "q", "/p,x/keys.sock", new GuestMemoryFiles("/a,b/ram", "/a,b/nvdimm", true))));
        Assert.That(comma, Does.Contain("mem-path=/a,,b/ram,").And.Contain("path=/p,,x/keys.sock,"), "a comma in a path is escaped for QEMU's option parser");
    }

    /// <summary>The guest's end of a key port: a unix socket listening in this test's folder.</summary>
    private (Socket Listener, string Path) KeyPortListener()
    {
        var path = Path.Combine(_dir, "keys.sock");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        return (listener, path);
    }

    /// <summary>A fake guest end of the key port: answers like images/initramfs/init, after ignoring the first <paramref name="deaf"/> requests.</summary>
    private static async Task<List<string>> FakeGuestAsync(Socket listener, int deaf, int answers)
    {
        var seen = new List<string>();
        using var conn = await listener.AcceptAsync();
        using var stream = new NetworkStream(conn);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        while (answers > 0 && await reader.ReadLineAsync() is { } line)
        {
            seen.Add(line);
            if (seen.Count <= deaf) continue;
            var w = line.Split(' ');
            var reply = w[0] == "KEY" ? "QHH-KEY" : "QHH-CLEARED";
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"QHH-KEY 0000\r\n{reply} {w[1]}\r\n")); // a stale answer first: ignored
            answers--;
        }
        return seen;
    }

    [Test]
    public async Task The_key_port_resends_until_the_guest_answers_its_nonce()
    {
        var (listener, path) = KeyPortListener();
        using var owned = listener;
        var guest = FakeGuestAsync(listener, deaf: 2, answers: 2);
        await using (var port = await KeyPort.ConnectAsync(path, Deadline.In(TimeSpan.FromSeconds(5)), CancellationToken.None))
        {
            await port.DeliverAsync("ssh-ed25519 AAAAC3Nza run-key-comment", Deadline.In(TimeSpan.FromSeconds(10)), CancellationToken.None);
            await port.ClearAsync(Deadline.In(TimeSpan.FromSeconds(10)), CancellationToken.None);
        }
        var seen = await guest;
        Assert.That(seen, Has.Count.EqualTo(4), "two unanswered KEY requests, the answered one, then CLEAR");
        Assert.That(seen.Take(3).Select(l => l.Split(' ')[0]), Is.All.EqualTo("KEY"));
        Assert.That(seen[2], Does.Match("^KEY [0-9a-f]{16} ssh-ed25519 AAAAC3Nza$"), "the key's type and blob only: no comment reaches the guest");
        Assert.That(seen[3], Does.Match("^CLEAR [0-9a-f]{16}$"));
        Assert.That(seen[3].Split(' ')[1], Is.Not.EqualTo(seen[2].Split(' ')[1]), "a fresh nonce per request");
    }

    [Test]
    public async Task The_memory_of_a_guest_being_saved_lives_in_a_private_shm_folder_copied_with_its_holes_and_dead_runs_folders_go()
    {
        if (!Directory.Exists("/dev/shm") || new DriveInfo("/dev/shm").AvailableFreeSpace < (2L << 30))
            Assert.Ignore("/dev/shm is missing or has less than 2 GiB free: snapshots are made in the cache folder instead");
        var dead = Directory.CreateDirectory("/dev/shm/qhh-snapshot-999999999-test").FullName; // no such pid
        var live = Directory.CreateDirectory($"/dev/shm/qhh-snapshot-{Environment.ProcessId}-test").FullName;
        var memory = MemoryFolder.Create(_dir, new LoggerConfiguration().CreateLogger());
        try
        {
            Assert.That(memory.Path, Does.StartWith("/dev/shm/qhh-snapshot-"));
            Assert.That(File.GetUnixFileMode(memory.Path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
            Assert.That(Directory.Exists(dead), Is.False, "a folder of a process that is gone is removed");
            Assert.That(Directory.Exists(live), Is.True, "a folder of a live process is left alone");
            foreach (var name in new[] { "ram", "nvdimm" })
            {
                using var f = new FileStream(memory.File(name), FileMode.Create);
                f.SetLength(1L << 30); // 1 GiB, all hole but the last byte
                f.Seek(-1, SeekOrigin.End);
                f.WriteByte(42);
            }
            var (ram, nvdimm) = (Path.Combine(_dir, "ram"), Path.Combine(_dir, "nvdimm"));
            await memory.KeepAsync(ram, nvdimm, CancellationToken.None);
            memory.Delete();
            Assert.That(new FileInfo(ram).Length, Is.EqualTo(1L << 30));
            Assert.That(File.ReadAllBytes(nvdimm)[^1], Is.EqualTo(42));
            var du = await CliWrap.Buffered.BufferedCommandExtensions.ExecuteBufferedAsync(CliWrap.Cli.Wrap("du").WithArguments(["-k", ram]));
            Assert.That(long.Parse(du.StandardOutput.Split('\t')[0]), Is.LessThan(1024), "the copy keeps the holes: " + du.StandardOutput);
            Assert.That(Directory.Exists(memory.Path), Is.False, "the shm folder is gone after the copy");
        }
        finally
        {
            memory.Delete();
            Directory.Delete(live, recursive: true);
        }
    }

    [Test]
    public async Task A_guest_that_never_answers_on_the_key_port_is_a_timeout()
    {
        var (listener, path) = KeyPortListener();
        using var owned = listener;
        var guest = FakeGuestAsync(listener, deaf: int.MaxValue, answers: 1);
        await using var port = await KeyPort.ConnectAsync(path, Deadline.In(TimeSpan.FromSeconds(5)), CancellationToken.None);
        await Assert.ThrowsAsync<TimeoutException>(() => port.DeliverAsync("ssh-ed25519 AAAA", Deadline.In(TimeSpan.FromSeconds(1.2)), CancellationToken.None));
        Assert.Throws<ArgumentException>(() => port.DeliverAsync("ssh-rsa AAAA", Deadline.In(TimeSpan.FromSeconds(1)), CancellationToken.None));
    }
}
