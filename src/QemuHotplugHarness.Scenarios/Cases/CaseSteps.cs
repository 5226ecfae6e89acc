using System.Text.Json;

namespace QemuHotplugHarness.Scenarios.Cases;

/// <summary>
/// Reads one workload step of a case: an argument array run in the guest, or an object the harness runs itself —
/// <c>{"qmp": "device_add", "arguments": {…}}</c>, <c>{"waitEvent": "DEVICE_DELETED", "timeout": "30s"}</c>,
/// <c>{"waitQom": "vm0", "property": "size", "equals": 136314880, "timeout": "60s"}</c>,
/// <c>{"memoryBlocks": "dimm1", "set": "offline"}</c>, <c>{"read": "/proc/meminfo", "key": "MemTotal", "expect": "…"}</c>.
/// Then checks that every step names a device that exists by then.
/// </summary>
internal static class CaseSteps
{
    private static readonly string[] Kinds = ["qmp", "waitEvent", "waitQom", "memoryBlocks", "read"];

    /// <summary>The step's argument array (a host step's rendering) and its host step (null for a guest command); null after a problem.</summary>
    public static (IReadOnlyList<string> Argv, HostStep? Host)? Read(JsonElement e, string path, CaseReader r)
    {
        if (e.ValueKind == JsonValueKind.Array)
        {
            var argv = r.Strings(e, path);
            if (argv is { Count: 0 }) r.Problem(path, "an empty command");
            return argv is { Count: > 0 } ? (argv, null) : null;
        }
        if (e.ValueKind != JsonValueKind.Object)
        {
            r.Problem(path, $"a step is a command ([\"cat\", \"...\"]) or an object ({string.Join(", ", Kinds)}), not {CaseReader.Kind(e)}");
            return null;
        }
        var kinds = Kinds.Where(k => e.TryGetProperty(k, out _)).ToList();
        if (kinds.Count != 1)
        {
            r.Problem(path, kinds.Count == 0 ? $"a step object needs one of {string.Join(", ", Kinds)}" : $"one step at a time: {string.Join(" and ", kinds)}");
            return null;
        }
        var host = kinds[0] switch
        {
            "qmp" => Qmp(e, path, r),
            "waitEvent" => WaitEvent(e, path, r),
            "waitQom" => WaitQom(e, path, r),
            "memoryBlocks" => MemoryBlocks(e, path, r),
            _ => ReadFile(e, path, r),
        };
        return host is null ? null : (host.Describe(), host);
    }

    private static HostStep? Qmp(JsonElement e, string path, CaseReader r)
    {
        if (!r.Object(e, path, "qmp", "arguments", "timeout")) return null;
        var name = r.String(e, path, "qmp", required: true);
        var timeout = CaseDevices.Duration(e, path, r, required: false);
        QmpCommand command = default;
        if (name is not null && !HostVocabulary.TryParse<QmpCommand>(name, c => c.Name(), out command))
            r.Problem(path + ".qmp", $"unknown QMP command \"{name}\" (use {HostVocabulary.List<QmpCommand>(c => c.Name())})");
        string? arguments = null;
        if (r.Field(e, path, "arguments", required: false) is { } a)
        {
            if (a.ValueKind != JsonValueKind.Object) r.Problem(path + ".arguments", $"must be an object, not {CaseReader.Kind(a)}");
            else arguments = System.Text.Json.Nodes.JsonNode.Parse(a.GetRawText())!.ToJsonString();
        }
        if (name is null || !HostVocabulary.TryParse<QmpCommand>(name, c => c.Name(), out _)) return null;
        foreach (var field in Required(command).Where(f => arguments is null || !JsonDocument.Parse(arguments).RootElement.TryGetProperty(f, out _)))
            r.Problem($"{path}.arguments.{field}", $"missing ({name} needs it)");
        return Required(command).All(f => arguments is not null && JsonDocument.Parse(arguments).RootElement.TryGetProperty(f, out _))
            ? new HostStep(HostStepKind.Qmp) { Command = command, Arguments = arguments, Timeout = timeout }
            : null;
    }

    private static string[] Required(QmpCommand c) => c switch
    {
        QmpCommand.ObjectAdd => ["qom-type", "id"],
        QmpCommand.DeviceAdd => ["driver", "id"],
        QmpCommand.ObjectDel or QmpCommand.DeviceDel => ["id"],
        QmpCommand.QomSet => ["path", "property", "value"],
        _ => ["path", "property"],
    };

    private static HostStep? WaitEvent(JsonElement e, string path, CaseReader r)
    {
        if (!r.Object(e, path, "waitEvent", "device", "timeout")) return null;
        var name = r.String(e, path, "waitEvent", required: true);
        var device = r.String(e, path, "device");
        var timeout = CaseDevices.Duration(e, path, r, required: true);
        QmpEvent ev = default;
        var known = name is not null && HostVocabulary.TryParse<QmpEvent>(name, x => x.Name(), out ev);
        if (name is not null && !known) r.Problem(path + ".waitEvent", $"unknown QMP event \"{name}\" (use {HostVocabulary.List<QmpEvent>(x => x.Name())})");
        return known && timeout is not null ? new HostStep(HostStepKind.WaitEvent) { Event = ev, Device = device, Timeout = timeout } : null;
    }

