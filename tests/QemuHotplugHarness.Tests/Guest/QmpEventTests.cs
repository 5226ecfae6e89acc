using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using QemuHotplugHarness.Guest;

namespace QemuHotplugHarness.Tests.Guest;

/// <summary>QmpClient against a scripted QMP server on a unix socket: events that arrive during a command are kept for a later wait.</summary>
public class QmpEventTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("qhh-qmp-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>Greets, answers qmp_capabilities, then answers each command with the lines scripted for it.</summary>
    private async Task ServeAsync(Socket listener, IReadOnlyList<string[]> answers)
    {
        using var peer = await listener.AcceptAsync();
        await using var stream = new NetworkStream(peer, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        async Task Send(string line) => await stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"));
        await Send("""{"QMP": {"version": {}, "capabilities": []}}""");
        await reader.ReadLineAsync();
        await Send("""{"return": {}}""");
        foreach (var lines in answers)
        {
            if (await reader.ReadLineAsync() is null) return;
            foreach (var line in lines) await Send(line);
        }
        await reader.ReadLineAsync();
    }

    [Test]
    public async Task An_event_during_a_command_is_kept_for_the_wait_and_an_error_is_an_answer()
    {
        var path = Path.Combine(_dir, "qmp.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        var server = ServeAsync(listener,
        [
            ["""{"event": "ACPI_DEVICE_OST", "data": {"info": {}}}""", """{"event": "DEVICE_DELETED", "data": {"device": "dimm1", "path": "/machine/peripheral/dimm1"}}""", """{"return": {}}"""],
            ["""{"error": {"class": "GenericError", "desc": "Device 'dimm9' not found"}}"""],
        ]);
        await using var qmp = await QmpClient.ConnectAsync(path, TimeSpan.FromSeconds(5), CancellationToken.None);
        var reply = await qmp.TryExecuteAsync("device_del", new JsonObject { ["id"] = "dimm1" }, CancellationToken.None);
        Assert.That(reply.Error, Is.Null);
        var refused = await qmp.TryExecuteAsync("device_del", new JsonObject { ["id"] = "dimm9" }, CancellationToken.None);
        Assert.That(refused.Error, Is.EqualTo("GenericError: Device 'dimm9' not found"));
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var deleted = await qmp.WaitEventAsync("DEVICE_DELETED", "dimm1", bound.Token);
        Assert.That(deleted["data"]?["device"]?.GetValue<string>(), Is.EqualTo("dimm1"));
        using var shortly = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        Assert.That(async () => await qmp.WaitEventAsync("DEVICE_DELETED", "dimm1", shortly.Token), Throws.InstanceOf<OperationCanceledException>(),
            "an event is taken once");
        await qmp.DisposeAsync();
        await server;
    }
}
