using System.Diagnostics;
using System.Runtime.CompilerServices;
using QemuHotplugHarness.Scenarios;
using Renci.SshNet;
using Renci.SshNet.Common;
using Serilog;

namespace QemuHotplugHarness.Guest;

/// <summary>Where the guest's sshd listens, the run's private key, and the one host key accepted.</summary>
public sealed record SshEndpoint(int Port, string PrivateKeyPath, string PinnedHostKey);

/// <summary>The result of one command in the guest.</summary>
public sealed record GuestCommandResult(string Command, int? ExitCode, string Stdout, string Stderr, double Seconds, bool TimedOut, string? Signal = null)
{
    /// <summary>No exit status, no signal and no timeout: the SSH connection went away under the command.</summary>
    public bool ConnectionLost => ExitCode is null && !TimedOut && Signal is null;

    /// <summary>The command did not exit 0: an exit code, a signal (a kernel BUG kills its caller), a timeout or a lost connection.</summary>
    public bool Failed => ExitCode != 0;

    /// <summary>How the command ended, for an error line: "exit 1", "killed by SIGSEGV", "timed out", "connection lost".</summary>
    public string Ending => (ExitCode, Signal, TimedOut) switch
    {
        ({ } code, _, _) => $"exit {code}",
        (_, { } signal, _) => $"killed by SIG{signal}",
        (_, _, true) => "timed out",
        _ => "connection lost",
    };
}

/// <summary>
/// SSH to the guest with SSH.NET: the run's fresh key, the image's host key pinned (any other key is refused),
/// connect retries with backoff, a timeout on every command.
/// </summary>
public sealed class SshSession : IDisposable
{
    private readonly SshClient _client;
    private readonly PrivateKeyFile _key;

    private SshSession(SshClient client, PrivateKeyFile key)
    {
        _client = client;
        _key = key;
    }

    /// <summary>One connection attempt (TCP, banner, key exchange, auth); ConnectAsync retries within its own bound.</summary>
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(10);

    public static async Task<SshSession> ConnectAsync(SshEndpoint endpoint, TimeSpan timeout, ILogger log, CancellationToken ct)
    {
        var deadline = Deadline.In(timeout);
        var delay = TimeSpan.FromMilliseconds(200);
        for (var attempt = 1; ; attempt++)
        {
            var (client, key, mismatch) = NewClient(endpoint);
            try
            {
                await client.ConnectAsync(ct);
                log.Debug("ssh: connected on attempt {Attempt}", attempt);
                return new SshSession(client, key);
            }
            catch (Exception e) when (e is SshException or System.Net.Sockets.SocketException or SshConnectionException or ProxyException or IOException)
            {
                client.Dispose();
                key.Dispose();
                if (mismatch.Value) throw new GuestNotReadyException(NotReadyReason.HostKeyMismatch, "ssh: the guest's host key is not the one pinned from the image: refusing to connect");
                if (deadline.Remaining < delay)
                    throw new GuestNotReadyException(NotReadyReason.SshUnavailable, $"ssh: no connection to 127.0.0.1:{endpoint.Port} within {timeout.TotalSeconds:F0} s: {e.Message}");
                await Task.Delay(delay, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
        }
    }

    /// <summary>A client that trusts only the pinned host key; <c>Mismatch</c> says afterwards whether another key was offered.</summary>
    private static (SshClient Client, PrivateKeyFile Key, StrongBox<bool> Mismatch) NewClient(SshEndpoint endpoint)
    {
        var expected = Convert.FromBase64String(endpoint.PinnedHostKey.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        var key = new PrivateKeyFile(endpoint.PrivateKeyPath);
        var info = new ConnectionInfo("127.0.0.1", endpoint.Port, "root", new PrivateKeyAuthenticationMethod("root", key)) { Timeout = AttemptTimeout };
        var client = new SshClient(info);
        var mismatch = new StrongBox<bool>();
        client.HostKeyReceived += (_, e) =>
        {
            e.CanTrust = e.HostKey.AsSpan().SequenceEqual(expected);
            mismatch.Value = !e.CanTrust;
        };
        return (client, key, mismatch);
    }

    /// <summary>Runs an argument array (each argument single-quoted for the guest's shell) with a timeout.</summary>
    public Task<GuestCommandResult> RunAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken ct) =>
        RunShellAsync(string.Join(' ', argv.Select(Quote)), timeout, ct);

    public async Task<GuestCommandResult> RunShellAsync(string command, TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var watch = Stopwatch.StartNew();
        SshCommand? cmd = null;
        try
        {
            cmd = _client.CreateCommand(command);
            await cmd.ExecuteAsync(cts.Token);
            // A command the kernel killed (a BUG in its system call) ends with an exit-signal, not an exit status.
            return new GuestCommandResult(command, cmd.ExitStatus, cmd.Result, cmd.Error, watch.Elapsed.TotalSeconds, false, cmd.ExitSignal);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new GuestCommandResult(command, null, cmd is null ? "" : SafeResult(cmd), "", watch.Elapsed.TotalSeconds, true);
        }
        catch (Exception e) when (e is SshException or System.Net.Sockets.SocketException or IOException or ObjectDisposedException)
        {
            // The guest's sshd or the QEMU under it went away: a result that says so, not an exception mid-workload.
            return new GuestCommandResult(command, null, "", "ssh connection lost: " + e.Message, watch.Elapsed.TotalSeconds, false);
        }
        finally
        {
            cmd?.Dispose();
        }
    }

    private static string SafeResult(SshCommand cmd)
    {
        try { return cmd.Result; } catch (Exception) { return ""; }
    }

    public static string Quote(string a) => "'" + a.Replace("'", "'\\''") + "'";

    public void Dispose()
    {
        try { _client.Disconnect(); } catch (Exception) { }
        _client.Dispose();
        _key.Dispose();
    }
}
