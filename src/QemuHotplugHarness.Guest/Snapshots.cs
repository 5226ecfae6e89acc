using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Guest;

/// <summary>
/// A saved guest: its RAM and NVDIMM files (restored as private copy-on-write mappings, so one snapshot serves many
/// guests and is never written), its device state, the console of the boot that made it and the log of the workload
/// prologue it ran before it was saved. It holds no SSH key: the guest's authorized keys are emptied before saving.
/// </summary>
public sealed record GuestSnapshot(string Key, string Folder)
{
    public string Ram => Path.Combine(Folder, "ram");
    public string Nvdimm => Path.Combine(Folder, "nvdimm");
    public string State => Path.Combine(Folder, "state");
    public string Console => Path.Combine(Folder, "console.log");
    public string PrologueLog => Path.Combine(Folder, "prologue.log");
    /// <summary>/proc/iomem of the guest as it booted, before the prologue changed it (the boot facts of every restore).</summary>
    public string IomemAtBoot => Path.Combine(Folder, "iomem-boot.txt");
    public string Manifest => Path.Combine(Folder, "manifest.json");
}

/// <summary>
/// Snapshots of booted guests, one folder per key. The key covers everything the saved guest depends on: the cache
/// keys of the QEMU, kernel and image builds, the kernel file and QEMU binary themselves, every QEMU argument
/// (machine, memory layout, CPU flags, NVDIMM, kernel command line) and the prologue steps it ran. A guest that differs
/// in any of them gets another key, so a snapshot of another QEMU, kernel or image is never used.
/// </summary>
public sealed class SnapshotStore(string root, ILogger log)
{
    private const string Format = "qhh-snapshot-v1";
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Making = new();

    public string Root { get; } = root;

    /// <summary>
    /// How many snapshots stay on disk (<see cref="CacheBounds.Snapshots"/>): after one is saved, the least recently
    /// used beyond this many are removed.
    /// </summary>
    public int Keep { get; init; } = CacheBounds.Snapshots.Default;

    public static string KeyOf(GuestConfiguration config, IReadOnlyList<WorkloadStep> prologue)
    {
        var qemu = new FileInfo(config.QemuBinary);
        IEnumerable<string> parts =
        [
            Format, config.InputsKey, FileHash(config.KernelImage), $"{qemu.FullName}:{qemu.Length}:{qemu.LastWriteTimeUtc.Ticks}",
            config.ReadyMarker, .. config.Arguments(GuestWiring.Placeholders), .. prologue.Select(p => string.Join('\u0001', p.Arguments)),
        ];
        return ContentKey.Of(parts);
    }

