using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Guest;

/// <summary>A QMP answer: the command's "return" value, or QEMU's error ("GenericError: …").</summary>
public sealed record QmpReply(JsonNode? Return, string? Error);

/// <summary>A small QMP client over QEMU's unix socket: greeting, qmp_capabilities, then commands (query-memory-devices, quit).</summary>
public sealed class QmpClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly StreamReader _reader;
    private readonly Stream _stream;

    private QmpClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = new StreamReader(_stream, Encoding.UTF8);
    }

    public static async Task<QmpClient> ConnectAsync(string socketPath, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Deadline.In(timeout);
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
                return await HandshakeAsync(new QmpClient(socket), deadline, ct);
            }
            catch (SocketException) when (!deadline.Expired)
            {
                socket.Dispose();
                await Task.Delay(100, ct);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    /// <summary>The greeting, then qmp_capabilities (QMP's command mode), both within what is left of the deadline.</summary>
    private static async Task<QmpClient> HandshakeAsync(QmpClient client, Deadline deadline, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(deadline.Remaining + TimeSpan.FromSeconds(1));
        var greeting = await client.ReadMessageAsync(cts.Token);
        if (greeting["QMP"] is null) throw new InfrastructureException($"QMP: unexpected greeting {greeting.ToJsonString()}");
        await client.ExecuteAsync("qmp_capabilities", null, cts.Token);
        return client;
    }

    private readonly List<JsonObject> _events = [];

    /// <summary>Runs a command and returns its "return" value; events in between are kept for <see cref="WaitEventAsync"/>.</summary>
    public async Task<JsonNode?> ExecuteAsync(string command, JsonObject? arguments, CancellationToken ct)
    {
        var reply = await TryExecuteAsync(command, arguments, ct);
        return reply.Error is { } error ? throw new InfrastructureException($"QMP {command}: {error}") : reply.Return;
    }

    /// <summary>Runs a command; QEMU's refusal (its "error" reply) is an answer, not a fault.</summary>
    public async Task<QmpReply> TryExecuteAsync(string command, JsonObject? arguments, CancellationToken ct)
    {
        var request = new JsonObject { ["execute"] = command };
        if (arguments is not null) request["arguments"] = arguments;
        var bytes = Encoding.UTF8.GetBytes(request.ToJsonString() + "\n");
        await _stream.WriteAsync(bytes, ct);
        while (true)
        {
            var message = await ReadMessageAsync(ct);
            if (message["event"] is not null)
            {
                _events.Add(message);
                continue;
            }
            return message["error"] is { } error ? new QmpReply(null, $"{error["class"]}: {error["desc"]}") : new QmpReply(message["return"], null);
        }
    }

    /// <summary>
    /// The first event named <paramref name="name"/> (whose data.device is <paramref name="device"/>, when given) since
    /// the last one taken: from those seen during commands, else read until it arrives; the caller's token bounds the wait.
    /// </summary>
    public async Task<JsonObject> WaitEventAsync(string name, string? device, CancellationToken ct)
    {
        bool Match(JsonObject m) => m["event"]?.GetValue<string>() == name &&
            (device is null || m["data"]?["device"]?.GetValue<string>() is { } d && (d == device || d.EndsWith("/" + device, StringComparison.Ordinal)));
        while (true)
        {
            var seen = _events.FirstOrDefault(Match);
            if (seen is not null)
            {
                _events.Remove(seen);
                return seen;
            }
            var message = await ReadMessageAsync(ct);
            if (message["event"] is not null) _events.Add(message);
        }
    }

    private async Task<JsonObject> ReadMessageAsync(CancellationToken ct)
    {
        var line = await _reader.ReadLineAsync(ct) ?? throw new InfrastructureException("QMP: QEMU closed the socket");
        return JsonNode.Parse(line)?.AsObject() ?? throw new InfrastructureException("QMP: empty message");
    }

    /// <summary>query-memory-devices: id, address and size of each NVDIMM/DIMM (a virtio-mem device: its region and maximum size).</summary>
    public async Task<IReadOnlyList<MemoryDevice>> MemoryDevicesAsync(CancellationToken ct)
    {
        var result = await ExecuteAsync("query-memory-devices", null, ct) as JsonArray ?? [];
        return result.Select(d => d?["data"]).Where(d => d is not null)
            .Select(d => new MemoryDevice(d!["id"]?.GetValue<string>() ?? "", (d["addr"] ?? d["memaddr"])!.GetValue<ulong>(),
                (d["max-size"] ?? d["size"])!.GetValue<ulong>()))
            .ToList();
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _reader.Dispose();
        _socket.Dispose();
    }
}
