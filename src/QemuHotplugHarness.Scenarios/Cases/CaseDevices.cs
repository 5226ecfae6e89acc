using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace QemuHotplugHarness.Scenarios.Cases;

/// <summary>
/// Reads a case's <c>devices</c> (RAM backends, pc-dimms, virtio-mem devices) and <c>kernelArgs</c>. A device names a
/// backend that exists; ids are unique.
/// </summary>
internal static partial class CaseDevices
{
    public static MemoryDeviceSet? Read(JsonElement e, CaseReader r)
    {
        if (!r.Object(e, "devices", "backends", "dimms", "virtioMem")) return null;
        var ok = true;
        var backends = List(e, "backends", r, ref ok, (b, path) =>
        {
            if (!r.Object(b, path, "id", "size")) return null;
            var (id, size) = (Id(b, path, r), Size(b, path, "size", r, required: true));
            return id is null || size is null ? null : new MemoryBackendSpec(id, size.Value);
        });
        var dimms = List(e, "dimms", r, ref ok, (d, path) =>
        {
            if (!r.Object(d, path, "id", "memdev", "addr", "node")) return null;
            var (id, memdev) = (Id(d, path, r), r.String(d, path, "memdev", required: true));
            ulong? addr = null;
            if (r.String(d, path, "addr") is { } a)
                if (Hex.TryParse(a, out var at)) addr = at;
                else r.Problem(path + ".addr", $"\"{a}\" is not a hex address (0x…)");
            var node = r.Int(d, path, "node", 0, 63);
            return id is null || memdev is null ? null : new PcDimmSpec(id, memdev) { Address = addr, Node = node };
        });
        var virtio = List(e, "virtioMem", r, ref ok, (v, path) =>
        {
            if (!r.Object(v, path, "id", "memdev", "blockSize", "requestedSize", "node")) return null;
            var (id, memdev) = (Id(v, path, r), r.String(v, path, "memdev", required: true));
            var block = Size(v, path, "blockSize", r, required: false) ?? ByteSize.FromMiB(2);
            var requested = Size(v, path, "requestedSize", r, required: false) ?? new ByteSize(0);
            var node = r.Int(v, path, "node", 0, 63) ?? 0;
            if (!requested.IsAligned(block.Bytes) && requested.Bytes != 0)
                r.Problem(path + ".requestedSize", $"{requested} is not a multiple of the block size {block}");
            return id is null || memdev is null ? null : new VirtioMemSpec(id, memdev, block, requested, node);
        });
        if (!ok || backends is null || dimms is null || virtio is null) return null;
        var set = new MemoryDeviceSet { Backends = backends, Dimms = dimms, VirtioMem = virtio };
        var problems = 0;
        var known = backends.Select(b => b.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var (memdev, path) in dimms.Select((d, i) => (d.Memdev, $"devices.dimms[{i}].memdev"))
                     .Concat(virtio.Select((v, i) => (v.Memdev, $"devices.virtioMem[{i}].memdev"))).Where(x => !known.Contains(x.Memdev)))
        {
            r.Problem(path, $"\"{memdev}\" is not a backend of devices.backends (a device needs its backend)");
            problems++;
        }
        foreach (var id in set.Ids().GroupBy(i => i).Where(g => g.Count() > 1 || g.Key == "nv0").Select(g => g.Key))
        {
            r.Problem("devices", $"id \"{id}\" is used twice (nv0 is the harness's NVDIMM)");
            problems++;
        }
        return problems == 0 ? set : null;
    }

    public static string? KernelArgs(JsonElement e, CaseReader r)
    {
        var args = r.Strings(e, "kernelArgs");
        if (args is null) return null;
        var bad = args.Select((a, i) => (a, i)).Where(x => !KernelArgPattern().IsMatch(x.a)).ToList();
        foreach (var (a, i) in bad) r.Problem($"kernelArgs[{i}]", $"\"{a}\" is not one kernel argument (name or name=value, no spaces or quotes)");
        return bad.Count == 0 ? string.Join(' ', args) : null;
    }

    private static IReadOnlyList<T>? List<T>(JsonElement e, string field, CaseReader r, ref bool ok, Func<JsonElement, string, T?> read) where T : class
    {
        if (r.Field(e, "devices", field, required: false) is not { } list) return [];
        if (list.ValueKind != JsonValueKind.Array)
        {
            r.Problem($"devices.{field}", $"must be an array, not {CaseReader.Kind(list)}");
            ok = false;
            return null;
        }
        var items = list.EnumerateArray().Select((item, i) => read(item, $"devices.{field}[{i}]")).ToList();
        if (items.Any(x => x is null)) ok = false;
        return items.OfType<T>().ToList();
    }

    private static string? Id(JsonElement e, string path, CaseReader r)
    {
        var id = r.String(e, path, "id", required: true);
        if (id is not null && !IdPattern().IsMatch(id)) r.Problem(path + ".id", $"\"{id}\": use letters, digits, '-' and '_' (a QOM id)");
        return id is not null && IdPattern().IsMatch(id) ? id : null;
    }

    public static ByteSize? Size(JsonElement e, string path, string field, CaseReader r, bool required)
    {
        if (r.Field(e, path, field, required) is not { } v) return null;
        var text = v.ValueKind == JsonValueKind.Number ? v.GetRawText() : v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        if (text is not null && ByteSize.TryParse(text, out var size)) return size;
        r.Problem(CaseReader.At(path, field), $"{v.GetRawText()} is not a size (16M, 1G, 0x…)");
        return null;
    }

    /// <summary>A step's timeout: "30s", "2m", "500ms".</summary>
    public static TimeSpan? Duration(JsonElement e, string path, CaseReader r, bool required)
    {
        if (r.String(e, path, "timeout", required) is not { } text) return null;
        var m = DurationPattern().Match(text);
        if (!m.Success || double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) is var n && n <= 0)
        {
            r.Problem(CaseReader.At(path, "timeout"), $"\"{text}\" is not a duration (30s, 2m, 500ms)");
            return null;
        }
        return m.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "m" => TimeSpan.FromMinutes(n),
            _ => TimeSpan.FromSeconds(n),
        };
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]*$")]
    internal static partial Regex IdPattern();

    [GeneratedRegex("^[A-Za-z0-9_.-]+(=[^\\s\"']+)?$")]
    private static partial Regex KernelArgPattern();

    [GeneratedRegex("^([0-9]+(?:\\.[0-9]+)?)(ms|s|m)$")]
    private static partial Regex DurationPattern();
}
