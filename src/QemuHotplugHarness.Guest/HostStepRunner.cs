using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Guest;

/// <summary>The host side of a guest: QMP commands and events, and where QEMU put each memory device.</summary>
public interface IGuestHost
{
    Task<QmpReply> QmpAsync(string command, JsonObject? arguments, CancellationToken ct);
    Task<JsonObject> WaitEventAsync(string name, string? device, CancellationToken ct);
    Task<IReadOnlyList<MemoryDevice>> MemoryDevicesAsync(CancellationToken ct);
}

/// <summary>
/// Runs one <see cref="HostStep"/> within its timeout and says how it ended as a command result (exit 0, exit 1 with
/// the reason on stderr, or timed out), so the workload runner judges it by the same rules as a guest command.
/// </summary>
public sealed class HostStepRunner(IGuestHost host, IGuestShell shell)
{
    private const string MemoryRoot = "/sys/devices/system/memory";

    public async Task<GuestCommandResult> RunAsync(HostStep step, TimeSpan timeout, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var command = string.Join(' ', step.Describe());
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(timeout);
        try
        {
            var (ok, output) = await DoAsync(step, timeout, bounded.Token);
            return new GuestCommandResult(command, ok ? 0 : 1, ok ? output : "", ok ? "" : output, watch.Elapsed.TotalSeconds, false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new GuestCommandResult(command, null, "", $"no answer within {timeout.TotalSeconds:F0} s", watch.Elapsed.TotalSeconds, true);
        }
    }

    private Task<(bool Ok, string Output)> DoAsync(HostStep step, TimeSpan timeout, CancellationToken ct) => step.Kind switch
    {
        HostStepKind.Qmp => QmpAsync(step, ct),
        HostStepKind.WaitEvent => WaitEventAsync(step, ct),
        HostStepKind.WaitQom => WaitQomAsync(step, ct),
        HostStepKind.MemoryBlocks => MemoryBlocksAsync(step, timeout, ct),
        _ => ReadAsync(step, timeout, ct),
    };

    private async Task<(bool, string)> QmpAsync(HostStep step, CancellationToken ct)
    {
        var arguments = step.Arguments is { } a ? JsonNode.Parse(a)?.AsObject() : null;
        var reply = await host.QmpAsync(step.Command!.Value.Name(), arguments, ct);
        return reply.Error is { } error ? (false, error) : (true, reply.Return?.ToJsonString() ?? "");
    }

    private async Task<(bool, string)> WaitEventAsync(HostStep step, CancellationToken ct) =>
        (true, (await host.WaitEventAsync(step.Event!.Value.Name(), step.Device, ct)).ToJsonString());

    /// <summary>qom-get every half second until the value is the one asked for, or (none asked) the same three times running.</summary>
    private async Task<(bool, string)> WaitQomAsync(HostStep step, CancellationToken ct)
    {
        var arguments = new JsonObject { ["path"] = step.Path, ["property"] = step.Property };
        var (last, same) = ((string?)null, 0);
        while (true)
        {
            var reply = await host.QmpAsync("qom-get", (JsonObject)arguments.DeepClone(), ct);
            if (reply.Error is { } error) return (false, error);
            var value = Text(reply.Return);
            if (step.Value is { } wanted ? value == wanted : (same = value == last ? same + 1 : 0) >= 2) return (true, value);
            last = value;
            await Task.Delay(500, ct);
        }
    }

    /// <summary>
    /// Sets the state of every memory block of a device (its range as QMP reports it), or expects one: the guest adds
    /// a hot-plugged device's blocks a moment after QEMU did, so an expectation is read again until it holds or a
    /// second of the step's timeout is left.
    /// </summary>
    private async Task<(bool, string)> MemoryBlocksAsync(HostStep step, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Deadline.In(timeout);
        while (true)
        {
            var (ok, output) = await MemoryBlocksOnceAsync(step, timeout, ct);
            if (ok || step.Set is not null || deadline.Remaining < TimeSpan.FromSeconds(1)) return (ok, output);
            await Task.Delay(500, ct);
        }
    }

    private async Task<(bool, string)> MemoryBlocksOnceAsync(HostStep step, TimeSpan timeout, CancellationToken ct)
    {
        var device = (await host.MemoryDevicesAsync(ct)).FirstOrDefault(d => d.Id == step.Device);
        if (device is null) return (false, $"QEMU has no memory device \"{step.Device}\"");
        var size = await shell.RunShellAsync($"cat {MemoryRoot}/block_size_bytes", timeout, ct);
        if (size.ExitCode != 0 || !ulong.TryParse(size.Stdout.Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var block) || block == 0)
            return (false, $"{MemoryRoot}/block_size_bytes: {size.Stdout.Trim()}{size.Stderr.Trim()}");
        var (first, last) = (device.Address / block, (device.Address + device.Size - 1) / block);
        var action = step.Set is { } s ? $"echo {s.Name()} > $f 2>&1 || echo \"memory$i: could not set {s.Name()}\" >&2; " : "";
        var script = $"for i in $(seq {first} {last}); do f={MemoryRoot}/memory$i/state; [ -e $f ] || continue; {action}echo \"memory$i $(cat $f)\"; done";
        var r = await shell.RunShellAsync(script, timeout, ct);
        var states = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (r.ExitCode != 0 || r.Stderr.Trim().Length > 0) return (false, (r.Stderr.Trim() + " " + string.Join(", ", states)).Trim());
        if (states.Length == 0) return (false, $"no memory block of {step.Device} ({Hex.Format(device.Address)}, blocks {first}-{last}) in {MemoryRoot}");
        var wanted = (step.Set ?? step.Expect)!.Value.Name();
        var wrong = states.Where(line => !line.EndsWith(" " + wanted, StringComparison.Ordinal) &&
                                         !(wanted.StartsWith("online", StringComparison.Ordinal) && step.Set is not null && line.EndsWith(" online", StringComparison.Ordinal))).ToList();
        return wrong.Count == 0 ? (true, string.Join(", ", states)) : (false, $"expected {wanted}: {string.Join(", ", wrong)}");
    }

    /// <summary>A guest file, or a key's value in it ("MemTotal:  4194304 kB", "nr_free_pages 123"), compared with what is expected.</summary>
    private async Task<(bool, string)> ReadAsync(HostStep step, TimeSpan timeout, CancellationToken ct)
    {
        var r = await shell.RunShellAsync($"cat '{step.Path}'", timeout, ct);
        if (r.ExitCode != 0) return (false, $"{step.Path}: {r.Stderr.Trim()} ({r.Ending})");
        var value = step.Key is null ? r.Stdout.Trim() : ValueOf(r.Stdout, step.Key);
        if (value is null) return (false, $"{step.Path} has no {step.Key}");
        var matches = value == step.Value || value.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() == step.Value;
        return matches ? (true, value) : (false, $"{step.Path}{(step.Key is null ? "" : " " + step.Key)} reads \"{value}\", expected \"{step.Value}\"");
    }

    public static string? ValueOf(string text, string key) =>
        text.Split('\n').Select(l => l.Trim()).Select(l => l.Split([' ', '\t', ':'], 2))
            .Where(p => p.Length == 2 && p[0] == key).Select(p => p[1].TrimStart(':', ' ', '\t').Trim()).FirstOrDefault();

    private static string Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : node?.ToJsonString() ?? "null";
}
