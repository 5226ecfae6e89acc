using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Guest;

/// <summary>
/// One running guest and the one owner of everything it needs: the private 0700 folder (run key, QMP and key-port
/// sockets, run initrd), the QEMU process, the QMP, key-port and SSH sessions. Disposing it tears all of them down.
/// A guest is booted cold (<see cref="StartAsync"/>) or restored from a snapshot (<see cref="RestoreAsync"/>); either
/// way the run's key reaches it only through its key port, after the boot or the restore.
/// </summary>
public sealed class QemuGuest : IAsyncDisposable, IGuestShell, IGuestConsole, IGuestHost
{
    private static readonly JsonObject IgnoreShared = new()
    {
        ["capabilities"] = new JsonArray(new JsonObject { ["capability"] = "x-ignore-shared", ["state"] = true }),
    };
    private readonly DirectoryInfo _private;
    private readonly ILogger _log;
    private QmpClient? _qmp;
    private KeyPort? _keys;
    private SshSession? _ssh;

    private QemuGuest(GuestConfiguration config, DirectoryInfo privateDir, int sshPort, QemuProcess qemu, GuestSnapshot? restoredFrom, ILogger log)
    {
        Configuration = config;
        _private = privateDir;
        SshPort = sshPort;
        Qemu = qemu;
        RestoredFrom = restoredFrom;
        _log = log;
    }

    /// <summary>The snapshot this guest was restored from; null for a cold boot.</summary>
    public GuestSnapshot? RestoredFrom { get; }
    public GuestConfiguration Configuration { get; }
    public int SshPort { get; }
    public QemuProcess Qemu { get; }
    public string CommandLine => QemuArguments.Render(Qemu.Binary, Qemu.Arguments);
    /// <summary>QEMU start to the ready marker on the console.</summary>
    public TimeSpan? MarkerTime => Qemu.MarkerTime(Configuration.ReadyMarker);
    /// <summary>QEMU start to every readiness condition met (SSH connected).</summary>
    public TimeSpan? ReadyTime { get; private set; }
    public IReadOnlyList<OopsReport> Oopses => Qemu.Oopses;
    private string KeyPath => Path.Combine(_private.FullName, "id_ed25519");
    private string QmpSocket => Path.Combine(_private.FullName, "qmp.sock");
    private string KeySocket => Path.Combine(_private.FullName, "keys.sock");
    private string MigrationSocket => Path.Combine(_private.FullName, "migration.sock");

    /// <summary>Makes the private folder and the run's key, writes the run initrd, starts QEMU (a cold boot).</summary>
    public static Task<QemuGuest> StartAsync(GuestConfiguration config, ILogger log, CancellationToken ct) => LaunchAsync(config, null, log, ct);

    /// <summary>
    /// Starts QEMU on the snapshot's memory files (private copy-on-write mappings: the snapshot is never written)
    /// and loads its saved state; the guest runs on from where it was saved, with a new SSH forward and no key
    /// until <see cref="WaitReadyAsync(CancellationToken)"/> delivers this run's.
    /// </summary>
    public static async Task<QemuGuest> RestoreAsync(GuestConfiguration config, GuestSnapshot snapshot, ILogger log, CancellationToken ct)
    {
        var guest = await LaunchAsync(config, snapshot, log, ct);
        try
        {
            await guest.LoadStateAsync(snapshot, ct);
            return guest;
        }
        catch
        {
            await guest.DisposeAsync();
            throw;
        }
    }

