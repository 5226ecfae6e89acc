using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace QemuHotplugHarness.Scenarios;

/// <summary>
/// A byte count or a physical address. Parses the forms QEMU and ndctl use: <c>16M</c>, <c>4160M</c>,
/// <c>8G</c>, <c>128K</c>, <c>128k</c>, plain bytes, and hex <c>0x144000000</c>.
/// </summary>
[JsonConverter(typeof(ByteSizeJsonConverter))]
public readonly record struct ByteSize(ulong Bytes) : IComparable<ByteSize>
{
    public const ulong KiB = 1UL << 10;
    public const ulong MiB = 1UL << 20;
    public const ulong GiB = 1UL << 30;
    public const ulong TiB = 1UL << 40;

    public static ByteSize FromMiB(ulong mib) => new(mib * MiB);
    public static ByteSize FromGiB(ulong gib) => new(gib * GiB);

    public static bool TryParse(string? text, out ByteSize size)
    {
        size = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var s = text.Trim();
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            if (s.Length > 2 && ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex))
            {
                size = new ByteSize(hex);
                return true;
            }
            return false;
        }
        if (s.EndsWith("iB", StringComparison.OrdinalIgnoreCase) && s.Length > 3) return TryParse(s[..^2], out size);
        if (s.EndsWith("B", StringComparison.OrdinalIgnoreCase) && s.Length > 2 && char.IsLetter(s[^2])) return TryParse(s[..^1], out size);
        ulong unit = 1;
        var last = char.ToUpperInvariant(s[^1]);
        var number = s;
        if (last is 'K' or 'M' or 'G' or 'T')
        {
            number = s[..^1];
            unit = last switch { 'K' => KiB, 'M' => MiB, 'G' => GiB, _ => TiB };
        }
        if (!ulong.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return false;
        try
        {
            size = new ByteSize(checked(n * unit));
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    /// <summary>Parses or throws a <see cref="BadInputException"/> naming <paramref name="input"/>.</summary>
    public static ByteSize Parse(string? text, InputKind input) =>
        TryParse(text, out var size)
            ? size
            : throw new BadInputException(input, text ?? "", "not a size or address (use e.g. 16M, 4160M, 8G, 128K or 0x144000000)");

    public bool IsAligned(ulong alignment) => alignment != 0 && Bytes % alignment == 0;

    /// <summary>Short human form: the largest unit that divides exactly (8G, 4160M, 128K, 4097).</summary>
    public override string ToString()
    {
        if (Bytes == 0) return "0";
        foreach (var (unit, suffix) in new[] { (TiB, "T"), (GiB, "G"), (MiB, "M"), (KiB, "K") })
            if (Bytes % unit == 0) return (Bytes / unit).ToString(CultureInfo.InvariantCulture) + suffix;
        return Bytes.ToString(CultureInfo.InvariantCulture);
    }

    public int CompareTo(ByteSize other) => Bytes.CompareTo(other.Bytes);
    public static bool operator <(ByteSize a, ByteSize b) => a.Bytes < b.Bytes;
    public static bool operator >(ByteSize a, ByteSize b) => a.Bytes > b.Bytes;
    public static bool operator <=(ByteSize a, ByteSize b) => a.Bytes <= b.Bytes;
    public static bool operator >=(ByteSize a, ByteSize b) => a.Bytes >= b.Bytes;
}

public sealed class ByteSizeJsonConverter : JsonConverter<ByteSize>
{
    public override ByteSize Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number) return new ByteSize(reader.GetUInt64());
        var text = reader.GetString();
        return ByteSize.TryParse(text, out var size)
            ? size
            : throw new JsonException($"'{text}' is not a size or address (use e.g. 16M, 8G, 128K or 0x144000000)");
    }

    public override void Write(Utf8JsonWriter writer, ByteSize value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
