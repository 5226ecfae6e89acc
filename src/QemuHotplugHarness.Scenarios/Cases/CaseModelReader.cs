using System.Text.Json;

namespace QemuHotplugHarness.Scenarios.Cases;

/// <summary>Reads case.json "model": { "fix": CHECK, "readers": { READER: { LINE: { "fails", "function", "source" } } } }.</summary>
internal static class CaseModelReader
{
    public static CaseModel? Read(JsonElement e, IReadOnlyList<string> config, CaseReader r)
    {
        if (!r.Object(e, "model", "fix", "readers")) return null;
        var fix = r.Word<KernelCheck>(e, "model", "fix", "kernel check", required: true);
        var readers = r.Field(e, "model", "readers", required: false) is { } rs ? Readers(rs, r) : new();
        if (fix is null || readers is null) return null;
        return new CaseModel(fix.Value, readers).OnKernelConfig(config);
    }

    private static Dictionary<MemmapReader, IReadOnlyDictionary<string, ReaderFailure>>? Readers(JsonElement e, CaseReader r)
    {
        var names = e.ValueKind == JsonValueKind.Object ? e.EnumerateObject().Select(p => p.Name).ToArray() : [];
        if (!r.Object(e, "model.readers", Enum.GetValues<MemmapReader>().Select(v => v.Kebab()).ToArray())) return null;
        var readers = new Dictionary<MemmapReader, IReadOnlyDictionary<string, ReaderFailure>>();
        foreach (var p in e.EnumerateObject())
        {
            // A name that is no reader was reported by Object() above; the case is refused with that line.
            var reader = Enum.GetValues<MemmapReader>().Cast<MemmapReader?>().FirstOrDefault(v => v!.Value.Kebab() == p.Name);
            if (reader is { } known && Lines(p.Value, $"model.readers.{p.Name}", r) is { } lines) readers[known] = lines;
        }
        return readers.Count == names.Length ? readers : null;
    }

    private static Dictionary<string, ReaderFailure>? Lines(JsonElement e, string path, CaseReader r)
    {
        if (!r.Object(e, path, e.ValueKind == JsonValueKind.Object ? e.EnumerateObject().Select(p => p.Name).ToArray() : [])) return null;
        var lines = new Dictionary<string, ReaderFailure>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject())
        {
            var at = $"{path}.{p.Name}";
            if (!r.Object(p.Value, at, "fails", "function", "source")) continue;
            var fails = r.Word<ReaderFailureKind>(p.Value, at, "fails", "failure", required: true);
            var function = r.String(p.Value, at, "function", required: true);
            var source = r.String(p.Value, at, "source", required: true);
            if (fails is { } f && function is not null && source is not null) lines[p.Name] = new ReaderFailure(f, function, source);
        }
        return lines.Count == e.EnumerateObject().Count() ? lines : null;
    }
}
