using System.Text.Json;
using System.Text.Json.Serialization;

namespace QemuHotplugHarness.Scenarios;

/// <summary>Reads and writes a physical or virtual address as "0x..." ("auto" or null = none).</summary>
public sealed class AddressJsonConverter : JsonConverter<ulong?>
{
    public override bool HandleNull => true;

    public override ulong? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType == JsonTokenType.Number) return reader.GetUInt64();
        var text = reader.GetString();
        if (text is null || text.Equals("auto", StringComparison.OrdinalIgnoreCase)) return null;
        return ByteSize.TryParse(text, out var size)
            ? size.Bytes
            : throw new JsonException($"'{text}' is not an address (use e.g. 0x144000000 or auto)");
    }

    public override void Write(Utf8JsonWriter writer, ulong? value, JsonSerializerOptions options)
    {
        if (value is null) writer.WriteStringValue("auto");
        else writer.WriteStringValue(Hex.Format(value.Value));
    }
}