    private static string FileHash(string path) => File.Exists(path) ? Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))) : "missing:" + path;

    /// <summary>The finished snapshot of this key, or null (finished = its manifest exists).</summary>
    public GuestSnapshot? Find(string key)
    {
        var s = new GuestSnapshot(key, Path.Combine(Root, key));
        return File.Exists(s.Manifest) && File.Exists(s.State) && File.Exists(s.IomemAtBoot) ? s : null;
    }

    /// <summary>
    /// The snapshot of this guest after <paramref name="prologue"/>: found, or made by booting it cold once. Null when
    /// the guest could not be made (it did not boot, the prologue failed or oopsed): the caller boots cold and sees why.
    /// </summary>
    public async Task<GuestSnapshot?> GetOrMakeAsync(GuestConfiguration config, IReadOnlyList<WorkloadStep> prologue, CancellationToken ct)
    {
        var key = KeyOf(config, prologue);
        if (Find(key) is { } hit) return Used(hit);
        var gate = Making.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        try
        {
            if (Find(key) is { } made) return Used(made);
            if (await MakeAsync(key, config, prologue, ct) is not { } fresh) return null;
            Prune(key);
            return fresh;
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<GuestSnapshot?> MakeAsync(string key, GuestConfiguration config, IReadOnlyList<WorkloadStep> prologue, CancellationToken ct)
    {
        var work = Path.Combine(Root, "tmp", $"{key}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        RemoveAbandoned(Path.Combine(Root, "tmp"));
        Directory.CreateDirectory(work);
        File.SetUnixFileMode(work, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var made = new GuestSnapshot(key, work);
        var watch = Stopwatch.StartNew();
        var memory = MemoryFolder.Create(work, log);
        log.Information("snapshot {Key}: booting the guest once to save it (memory files in {Folder})", key, memory.Path);
        try
        {
            var maker = config with { MemoryFiles = new GuestMemoryFiles(memory.File("ram"), memory.File("nvdimm"), Shared: true), ConsoleLog = made.Console, SshPort = null };
            await using (var guest = await QemuGuest.StartAsync(maker, log, ct))
            {
                await guest.WaitReadyAsync(ct);
                var iomem = await guest.RunShellAsync("cat /proc/iomem", maker.Timeouts.Probe, ct);
                if (iomem.ExitCode != 0) throw new InfrastructureException("snapshot: cat /proc/iomem failed: " + iomem.Stderr.Trim());
                await File.WriteAllTextAsync(made.IomemAtBoot, iomem.Stdout, ct);
                if (!await RunPrologueAsync(guest, made, prologue, ct)) return null;
                await guest.SaveAsync(made.State, ct);
            }
            await memory.KeepAsync(made.Ram, made.Nvdimm, ct);
            await File.WriteAllTextAsync(made.Manifest, JsonSerializer.Serialize(new
            {
                kind = "snapshot", key, madeAt = DateTimeOffset.UtcNow, seconds = Math.Round(watch.Elapsed.TotalSeconds, 2),
                prologue = prologue.Select(p => string.Join(' ', p.Arguments)), stateBytes = new FileInfo(made.State).Length,
            }), CancellationToken.None);
            var final = Commit(key, work);
            log.Information("snapshot {Key}: saved in {Seconds:F1} s ({Bytes} bytes of device state)", key, watch.Elapsed.TotalSeconds, new FileInfo(Path.Combine(final, "state")).Length);
            return new GuestSnapshot(key, final);
        }
        catch (Exception e) when (e is GuestNotReadyException or InfrastructureException or IOException or TimeoutException or Renci.SshNet.Common.SshException
                                      or System.Net.Sockets.SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            log.Warning("snapshot {Key}: not made, booting cold instead: {Message}", key, e.Message);
            return null;
        }
        finally
        {
            memory.Delete();
            try { if (Directory.Exists(work)) Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>A snapshot's last use is its manifest's time: set on every use, read by the eviction.</summary>
    private static GuestSnapshot Used(GuestSnapshot s)
    {
        try { File.SetLastWriteTimeUtc(s.Manifest, DateTime.UtcNow); }
        catch (IOException) { } // a read-only cache still serves its snapshots
        catch (UnauthorizedAccessException) { }
        return s;
    }

    /// <summary>Removes the least recently used finished snapshots beyond <see cref="Keep"/>, never <paramref name="current"/>; returns their keys.</summary>
    public IReadOnlyList<string> Prune(string? current = null)
    {
        if (!Directory.Exists(Root)) return [];
        var finished = Directory.EnumerateDirectories(Root).Select(Path.GetFileName).OfType<string>()
            .Where(k => k != "tmp" && Find(k) is not null)
            .Select(k => (Key: k, LastUsed: File.GetLastWriteTimeUtc(Path.Combine(Root, k, "manifest.json")))).ToList();
        var gone = CacheBounds.LeastRecentlyUsed(finished, Keep, current);
        foreach (var key in gone)
        {
            try { Directory.Delete(Path.Combine(Root, key), recursive: true); }
            catch (IOException e) { log.Debug("snapshot: could not remove {Key}: {Message}", key, e.Message); }
        }
        if (gone.Count > 0)
            log.Information("snapshot: removed {Count} least recently used, keeping {Keep} (QHH_SNAPSHOT_KEEP)", gone.Count, Keep);
        return gone;
    }

    /// <summary>Half-made snapshots of a harness that was killed (their memory files are sparse but large): gone after a day.</summary>
    private void RemoveAbandoned(string tmp)
    {
        if (!Directory.Exists(tmp)) return;
        foreach (var dir in Directory.EnumerateDirectories(tmp).Where(d => Directory.GetLastWriteTimeUtc(d) < DateTime.UtcNow - TimeSpan.FromDays(1)))
        {
            try { Directory.Delete(dir, recursive: true); }
            catch (IOException e) { log.Debug("snapshot: could not remove {Dir}: {Message}", dir, e.Message); }
        }
    }

    /// <summary>Runs the prologue (label initialisation) in the guest to be saved; false when it did not end clean.</summary>
    private async Task<bool> RunPrologueAsync(QemuGuest guest, GuestSnapshot made, IReadOnlyList<WorkloadStep> prologue, CancellationToken ct)
    {
        if (prologue.Count == 0) return true;
        await using var record = new PrologueLog(made.PrologueLog);
        var result = await new WorkloadRunner(guest, guest, record, guest.Configuration.Timeouts, guest).RunAsync(prologue, null, ct);
        if (result.Outcome == Outcome.Clean && guest.Oopses.Count == 0) return true;
        log.Warning("snapshot {Key}: the prologue ended {Outcome} ({Error}): not saved, the cell boots cold", made.Key, result.Outcome.Kebab(), result.Error);
        return false;
    }

    /// <summary>Moves a finished snapshot into place; a concurrent winner is kept.</summary>
    private string Commit(string key, string work)
    {
        var final = Path.Combine(Root, key);
        try
        {
            Directory.Move(work, final);
        }
        catch (IOException) when (Find(key) is not null)
        {
            Directory.Delete(work, recursive: true);
        }
        return final;
    }

    private sealed class PrologueLog(string path) : IWorkloadRecorder, IAsyncDisposable
    {
        private readonly StreamWriter _log = new(path) { AutoFlush = true };

        public Task StepAsync(WorkloadStep step, GuestCommandResult r, CancellationToken ct) =>
            _log.WriteLineAsync($"### {step.Name}: {r.Command}\n# exit {r.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"} after {r.Seconds:F2} s\n{r.Stdout}{r.Stderr}".AsMemory(), ct);

        public Task IomemAsync(int iteration, string iomem, CancellationToken ct) => Task.CompletedTask;

        public ValueTask DisposeAsync() => _log.DisposeAsync();
    }
}

/// <summary>
/// Where the guest being saved keeps its RAM and NVDIMM: a private 0700 folder in /dev/shm when it has room, because
/// a guest writing through shared mappings of a disk file boots about twice as slowly (every first touch of a page
/// allocates disk blocks); the files are then copied, holes kept, into the snapshot's folder. Elsewhere (no tmpfs,
/// too little room) the files are made in the snapshot's folder directly. Folders of harness processes that died are
/// removed when the next one is made.
/// </summary>
public sealed class MemoryFolder
{
    private const string Shm = "/dev/shm";
    private const string Prefix = "qhh-snapshot-";
    private static readonly long RoomNeeded = 2L << 30;
    private readonly bool _inShm;

    private MemoryFolder(string path, bool inShm) => (Path, _inShm) = (path, inShm);

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public static MemoryFolder Create(string fallback, ILogger log)
    {
        if (!Directory.Exists(Shm)) return new MemoryFolder(fallback, false);
        RemoveDead(log);
        try
        {
            if (new DriveInfo(Shm).AvailableFreeSpace < RoomNeeded) return new MemoryFolder(fallback, false);
            var dir = Directory.CreateDirectory(System.IO.Path.Combine(Shm, $"{Prefix}{Environment.ProcessId}-{Guid.NewGuid():N}"),
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return new MemoryFolder(dir.FullName, true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Debug("snapshot: no memory folder in {Shm} ({Message}): using the cache", Shm, e.Message);
            return new MemoryFolder(fallback, false);
        }
    }

    /// <summary>Copies the files into the snapshot (sparse: only what the guest wrote takes room); nothing to do in place.</summary>
    public async Task KeepAsync(string ram, string nvdimm, CancellationToken ct)
    {
        if (!_inShm) return;
        foreach (var (from, to) in new[] { (File("ram"), ram), (File("nvdimm"), nvdimm) })
            await CliWrap.Cli.Wrap("cp").WithArguments(["--sparse=always", "--", from, to]).ExecuteAsync(ct);
    }

    public void Delete()
    {
        if (!_inShm) return;
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }

    private static void RemoveDead(ILogger log)
    {
        foreach (var dir in Directory.EnumerateDirectories(Shm, Prefix + "*"))
        {
            var pid = System.IO.Path.GetFileName(dir)[Prefix.Length..].Split('-')[0];
            if (!int.TryParse(pid, out var id) || Directory.Exists($"/proc/{id}")) continue;
            try { Directory.Delete(dir, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { log.Debug("snapshot: could not remove {Dir}: {Message}", dir, e.Message); }
        }
    }
}
