using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using CliWrap;
using CliWrap.Buffered;

namespace QemuHotplugHarness.Guest;

/// <summary>
/// Adds file:line to an oops report's frames with addr2line on the kernel's vmlinux (System.map gives each
/// symbol's address; the guest runs with nokaslr, so the addresses match).
/// </summary>
public static partial class Symbolizer
{
    public static async Task<string?> SymbolizeAsync(string reportText, string? vmlinux, string? systemMap, CancellationToken ct)
    {
        if (vmlinux is null || systemMap is null || !File.Exists(vmlinux) || !File.Exists(systemMap)) return null;
        var frames = Frame().Matches(reportText).Select(m => (Text: m.Value, Name: m.Groups[1].Value, Offset: ulong.Parse(m.Groups[2].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture)))
            .DistinctBy(f => f.Text).ToList();
        if (frames.Count == 0) return null;
        var wanted = frames.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var symbols = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(systemMap))
        {
            var parts = line.Split(' ');
            if (parts.Length == 3 && wanted.Contains(parts[2]) && !symbols.ContainsKey(parts[2]))
                symbols[parts[2]] = ulong.Parse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        }
        var resolvable = frames.Where(f => symbols.ContainsKey(f.Name)).ToList();
        if (resolvable.Count == 0) return null;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(TimeSpan.FromMinutes(2));
        var result = await Cli.Wrap("addr2line")
            .WithArguments(new[] { "-e", vmlinux, "-a", "-f", "-i" }.Concat(resolvable.Select(f => "0x" + (symbols[f.Name] + f.Offset).ToString("x", CultureInfo.InvariantCulture))))
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cts.Token);
        if (result.ExitCode != 0) return null;
        // With -a each address starts a group: the address, then (function, file:line) pairs, innermost inline first.
        var groups = new List<List<string>>();
        foreach (var line in result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("0x", StringComparison.Ordinal) && groups.Count < resolvable.Count + 1 && line.Length > 2 && line[2..].All(Uri.IsHexDigit)) groups.Add([]);
            else if (groups.Count > 0) groups[^1].Add(line);
        }
        if (groups.Count != resolvable.Count) return null;
        // A vmlinux without DWARF only gives "??:?": nothing to add.
        if (groups.All(g => g.Where((_, k) => k % 2 == 1).All(l => l.StartsWith("??", StringComparison.Ordinal)))) return null;
        var sb = new StringBuilder("Symbolized with addr2line (vmlinux of this build):\n");
        foreach (var (f, g) in resolvable.Zip(groups))
        {
            var locations = new List<string>();
            for (var k = 0; k + 1 < g.Count; k += 2) locations.Add($"{g[k]} {ShortPath(g[k + 1])}");
            sb.Append("  ").Append(f.Text).Append(" = ").Append(string.Join(" <- inlined in ", locations)).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>
    /// A path relative to the kernel tree: the harness builds out of tree from <c>kernel-build/KEY/src/</c> (so DWARF
    /// holds absolute paths there); older builds, and trees elsewhere, are recognised by a <c>/linux/</c> folder.
    /// </summary>
    public static string ShortPath(string loc)
    {
        if (BuildSource().Match(loc) is { Success: true } m) return loc[(m.Index + m.Length)..];
        var i = loc.IndexOf("/linux/", StringComparison.Ordinal);
        return i >= 0 ? loc[(i + 7)..] : loc;
    }

    [GeneratedRegex(@"/kernel-build/[0-9a-f]+/src/")]
    private static partial Regex BuildSource();

    [GeneratedRegex(@"\b([A-Za-z_][\w.]*)\+0x([0-9a-f]+)/0x[0-9a-f]+")]
    private static partial Regex Frame();
}
