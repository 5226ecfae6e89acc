using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace QemuHotplugHarness.Scenarios;

/// <summary>
/// A number that is an address or a page frame number: a <c>ulong</c> inside, "0x…" in JSON (hex only at the
/// edges). Applied to <c>ulong?</c> properties too (System.Text.Json wraps it for nullables).
/// </summary>
public sealed class HexJsonConverter : JsonConverter<ulong>
{
    public override ulong Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number) return reader.GetUInt64();
        var text = reader.GetString();
        return Hex.TryParse(text, out var value) ? value : throw new JsonException($"'{text}' is not a hex number (0x…)");
    }

    public override void Write(Utf8JsonWriter writer, ulong value, JsonSerializerOptions options) => writer.WriteStringValue(Hex.Format(value));
}

/// <summary>The one text form of addresses and pfns: <c>0x144000000</c>.</summary>
public static class Hex
{
    public static string Format(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    public static bool TryParse(string? text, out ulong value)
    {
        value = 0;
        if (text is null) return false;
        var digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        return digits.Length > 0 && ulong.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }
}

/// <summary>The text of a vocabulary enum, as JSON writes it: <c>WorkloadFailed</c> → <c>workload-failed</c>.</summary>
public static class EnumText
{
    public static string Kebab<T>(this T value) where T : struct, Enum => JsonNamingPolicy.KebabCaseLower.ConvertName(value.ToString());
}