    private static async Task<QemuGuest> LaunchAsync(GuestConfiguration config, GuestSnapshot? snapshot, ILogger log, CancellationToken ct)
    {
        var priv = Directory.CreateTempSubdirectory("qhh-guest-"); // short: unix socket paths are limited
        File.SetUnixFileMode(priv.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var key = Path.Combine(priv.FullName, "id_ed25519");
            await MakeKeyAsync(key, config.Timeouts.Keygen, ct);
            var initrd = Path.Combine(priv.FullName, "initrd");
            config.WriteInitrd(initrd);
            var port = config.SshPort is { } wanted ? RequireFreePort(wanted) : FreePort();
            if (config.SshPort is null) FreePortChosen?.Invoke(port);
            var memory = snapshot is null ? config.MemoryFiles : new GuestMemoryFiles(snapshot.Ram, snapshot.Nvdimm, Shared: false);
            var args = config.Arguments(new GuestWiring(initrd, port, Path.Combine(priv.FullName, "qmp.sock"), Path.Combine(priv.FullName, "keys.sock"),
                memory, Incoming: snapshot is not null));
            var qemu = new QemuProcess(config.QemuBinary, args, config.ConsoleLog, config.Timeouts.Teardown, log);
            if (snapshot is not null && File.Exists(snapshot.Console)) // a restored guest's console.log starts with the boot it continues
                qemu.Note(await File.ReadAllTextAsync(snapshot.Console, ct) + $"--- QHH: saved as snapshot {snapshot.Key}; restored here ---\n");
            qemu.Start();
            return new QemuGuest(config, priv, port, qemu, snapshot, log);
        }
        catch
        {
            priv.Delete(recursive: true);
            throw;
        }
    }

    /// <summary>
    /// A free port was found for the guest's sshd; QEMU binds it only when it starts, so another process can take it
    /// in between (then QEMU exits with <see cref="NotReadyReason.HostForwardFailed"/> and the caller tries another).
    /// Tests use this to take the port in that window.
    /// </summary>
    public static event Action<int>? FreePortChosen;

    /// <summary>Waits for the console marker, QMP, the key and SSH, in that order (the default readiness); a restored guest for the key and SSH.</summary>
    public Task WaitReadyAsync(CancellationToken ct) =>
        WaitReadyAsync(RestoredFrom is null ? DefaultReadiness(Configuration) : RestoredReadiness(Configuration), ct);

    public async Task WaitReadyAsync(IReadOnlyList<IWaitStrategy> strategies, CancellationToken ct)
    {
        var phases = new List<string>();
        foreach (var strategy in strategies)
        {
            var before = Qemu.Clock.Elapsed;
            await strategy.UntilReadyAsync(this, ct);
            phases.Add($"{strategy.GetType().Name} {(Qemu.Clock.Elapsed - before).TotalSeconds:F2} s");
        }
        ReadyTime = Qemu.Clock.Elapsed;
        _log.Debug("guest ready: {Phases}", string.Join(", ", phases));
        _log.Information("guest ready in {Seconds:F2} s ({How}, {Accel}); ssh on 127.0.0.1:{Port}", ReadyTime.Value.TotalSeconds,
            RestoredFrom is { } s ? "restored from snapshot " + s.Key : $"cold boot, marker at {MarkerTime?.TotalSeconds:F2} s", Configuration.Accel.Kebab(), SshPort);
    }

    public static IReadOnlyList<IWaitStrategy> DefaultReadiness(GuestConfiguration c) =>
        [new ConsoleMarkerWait(c.ReadyMarker, c.Timeouts.Boot), new QmpWait(c.Timeouts.Qmp), new KeyDeliveryWait(c.Timeouts.Key), new SshWait(c.Timeouts.Ssh)];

    /// <summary>A restored guest printed its marker before it was saved, and its QMP is connected by the restore.</summary>
    public static IReadOnlyList<IWaitStrategy> RestoredReadiness(GuestConfiguration c) =>
        [new KeyDeliveryWait(c.Timeouts.Key), new SshWait(c.Timeouts.Ssh)];

