using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Guest;

/// <summary>
/// One running guest and the one owner of everything it needs: the private 0700 folder (run key, QMP socket,
/// run initrd), the QEMU process, the QMP and SSH sessions. Disposing it tears all of them down.
/// </summary>
public sealed class QemuGuest : IAsyncDisposable, IGuestShell, IGuestConsole
{
    private readonly DirectoryInfo _private;
    private readonly ILogger _log;
    private QmpClient? _qmp;
    private SshSession? _ssh;

    private QemuGuest(GuestConfiguration config, DirectoryInfo privateDir, int sshPort, QemuProcess qemu, ILogger log)
    {
        Configuration = config;
        _private = privateDir;
        SshPort = sshPort;
        Qemu = qemu;
        _log = log;
    }

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

    /// <summary>Makes the private folder and the run's key, writes the run initrd, starts QEMU.</summary>
    public static async Task<QemuGuest> StartAsync(GuestConfiguration config, ILogger log, CancellationToken ct)
    {
        var priv = Directory.CreateTempSubdirectory("qhh-guest-"); // short: unix socket paths are limited
        File.SetUnixFileMode(priv.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var key = Path.Combine(priv.FullName, "id_ed25519");
            await MakeKeyAsync(key, config.Timeouts.Keygen, ct);
            var initrd = Path.Combine(priv.FullName, "initrd");
            config.WriteInitrd(await File.ReadAllTextAsync(key + ".pub", ct), initrd);
            var port = config.SshPort is { } wanted ? RequireFreePort(wanted) : FreePort();
            if (config.SshPort is null) FreePortChosen?.Invoke(port);
            var args = config.Arguments(initrd, port, Path.Combine(priv.FullName, "qmp.sock"));
            var qemu = new QemuProcess(config.QemuBinary, args, config.ConsoleLog, config.Timeouts.Teardown, log);
            qemu.Start();
            return new QemuGuest(config, priv, port, qemu, log);
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

    /// <summary>Waits for the console marker, QMP and SSH, in that order (the default readiness).</summary>
    public Task WaitReadyAsync(CancellationToken ct) => WaitReadyAsync(DefaultReadiness(Configuration), ct);

    public async Task WaitReadyAsync(IReadOnlyList<IWaitStrategy> strategies, CancellationToken ct)
    {
        foreach (var strategy in strategies) await strategy.UntilReadyAsync(this, ct);
        ReadyTime = Qemu.Clock.Elapsed;
        _log.Information("guest ready in {Seconds:F1} s (marker at {Marker:F1} s, {Accel}); ssh on 127.0.0.1:{Port}",
            ReadyTime.Value.TotalSeconds, MarkerTime?.TotalSeconds, Configuration.Accel.Kebab(), SshPort);
    }

    public static IReadOnlyList<IWaitStrategy> DefaultReadiness(GuestConfiguration c) =>
        [new ConsoleMarkerWait(c.ReadyMarker, c.Timeouts.Boot), new QmpWait(c.Timeouts.Qmp), new SshWait(c.Timeouts.Ssh)];

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

    public Task<GuestCommandResult> RunShellAsync(string command, TimeSpan timeout, CancellationToken ct) => Ssh.RunShellAsync(command, timeout, ct);

    /// <summary>An oops still being printed gets a moment to finish, so the report is whole; then it is cut.</summary>
    public async Task SettleAsync(CancellationToken ct)
    {
        await Poll.UntilAsync(() => !Qemu.OopsInProgress, Deadline.In(Configuration.Timeouts.OopsSettle), TimeSpan.FromMilliseconds(100), ct);
        if (Qemu.OopsInProgress) Qemu.FlushDetector();
    }

    private SshSession Ssh => _ssh ?? throw new InvalidOperationException("SSH is not connected: wait for the guest first");

    public async ValueTask DisposeAsync()
    {
        _ssh?.Dispose();
        if (_qmp is not null) await QuitAsync(_qmp);
        await Qemu.DisposeAsync();
        try { _private.Delete(recursive: true); } catch (IOException) { }
    }

    /// <summary>QMP quit: QEMU exits cleanly; QemuProcess's SIGINT/SIGKILL follow only if it does not.</summary>
    private async Task QuitAsync(QmpClient qmp)
    {
        using var timeout = new CancellationTokenSource(Configuration.Timeouts.Teardown);
        try { await qmp.ExecuteAsync("quit", null, timeout.Token); }
        catch (Exception e) when (e is InfrastructureException or IOException or SocketException or OperationCanceledException) { }
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
    /// <summary>Returns once no oops report is half-printed (or after a bound, cutting it).</summary>
    Task SettleAsync(CancellationToken ct);
}
