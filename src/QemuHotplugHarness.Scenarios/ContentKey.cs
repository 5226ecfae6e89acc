using System.Security.Cryptography;
using System.Text;

namespace QemuHotplugHarness.Scenarios;

/// <summary>The one way a cache entry or snapshot is keyed: a stable short SHA-256 over length-prefixed parts.</summary>
public static class ContentKey
{
    public static string Of(IEnumerable<string> parts)
    {
        using var sha = SHA256.Create();
        foreach (var p in parts)
        {
            var bytes = Encoding.UTF8.GetBytes(p);
            sha.TransformBlock(BitConverter.GetBytes(bytes.Length), 0, 4, null, 0);
            sha.TransformBlock(bytes, 0, bytes.Length, null, 0);
        }
        sha.TransformFinalBlock([], 0, 0);
        return Convert.ToHexStringLower(sha.Hash!)[..16];
    }
}