    private static HostStep? WaitQom(JsonElement e, string path, CaseReader r)
    {
        if (!r.Object(e, path, "waitQom", "property", "equals", "timeout")) return null;
        var target = r.String(e, path, "waitQom", required: true);
        var property = r.String(e, path, "property", required: true);
        var timeout = CaseDevices.Duration(e, path, r, required: true);
        string? value = null;
        if (r.Field(e, path, "equals", required: false) is { } v)
            value = v.ValueKind switch
            {
                JsonValueKind.String => v.GetString(),
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
                _ => null,
            };
        return target is null || property is null || timeout is null ? null
            : new HostStep(HostStepKind.WaitQom) { Path = target, Property = property, Value = value, Timeout = timeout };
    }

    private static HostStep? MemoryBlocks(JsonElement e, string path, CaseReader r)
    {
        if (!r.Object(e, path, "memoryBlocks", "set", "expect", "timeout")) return null;
        var device = r.String(e, path, "memoryBlocks", required: true);
        var set = State(e, path, "set", r);
        var expect = State(e, path, "expect", r);
        var timeout = CaseDevices.Duration(e, path, r, required: false);
        if ((set is null) == (expect is null) && e.TryGetProperty("set", out _) == e.TryGetProperty("expect", out _))
            r.Problem(path, "a memoryBlocks step either sets a state (\"set\") or expects one (\"expect\")");
        return device is null || (set is null) == (expect is null) ? null
            : new HostStep(HostStepKind.MemoryBlocks) { Device = device, Set = set, Expect = expect, Timeout = timeout };
    }

    private static MemoryBlockState? State(JsonElement e, string path, string field, CaseReader r)
    {
        if (r.String(e, path, field) is not { } text) return null;
        if (HostVocabulary.TryParse<MemoryBlockState>(text, s => s.Name(), out var state)) return state;
        r.Problem($"{path}.{field}", $"unknown memory block state \"{text}\" (use {HostVocabulary.List<MemoryBlockState>(s => s.Name())})");
        return null;
    }

    private static HostStep? ReadFile(JsonElement e, string path, CaseReader r)
    {
        if (!r.Object(e, path, "read", "key", "expect", "timeout")) return null;
        var file = r.String(e, path, "read", required: true);
        var key = r.String(e, path, "key");
        var expect = r.String(e, path, "expect", required: true);
        var timeout = CaseDevices.Duration(e, path, r, required: false);
        if (file is not null && !(file.StartsWith("/proc/", StringComparison.Ordinal) || file.StartsWith("/sys/", StringComparison.Ordinal)) || file?.Contains("..") == true)
        {
            r.Problem(path + ".read", $"\"{file}\": a file under /proc or /sys");
            return null;
        }
        return file is null || expect is null ? null : new HostStep(HostStepKind.Read) { Path = file, Key = key, Value = expect, Timeout = timeout };
    }

    /// <summary>
    /// Every step names a device that exists when it runs: declared in <c>devices</c>, or added by an earlier
    /// <c>object-add</c>/<c>device_add</c>; a pc-dimm or virtio-mem <c>device_add</c> names its backend.
    /// </summary>
    public static void CheckReferences(MemoryDeviceSet devices, IEnumerable<(string Path, HostStep? Host)> steps, CaseReader r)
    {
        var known = devices.Ids().Append("nv0").Append("mem0").ToHashSet(StringComparer.Ordinal);
        var backends = devices.Backends.Select(b => b.Id).Append("mem0").ToHashSet(StringComparer.Ordinal);
        foreach (var (path, host) in steps)
        {
            if (host is null) continue;
            var args = host.Arguments is { } a ? JsonDocument.Parse(a).RootElement : default;
            string? Arg(string name) => args.ValueKind == JsonValueKind.Object && args.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            void Must(string? id, string field)
            {
                if (id is not null && !known.Contains(LastSegment(id))) r.Problem($"{path}.{field}", $"\"{id}\" is no device or backend (declare it in devices or add it in an earlier step)");
            }
            switch (host.Kind, host.Command)
            {
                case (HostStepKind.Qmp, QmpCommand.ObjectAdd):
                    if (Arg("id") is { } backend) { known.Add(backend); backends.Add(backend); }
                    break;
                case (HostStepKind.Qmp, QmpCommand.DeviceAdd):
                    if (Arg("driver") is "pc-dimm" or "virtio-mem-pci" or "nvdimm")
                    {
                        if (Arg("memdev") is not { } memdev) r.Problem($"{path}.arguments.memdev", $"missing (a {Arg("driver")} needs its backend)");
                        else if (!backends.Contains(memdev)) r.Problem($"{path}.arguments.memdev", $"\"{memdev}\" is no backend (add it with object-add first)");
                    }
                    if (Arg("id") is { } id) known.Add(id);
                    break;
                case (HostStepKind.Qmp, QmpCommand.DeviceDel or QmpCommand.ObjectDel):
                    Must(Arg("id"), "arguments.id");
                    break;
                case (HostStepKind.Qmp, _):
                    Must(Arg("path"), "arguments.path");
                    break;
                case (HostStepKind.WaitEvent, _):
                    Must(host.Device, "device");
                    break;
                case (HostStepKind.WaitQom, _):
                    Must(host.Path, "waitQom");
                    break;
                case (HostStepKind.MemoryBlocks, _):
                    Must(host.Device, "memoryBlocks");
                    break;
            }
        }
    }

    private static string LastSegment(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? path;
}
