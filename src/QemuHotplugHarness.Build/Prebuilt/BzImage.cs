using System.Buffers.Binary;
using System.Text;

namespace QemuHotplugHarness.Build;

/// <summary>
/// The x86 boot protocol header of a kernel image: "HdrS" at 0x202 marks a bzImage, and the kernel_version field
/// (0x20E) points at the version string ("6.1.0-26-amd64 (debian-kernel@…) #1 SMP …") whose first word is the release.
/// </summary>
public sealed record BzImage(string Release, string Version, ushort Protocol)
{
    private const int MagicOffset = 0x202;
    private const int ProtocolOffset = 0x206;
    private const int KernelVersionOffset = 0x20E;
    private const int HeaderLength = 0x400; // the version string lives in the setup sectors; 1 KiB covers the header
    private static readonly byte[] Magic = "HdrS"u8.ToArray();

    /// <summary>Reads the header of <paramref name="path"/>; null (with the reason) when it is not a bzImage.</summary>
    public static BzImage? TryRead(string path, out string reason)
    {
        var head = new byte[64 * 1024];
        int read;
        using (var file = File.OpenRead(path)) read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return TryParse(head.AsSpan(0, read), out reason);
    }

    public static BzImage? TryParse(ReadOnlySpan<byte> head, out string reason)
    {
        if (head.Length < HeaderLength || !head.Slice(MagicOffset, 4).SequenceEqual(Magic))
        {
            reason = "not a bzImage (no \"HdrS\" boot header at 0x202)";
            return null;
        }
        var protocol = BinaryPrimitives.ReadUInt16LittleEndian(head[ProtocolOffset..]);
        var pointer = BinaryPrimitives.ReadUInt16LittleEndian(head[KernelVersionOffset..]);
        var at = 0x200 + pointer;
        if (protocol < 0x200 || pointer == 0 || at >= head.Length)
        {
            reason = $"bzImage without a kernel version string (boot protocol {protocol >> 8}.{protocol & 0xff:D2})";
            return null;
        }
        var end = head[at..].IndexOf((byte)0);
        var version = Encoding.ASCII.GetString(end < 0 ? head[at..] : head.Slice(at, end)).Trim();
        var release = version.Split(' ', 2)[0];
        if (release.Length == 0)
        {
            reason = "bzImage with an empty kernel version string";
            return null;
        }
        reason = "";
        return new BzImage(release, version, protocol);
    }
}
