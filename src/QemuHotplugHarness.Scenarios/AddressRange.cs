using System.Globalization;

namespace QemuHotplugHarness.Scenarios;

/// <summary>A half-open physical or virtual range [Start, End).</summary>
public readonly record struct AddressRange(ulong Start, ulong End)
{
    public ulong Length => End - Start;
    public bool IsEmpty => End <= Start;
    public ulong Last => End - 1;

    public static AddressRange FromLength(ulong start, ulong length) => new(start, start + length);

    public bool Overlaps(AddressRange other) => Start < other.End && other.Start < End;
    public bool Contains(AddressRange other) => Start <= other.Start && other.End <= End;
    public bool Contains(ulong address) => Start <= address && address < End;

    /// <summary>The form of /proc/iomem: <c>144000000-343dfffff</c>.</summary>
    public string ToIomem() => $"{Start.ToString("x", CultureInfo.InvariantCulture)}-{Last.ToString("x", CultureInfo.InvariantCulture)}";

    /// <summary>The form of the JSON reports: <c>0x144000000-0x343dfffff</c> (inclusive end, like iomem).</summary>
    public override string ToString() => $"0x{Start.ToString("x", CultureInfo.InvariantCulture)}-0x{Last.ToString("x", CultureInfo.InvariantCulture)}";

    public static bool TryParseIomem(string text, out AddressRange range)
    {
        range = default;
        var parts = text.Trim().Split('-');
        if (parts.Length != 2) return false;
        static bool Hex(string s, out ulong v) =>
            ulong.TryParse(s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? s[2..] : s,
                NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v);
        if (!Hex(parts[0], out var a) || !Hex(parts[1], out var b) || b < a) return false;
        range = new AddressRange(a, b + 1);
        return true;
    }
}

public static class Units
{
    public const ulong KiB = 1UL << 10;
    public const ulong MiB = 1UL << 20;
    public const ulong GiB = 1UL << 30;
    public const ulong Page = 4 * KiB;

    public static ulong AlignUp(ulong value, ulong alignment) => (value + alignment - 1) / alignment * alignment;
    public static ulong AlignDown(ulong value, ulong alignment) => value / alignment * alignment;
    public static string Hex(ulong value) => QemuHotplugHarness.Scenarios.Hex.Format(value);
}

/// <summary>JSON form of a range in the reports: <c>"0x144000000-0x343dfffff"</c>; null is <c>"none"</c>.</summary>
public sealed class AddressRangeJsonConverter : System.Text.Json.Serialization.JsonConverter<AddressRange?>
{
    public override bool HandleNull => true;

    public override AddressRange? Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options)
    {
        var text = reader.TokenType == System.Text.Json.JsonTokenType.Null ? null : reader.GetString();
        if (text is null or "none") return null;
        return AddressRange.TryParseIomem(text, out var r) ? r : throw new System.Text.Json.JsonException($"'{text}' is not a range (0x…-0x…)");
    }

    public override void Write(System.Text.Json.Utf8JsonWriter writer, AddressRange? value, System.Text.Json.JsonSerializerOptions options) =>
        writer.WriteStringValue(value?.ToString() ?? "none");
}

/// <summary>JSON form of a range as /proc/iomem prints it: <c>"144000000-144ffffff"</c>.</summary>
public sealed class IomemRangeJsonConverter : System.Text.Json.Serialization.JsonConverter<AddressRange>
{
    public override AddressRange Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options) =>
        AddressRange.TryParseIomem(reader.GetString() ?? "", out var r) ? r : throw new System.Text.Json.JsonException("not an iomem range");

    public override void Write(System.Text.Json.Utf8JsonWriter writer, AddressRange value, System.Text.Json.JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToIomem());
}
