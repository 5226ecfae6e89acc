using System.Globalization;
using System.Text.Json;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>A kernel version as a tree's Makefile states it (VERSION.PATCHLEVEL), compared by number.</summary>
public readonly record struct LinuxVersion(int Major, int Minor) : IComparable<LinuxVersion>
{
    public static LinuxVersion? TryParse(string? text)
    {
        var parts = (text ?? "").Split('.');
        return parts.Length >= 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
               && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor)
            ? new LinuxVersion(major, minor)
            : null;
    }

    public int CompareTo(LinuxVersion other) => Major != other.Major ? Major.CompareTo(other.Major) : Minor.CompareTo(other.Minor);

    public static bool operator <=(LinuxVersion a, LinuxVersion b) => a.CompareTo(b) <= 0;
    public static bool operator >=(LinuxVersion a, LinuxVersion b) => a.CompareTo(b) >= 0;
    public static bool operator <(LinuxVersion a, LinuxVersion b) => a.CompareTo(b) < 0;
    public static bool operator >(LinuxVersion a, LinuxVersion b) => a.CompareTo(b) > 0;

    public override string ToString() => $"{Major}.{Minor}";
}

/// <summary>
/// Where Debian ships a line's source: one package (<c>linux-source-6.1</c>) or the newest package whose name starts
/// with a prefix (<c>linux-source-</c> in sid), in a suite of a mirror, read through the harness's own apt lists.
/// </summary>
public sealed record DebianKernelSource(string? Package, string? PackagePrefix, string Suite, string Mirror);

/// <summary>
/// A kernel line (kernel-lines/NAME.json): which trees belong to it (Makefile versions from <see cref="From"/> up to
/// the next line's), and where Debian's source of it comes from. Cases name their fix per line.
/// </summary>
public sealed record KernelLine(string Name, string Description, LinuxVersion From, DebianKernelSource Debian);

/// <summary>The kernel lines of the repository's <c>kernel-lines/</c> folder, oldest first.</summary>
public sealed class KernelLines
{
    private KernelLines(IReadOnlyList<KernelLine> all) => All = all;

    public IReadOnlyList<KernelLine> All { get; }

    /// <summary>The line of defaults.json: the one a run takes when the user names none.</summary>
    public KernelLine Default => Get(HarnessDefaults.Repo.Line);

    /// <summary>
    /// The one rule for the line a kernel is built on, the same in every command: the line asked for; else the line a
    /// tree's Makefile version belongs to (a 7.x tree takes the latest line); else the default line.
    /// </summary>
    public KernelLine Resolve(string? asked, string? kernelTree)
    {
        if (asked is not null) return Get(asked); // an unknown line: bad input naming the lines
        if (kernelTree is not null && LinuxVersion.TryParse(KernelTree.KernelVersion(kernelTree)) is { } version && ForVersion(version) is { } line)
            return line;
        return Default;
    }

    /// <summary>The line named <paramref name="name"/>; bad input naming the lines there are otherwise.</summary>
    public KernelLine Get(string name) => All.FirstOrDefault(l => l.Name == name)
        ?? throw new BadInputException(InputKind.KernelLine, name, $"no such kernel line (kernel-lines/ has {string.Join(", ", All.Select(l => l.Name))})");

    /// <summary>The line a tree of <paramref name="version"/> belongs to: the newest line that starts at or before it.</summary>
    public KernelLine? ForVersion(LinuxVersion version) => All.LastOrDefault(l => l.From <= version);

    /// <summary>Reads every NAME.json; the harness's own data, so a malformed file is an internal error naming file and field.</summary>
    public static KernelLines Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new InfrastructureException($"{dir}: no kernel-lines folder in the harness checkout");
        var lines = Directory.GetFiles(dir, "*.json").Order(StringComparer.Ordinal).Select(Parse).OrderBy(l => l.From).ToList();
        if (lines.Count == 0) throw new InfrastructureException($"{dir}: no kernel lines");
        var twice = lines.GroupBy(l => l.From).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
            throw new InfrastructureException($"{dir}: lines {string.Join(" and ", twice.Select(l => l.Name))} both start at {twice.Key}");
        return new KernelLines(lines);
    }

    private sealed record LineFile(string? Name, string? Description, string? From, SourceFile? Debian);

    private sealed record SourceFile(string? Package, string? PackagePrefix, string? Suite, string? Mirror);

    private static KernelLine Parse(string file)
    {
        LineFile data;
        try
        {
            data = JsonSerializer.Deserialize<LineFile>(File.ReadAllText(file), HarnessJson.StrictOptions) ?? new(null, null, null, null);
        }
        catch (JsonException e)
        {
            throw new InfrastructureException($"{file}: not a kernel line{(e.Path is null ? "" : " at " + e.Path)}: {e.Message.Split('\n')[0]}");
        }
        string Field(string? value, string name) => value is { Length: > 0 } v ? v : throw new InfrastructureException($"{file}: {name}: missing");
        var name = Field(data.Name, "name");
        if (name != Path.GetFileNameWithoutExtension(file)) throw new InfrastructureException($"{file}: name: \"{name}\" is not the file's name");
        var from = LinuxVersion.TryParse(Field(data.From, "from"))
            ?? throw new InfrastructureException($"{file}: from: \"{data.From}\" is not a version like 6.12");
        var d = data.Debian ?? throw new InfrastructureException($"{file}: debian: missing");
        if ((d.Package is null) == (d.PackagePrefix is null))
            throw new InfrastructureException($"{file}: debian: give exactly one of package and packagePrefix");
        return new KernelLine(name, data.Description ?? name, from,
            new DebianKernelSource(d.Package, d.PackagePrefix, Field(d.Suite, "debian.suite"), Field(d.Mirror, "debian.mirror")));
    }
}
