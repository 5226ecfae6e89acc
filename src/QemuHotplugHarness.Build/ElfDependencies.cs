using System.Text.RegularExpressions;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>Checks that every NEEDED library of every ELF in an unpacked root is present in the root's library dirs.</summary>
public static partial class ElfDependencies
{
    public static readonly string[] LibraryDirs = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib", "usr/lib", "lib64"];

    public static async Task<IReadOnlyList<string>> MissingAsync(ToolRunner runner, string root, CancellationToken ct)
    {
        var missing = new List<string>();
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var info = new FileInfo(file);
            if (info.LinkTarget is not null || info.Length < 64 || !IsElf(file)) continue;
            string dynamic;
            try
            {
                dynamic = await runner.RunAsync(new ToolCall("readelf", "readelf", ["-d", file], root, TimeSpan.FromMinutes(1)).Quietly(), ct);
            }
            catch (ToolFailedException)
            {
                continue; // not a dynamic object readelf understands
            }
            foreach (Match m in Needed().Matches(dynamic))
            {
                var lib = m.Groups[1].Value;
                if (!LibraryDirs.Any(d => Exists(Path.Combine(root, d, lib))))
                    missing.Add($"{Path.GetRelativePath(root, file)} needs {lib}");
            }
        }
        return missing;
    }

    public static async Task EnsureCompleteAsync(ToolRunner runner, string root, CancellationToken ct)
    {
        var missing = await MissingAsync(runner, root, ct);
        if (missing.Count > 0)
            throw new InfrastructureException($"guest image: missing libraries: {string.Join("; ", missing.Take(10))} (add the Debian package to images/initramfs/packages.txt)");
    }

    private static bool Exists(string path) => File.Exists(path) || new FileInfo(path).LinkTarget is not null;

    private static bool IsElf(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var f = File.OpenRead(path);
        return f.Read(magic) == 4 && magic[0] == 0x7f && magic[1] == (byte)'E' && magic[2] == (byte)'L' && magic[3] == (byte)'F';
    }

    [GeneratedRegex(@"\(NEEDED\)\s+Shared library: \[([^\]]+)\]")]
    private static partial Regex Needed();
}
