using System.Text.Json;

namespace QemuHotplugHarness.Scenarios.Cases;

/// <summary>
/// Reads the fields of a case.json strictly: every problem is one line naming the file and the field
/// (<c>cases/x/case.json: cells[1].expect.outcome: unknown outcome "oopz"</c>); unknown fields are problems too.
/// </summary>
internal sealed class CaseReader(string display, List<string> problems)
{
    public void Problem(string path, string reason) => problems.Add(path.Length == 0 ? $"{display}: {reason}" : $"{display}: {path}: {reason}");

    public static string At(string path, string field) => path.Length == 0 ? field : $"{path}.{field}";

    /// <summary>Whether <paramref name="e"/> is an object; each of its fields not in <paramref name="known"/> is a problem.</summary>
    public bool Object(JsonElement e, string path, params string[] known)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            Problem(path, $"must be an object, not {Kind(e)}");
            return false;
        }
        foreach (var p in e.EnumerateObject().Where(p => !known.Contains(p.Name, StringComparer.Ordinal)))
            Problem(At(path, p.Name), $"unknown field (known: {string.Join(", ", known)})");
        return true;
    }

    public JsonElement? Field(JsonElement obj, string path, string field, bool required)
    {
        if (obj.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null) return v;
        if (required) Problem(At(path, field), "missing");
        return null;
    }

    public string? String(JsonElement obj, string path, string field, bool required = false)
    {
        if (Field(obj, path, field, required) is not { } v) return null;
        if (v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s && !string.IsNullOrWhiteSpace(s)) return s;
        Problem(At(path, field), v.ValueKind == JsonValueKind.String ? "must not be empty" : $"must be a string, not {Kind(v)}");
        return null;
    }

    public bool? Bool(JsonElement obj, string path, string field, bool required = false)
    {
        if (Field(obj, path, field, required) is not { } v) return null;
        if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) return v.GetBoolean();
        Problem(At(path, field), $"must be true or false, not {Kind(v)}");
        return null;
    }

    public int? Int(JsonElement obj, string path, string field, int min, int max, bool required = false)
    {
        if (Field(obj, path, field, required) is not { } v) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n >= min && n <= max) return n;
        Problem(At(path, field), $"must be a whole number from {min} to {max}, not {v.GetRawText()}");
        return null;
    }

    /// <summary>One of an enum's kebab-case words; <paramref name="what"/> names the vocabulary in the problem.</summary>
    public T? Word<T>(JsonElement obj, string path, string field, string what, bool required = false) where T : struct, Enum
    {
        if (String(obj, path, field, required) is not { } text) return null;
        foreach (var value in Enum.GetValues<T>())
            if (value.Kebab() == text) return value;
        Problem(At(path, field), $"unknown {what} \"{text}\" (use {string.Join(", ", Enum.GetValues<T>().Select(v => v.Kebab()))})");
        return null;
    }

    /// <summary>An array of strings (each non-empty), or null after a problem.</summary>
    public IReadOnlyList<string>? Strings(JsonElement e, string path)
    {
        if (e.ValueKind != JsonValueKind.Array)
        {
            Problem(path, $"must be an array of strings, not {Kind(e)}");
            return null;
        }
        var list = new List<string>();
        var i = 0;
        foreach (var item in e.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String && item.GetString() is { Length: > 0 } s) list.Add(s);
            else Problem($"{path}[{i}]", item.ValueKind == JsonValueKind.String ? "must not be empty" : $"must be a string, not {Kind(item)}");
            i++;
        }
        return list.Count == i ? list : null;
    }

    public static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