    /// <summary>Sends the run's public key on the key port until the guest says it took it.</summary>
    internal async Task DeliverKeyAsync(TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Deadline.In(timeout);
        try
        {
            _keys ??= await KeyPort.ConnectAsync(KeySocket, deadline, ct);
            await _keys.DeliverAsync(await File.ReadAllTextAsync(KeyPath + ".pub", ct), deadline, ct);
        }
        catch (Exception e) when (e is InfrastructureException or TimeoutException or IOException or SocketException)
        {
            if (Qemu.HasExited) throw await ExitedAsync();
            throw new GuestNotReadyException(NotReadyReason.KeyNotDelivered, $"the guest did not take the run's key on its key port within {timeout.TotalSeconds:F0} s: {e.Message}");
        }
    }

    /// <summary>
    /// Saves this guest (started with shared <see cref="GuestConfiguration.MemoryFiles"/>) as a snapshot: closes SSH,
    /// empties its authorized keys (no key is ever saved), stops it and writes its device state to
    /// <paramref name="stateFile"/>; RAM and NVDIMM stay in their files (x-ignore-shared). The guest stays stopped:
    /// dispose it next (its memory files are the snapshot's).
    /// </summary>
    public async Task SaveAsync(string stateFile, CancellationToken ct)
    {
        var qmp = _qmp ?? throw new InvalidOperationException("QMP is not connected: wait for the guest first");
        if (Configuration.MemoryFiles is not { Shared: true }) throw new InvalidOperationException("only a guest on shared memory files can be saved");
        var deadline = Deadline.In(Configuration.Timeouts.Snapshot);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(Configuration.Timeouts.Snapshot);
        _ssh?.Dispose();
        _ssh = null;
        _keys ??= await KeyPort.ConnectAsync(KeySocket, deadline, bound.Token);
        await _keys.ClearAsync(deadline, bound.Token);
        await qmp.ExecuteAsync("stop", null, bound.Token);
        await qmp.ExecuteAsync("migrate-set-capabilities", IgnoreShared.DeepClone().AsObject(), bound.Token);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(MigrationSocket));
        listener.Listen(1);
        await qmp.ExecuteAsync("migrate", new JsonObject { ["uri"] = "unix:" + MigrationSocket }, bound.Token);
        using (var stream = await listener.AcceptAsync(bound.Token))
        await using (var file = File.Create(stateFile))
            await new NetworkStream(stream, ownsSocket: false).CopyToAsync(file, bound.Token);
        await WaitForMigrationAsync(qmp, "completed", deadline, bound.Token);
    }

    /// <summary>migrate-incoming on a unix socket in the private folder, the state file streamed in; QEMU then runs the guest on.</summary>
    private async Task LoadStateAsync(GuestSnapshot snapshot, CancellationToken ct)
    {
        var deadline = Deadline.In(Configuration.Timeouts.Snapshot);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(Configuration.Timeouts.Snapshot);
        try
        {
            await ConnectQmpAsync(Configuration.Timeouts.Qmp, bound.Token);
            var qmp = _qmp!;
            await qmp.ExecuteAsync("migrate-set-capabilities", IgnoreShared.DeepClone().AsObject(), bound.Token);
            await qmp.ExecuteAsync("migrate-incoming", new JsonObject { ["uri"] = "unix:" + MigrationSocket }, bound.Token);
            using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(MigrationSocket), bound.Token);
                await using (var file = File.OpenRead(snapshot.State))
                await using (var stream = new NetworkStream(socket, ownsSocket: false))
                    await file.CopyToAsync(stream, bound.Token);
                socket.Shutdown(SocketShutdown.Send);
            }
            await WaitForRunningAsync(qmp, deadline, bound.Token);
        }
        catch (Exception e) when (e is InfrastructureException or IOException or SocketException or GuestNotReadyException
                                      or OperationCanceledException && !ct.IsCancellationRequested)
        {
            if (Qemu.HasExited) await Qemu.WaitForExitAsync(Configuration.Timeouts.Teardown);
            var why = Qemu.HasExited ? Qemu.LastError() : e.Message;
            throw new GuestNotReadyException(NotReadyReason.RestoreFailed, $"snapshot {snapshot.Key} could not be restored: {why}");
        }
    }

    private async Task WaitForMigrationAsync(QmpClient qmp, string wanted, Deadline deadline, CancellationToken ct)
    {
        while (true)
        {
            var info = await qmp.ExecuteAsync("query-migrate", null, ct);
            var status = info?["status"]?.GetValue<string>();
            if (status == wanted) return;
            if (status is "failed" or "cancelled")
                throw new InfrastructureException($"migration {status}: {info?["error-desc"]?.GetValue<string>() ?? "no reason given"}");
            if (deadline.Expired || Qemu.HasExited) throw new InfrastructureException($"migration did not reach '{wanted}' (last status '{status}')");
            await Task.Delay(20, ct);
        }
    }

    /// <summary>"inmigrate" while the state loads, then "paused" (the guest was stopped when saved): cont runs it on.</summary>
    private async Task WaitForRunningAsync(QmpClient qmp, Deadline deadline, CancellationToken ct)
    {
        while (true)
        {
            var status = (await qmp.ExecuteAsync("query-status", null, ct))?["status"]?.GetValue<string>();
            if (status == "running") return;
            if (status == "paused")
            {
                await qmp.ExecuteAsync("cont", null, ct);
                continue;
            }
            if (deadline.Expired || Qemu.HasExited) throw new InfrastructureException($"the restored guest did not run (status '{status}')");
            await Task.Delay(20, ct);
        }
    }

    internal async Task ConnectQmpAsync(TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            _qmp ??= await QmpClient.ConnectAsync(QmpSocket, timeout, ct);
        }
        catch (Exception e) when (e is InfrastructureException or SocketException or IOException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            throw new GuestNotReadyException(NotReadyReason.QmpUnavailable, $"QMP did not answer within {timeout.TotalSeconds:F0} s: {e.Message}");
        }
    }

    internal async Task ConnectSshAsync(TimeSpan timeout, CancellationToken ct) =>
        _ssh ??= await SshSession.ConnectAsync(new SshEndpoint(SshPort, KeyPath, Configuration.PinnedHostKey), timeout, _log, ct);

    /// <summary>The exception for a QEMU that exited early: a refused machine, or a port it could not bind.</summary>
    internal async Task<GuestNotReadyException> ExitedAsync()
    {
        await Qemu.WaitForExitAsync(Configuration.Timeouts.Teardown);
        var message = Qemu.LastError();
        return Qemu.Stderr.Contains("host forwarding", StringComparison.OrdinalIgnoreCase)
            ? new GuestNotReadyException(NotReadyReason.HostForwardFailed, $"qemu could not forward 127.0.0.1:{SshPort} to the guest's sshd: {message}")
            : new GuestNotReadyException(NotReadyReason.QemuExited, message);
    }

    /// <summary>QMP query-memory-devices: where QEMU put each NVDIMM/DIMM.</summary>
    public async Task<IReadOnlyList<MemoryDevice>> MemoryDevicesAsync(CancellationToken ct)
    {
        var qmp = _qmp ?? throw new InvalidOperationException("QMP is not connected: wait for the guest first");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Configuration.Timeouts.Qmp);
        return await qmp.MemoryDevicesAsync(timeout.Token);
    }

    public Task<GuestCommandResult> RunAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken ct) => Ssh.RunAsync(argv, timeout, ct);

    /// <summary>A case's QMP command (device_add, qom-set, …); QEMU's refusal is the answer, not a fault.</summary>
    public Task<QmpReply> QmpAsync(string command, JsonObject? arguments, CancellationToken ct) => Qmp.TryExecuteAsync(command, arguments, ct);

    public Task<JsonObject> WaitEventAsync(string name, string? device, CancellationToken ct) => Qmp.WaitEventAsync(name, device, ct);

    private QmpClient Qmp => _qmp ?? throw new InvalidOperationException("QMP is not connected: wait for the guest first");

    public Task<GuestCommandResult> RunShellAsync(string command, TimeSpan timeout, CancellationToken ct) => Ssh.RunShellAsync(command, timeout, ct);

    /// <summary>An oops still being printed gets a moment to finish, so the report is whole; then it is cut.</summary>
    public async Task SettleAsync(CancellationToken ct)
    {
        await Poll.UntilAsync(() => !Qemu.OopsInProgress, Deadline.In(Configuration.Timeouts.OopsSettle), TimeSpan.FromMilliseconds(100), ct);
        if (Qemu.OopsInProgress) Qemu.FlushDetector();
    }

    public int Lines => Qemu.ConsoleLines;

    /// <summary>Waits until the console shows an oops, QEMU has gone (its console read to the end), or the window passed; then settles.</summary>
    public async Task AwaitWitnessAsync(CancellationToken ct)
    {
        var window = Deadline.In(Configuration.Timeouts.OopsWitness);
        await Poll.UntilAsync(() => Qemu.Oopses.Count > 0 || Qemu.HasExited, window, TimeSpan.FromMilliseconds(100), ct);
        await SettleAsync(ct);
    }

    private SshSession Ssh => _ssh ?? throw new InvalidOperationException("SSH is not connected: wait for the guest first");

    public async ValueTask DisposeAsync()
    {
        _ssh?.Dispose();
        if (_keys is not null) await _keys.DisposeAsync();
        if (_qmp is not null) await QuitAsync(_qmp);
        await Qemu.DisposeAsync();
        try { _private.Delete(recursive: true); } catch (IOException) { }
    }

    /// <summary>QMP quit: QEMU exits cleanly; QemuProcess's SIGINT/SIGKILL follow only if it does not.</summary>
    private async Task QuitAsync(QmpClient qmp)
    {
        using var timeout = new CancellationTokenSource(Configuration.Timeouts.Teardown);
        // InvalidOperationException: a host step's wait was cut off mid-read (an oops, its timeout) and left the reader unusable.
        try { await qmp.ExecuteAsync("quit", null, timeout.Token); }
        catch (Exception e) when (e is InfrastructureException or IOException or SocketException or OperationCanceledException or InvalidOperationException) { }
        await qmp.DisposeAsync();
    }

    private static async Task MakeKeyAsync(string path, TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var keygen = await Cli.Wrap("ssh-keygen").WithArguments(["-q", "-t", "ed25519", "-N", "", "-C", "qhh-run", "-f", path])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cts.Token);
        if (keygen.ExitCode != 0) throw new InfrastructureException("ssh-keygen failed: " + keygen.StandardError.Trim());
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static int RequireFreePort(int port)
    {
        try
        {
            using var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            return port;
        }
        catch (SocketException)
        {
            throw new BadInputException(InputKind.SshPort, port.ToString(CultureInfo.InvariantCulture), "port is busy on 127.0.0.1");
        }
    }
}

/// <summary>One memory device as QMP reports it.</summary>
public sealed record MemoryDevice(string Id, ulong Address, ulong Size);

/// <summary>Run a command in the guest (the seam the workload runs against; SSH on a real guest).</summary>
public interface IGuestShell
{
    Task<GuestCommandResult> RunAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken ct);
    Task<GuestCommandResult> RunShellAsync(string command, TimeSpan timeout, CancellationToken ct);
}

/// <summary>What the guest's console showed: the oopses found so far (the seam's other half).</summary>
public interface IGuestConsole
{
    IReadOnlyList<OopsReport> Oopses { get; }
    /// <summary>Console lines seen so far (an oops's <see cref="OopsReport.StartLine"/> is on this scale).</summary>
    int Lines { get; }
    /// <summary>Returns once no oops report is half-printed (or after a bound, cutting it).</summary>
    Task SettleAsync(CancellationToken ct);
    /// <summary>
    /// After a step that did not exit 0: returns once the console shows an oops, the guest is gone, or a bounded
    /// window passed, then settles. The console is the first witness; the shell's word comes after it.
    /// </summary>
    Task AwaitWitnessAsync(CancellationToken ct);
}
