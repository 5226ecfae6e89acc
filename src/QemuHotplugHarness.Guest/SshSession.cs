using System.Diagnostics;
using QemuHotplugHarness.Scenarios;
using Renci.SshNet;
using Renci.SshNet.Common;
using Serilog;

namespace QemuHotplugHarness.Guest;

/// <summary>The result of one command in the guest.</summary>
public sealed record GuestCommandResult(string Command, int? ExitCode, string Stdout, string Stderr, double Seconds, bool TimedOut);

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

    public static async Task<SshSession> ConnectAsync(int port, string privateKeyPath, string pinnedHostKeyLine, TimeSpan timeout, ILogger log, CancellationToken ct)
    {
        var expected = Convert.FromBase64String(pinnedHostKeyLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        var deadline = DateTime.UtcNow + timeout;
        var delay = TimeSpan.FromMilliseconds(200);
        for (var attempt = 1; ; attempt++)
        {
            var key = new PrivateKeyFile(privateKeyPath);
            var info = new ConnectionInfo("127.0.0.1", port, "root", new PrivateKeyAuthenticationMethod("root", key)) { Timeout = TimeSpan.FromSeconds(10) };
            var client = new SshClient(info);
            var mismatch = false;
            client.HostKeyReceived += (_, e) =>
            {
                e.CanTrust = e.HostKey.AsSpan().SequenceEqual(expected);
                mismatch = !e.CanTrust;
            };
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
                if (mismatch) throw new InfrastructureException("ssh: the guest's host key is not the one pinned from the image: refusing to connect");
                if (DateTime.UtcNow + delay > deadline) throw new InfrastructureException($"ssh: no connection to 127.0.0.1:{port} within {timeout.TotalSeconds:F0} s: {e.Message}");
                await Task.Delay(delay, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
        }
    }

    /// <summary>Runs an argument array (each argument single-quoted for the guest's shell) with a timeout.</summary>
    public Task<GuestCommandResult> RunAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken ct) =>
        RunShellAsync(string.Join(' ', argv.Select(Quote)), timeout, ct);

    public async Task<GuestCommandResult> RunShellAsync(string command, TimeSpan timeout, CancellationToken ct)
    {
        using var cmd = _client.CreateCommand(command);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var watch = Stopwatch.StartNew();
        try
        {
            await cmd.ExecuteAsync(cts.Token);
            return new GuestCommandResult(command, cmd.ExitStatus, cmd.Result, cmd.Error, watch.Elapsed.TotalSeconds, false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new GuestCommandResult(command, null, SafeResult(cmd), "", watch.Elapsed.TotalSeconds, true);
        }
        catch (SshConnectionException e)
        {
            return new GuestCommandResult(command, null, "", "ssh connection lost: " + e.Message, watch.Elapsed.TotalSeconds, false);
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
