using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Guest;

/// <summary>
/// The harness's end of the guest's key port: the guest's ttyS1, on a unix socket in the run's private 0700 folder,
/// so only the harness can reach it. The guest's init answers each request with its nonce:
/// <c>KEY nonce ssh-ed25519 AAAA…</c> → <c>QHH-KEY nonce</c> (authorized_keys is replaced by this one key),
/// <c>CLEAR nonce</c> → <c>QHH-CLEARED nonce</c> (authorized_keys emptied, before a snapshot is saved).
/// A request is sent again until answered: the guest may not be reading the port yet (opening it resets the UART).
/// </summary>
public sealed class KeyPort : IAsyncDisposable
{
    private static readonly TimeSpan Resend = TimeSpan.FromMilliseconds(500);
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;

    private KeyPort(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = Task.Run(ReadLinesAsync);
    }

    public static async Task<KeyPort> ConnectAsync(string socketPath, Deadline deadline, CancellationToken ct)
    {
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
                return new KeyPort(socket);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                if (deadline.Expired) throw new InfrastructureException($"key port {socketPath}: {e.Message}");
                await Task.Delay(50, ct);
            }
        }
    }

    /// <summary>Makes <paramref name="publicKeyLine"/> the guest's only authorized key.</summary>
    public Task DeliverAsync(string publicKeyLine, Deadline deadline, CancellationToken ct)
    {
        var parts = publicKeyLine.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2 || parts[0] != "ssh-ed25519") throw new ArgumentException("not an ssh-ed25519 public key line", nameof(publicKeyLine));
        return RequestAsync("KEY", parts[0] + " " + parts[1], "QHH-KEY", deadline, ct);
    }

    /// <summary>Empties the guest's authorized keys: no key works until the next <see cref="DeliverAsync"/>.</summary>
    public Task ClearAsync(Deadline deadline, CancellationToken ct) => RequestAsync("CLEAR", "", "QHH-CLEARED", deadline, ct);

    private async Task RequestAsync(string verb, string payload, string answer, Deadline deadline, CancellationToken ct)
    {
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var request = Encoding.ASCII.GetBytes($"{verb} {nonce} {payload}".TrimEnd() + "\n");
        while (true)
        {
            await _stream.WriteAsync(request, ct);
            if (await AnsweredAsync(answer + " " + nonce, deadline, ct)) return;
            if (deadline.Expired) throw new TimeoutException($"key port: the guest did not answer {verb} in time");
        }
    }

    /// <summary>True when the answer arrives within <see cref="Resend"/> (or what is left of the deadline).</summary>
    private async Task<bool> AnsweredAsync(string expected, Deadline deadline, CancellationToken ct)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(Resend < deadline.Remaining ? Resend : deadline.Remaining);
        try
        {
            while (true)
                if ((await _lines.Reader.ReadAsync(wait.Token)).Trim() == expected) return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
        catch (ChannelClosedException)
        {
            throw new InfrastructureException("key port: QEMU closed it");
        }
    }

    private async Task ReadLinesAsync()
    {
        try
        {
            using var reader = new StreamReader(_stream, Encoding.ASCII, false, 1024, leaveOpen: true);
            while (await reader.ReadLineAsync(_stop.Token) is { } line) await _lines.Writer.WriteAsync(line, _stop.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException) { }
        finally
        {
            _lines.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
        await _stream.DisposeAsync();
        _socket.Dispose();
        try { await _reader; } catch (Exception e) when (e is IOException or ObjectDisposedException) { }
        _stop.Dispose();
    }
}
