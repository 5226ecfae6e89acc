using System.Text.Json;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Simulator;

/// <summary>Reads a case's host steps (QMP commands, waits, memory-block steps) into <see cref="CaseStep"/>s; one it does not know is outside the model.</summary>
public static class HostSteps
{
    public static CaseStep? Parse(HostStep host, string text) => host.Kind switch
    {
        HostStepKind.Qmp => Qmp(host, text),
        HostStepKind.WaitEvent when host.Event == QmpEvent.DeviceDeleted && host.Device is { } id =>
            new CaseStep(StepKind.WaitDeviceDeleted, text) { Id = id },
        HostStepKind.WaitQom when host.Property == "size" && host.Path is { } id && ulong.TryParse(host.Value, out var size) =>
            new CaseStep(StepKind.WaitPluggedSize, text) { Id = id, Value = size },
        HostStepKind.MemoryBlocks when host.Expect is { } state =>
            new CaseStep(StepKind.ExpectBlocks, text) { Id = host.Device, State = state },
        HostStepKind.MemoryBlocks when host.Set is { } state && state != MemoryBlockState.Offline =>
            new CaseStep(StepKind.SetBlocks, text) { Id = host.Device, State = state },
        _ => null,
    };

    private static CaseStep? Qmp(HostStep host, string text)
    {
        using var doc = JsonDocument.Parse(host.Arguments ?? "{}");
        var args = doc.RootElement;
        var id = String(args, "id");
        return host.Command switch
        {
            QmpCommand.ObjectAdd when String(args, "qom-type") == "memory-backend-ram" && Number(args, "size") is { } size =>
                new CaseStep(StepKind.AddBackend, text) { Id = id, Value = size },
            QmpCommand.ObjectDel => new CaseStep(StepKind.DeleteBackend, text) { Id = id },
            QmpCommand.DeviceAdd when String(args, "driver") == "pc-dimm" && Known(args, "driver", "id", "memdev", "addr") =>
                new CaseStep(StepKind.AddDimm, text) { Id = id, Backend = String(args, "memdev"), Address = Number(args, "addr") },
            QmpCommand.DeviceDel => new CaseStep(StepKind.DeleteDevice, text) { Id = id },
            QmpCommand.QomSet when String(args, "property") == "requested-size" && Number(args, "value") is { } value =>
                new CaseStep(StepKind.ResizeVirtioMem, text) { Id = String(args, "path"), Value = value },
            _ => null,
        };
    }

    /// <summary>Every argument is one the model reads (a pc-dimm's node or a backend's policy would change what it predicts).</summary>
    private static bool Known(JsonElement args, params string[] names) => args.EnumerateObject().All(p => names.Contains(p.Name));

    private static string? String(JsonElement args, string name) =>
        args.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>A number (QMP takes sizes and addresses as numbers only).</summary>
    private static ulong? Number(JsonElement args, string name) =>
        args.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetUInt64(out var n) ? n : null;
}
