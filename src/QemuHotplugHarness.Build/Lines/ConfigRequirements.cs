using System.Text.Json;
using System.Text.RegularExpressions;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>What to do when a tree defines none of a requirement's spellings.</summary>
public enum WhenAbsent
{
    /// <summary>The tree cannot give the feature: the kernel's problem, named with the tree.</summary>
    Missing,

    /// <summary>The tree has the feature unconditionally (the option was removed as always on).</summary>
    BuiltIn,
}

/// <summary>One config requirement whose option name differs between releases: its spellings, newest first.</summary>
public sealed record ConfigRequirement(string Name, string Why, IReadOnlyList<string> Spellings, string Value, WhenAbsent WhenAbsent);

/// <summary>A config fragment for one tree: the lines to merge, or the requirements that tree cannot meet.</summary>
public sealed record ResolvedFragment(string Text, IReadOnlyList<string> Missing);

/// <summary>
/// images/kernel/requirements.json resolved against a tree's own Kconfig: each requirement becomes the first spelling
/// the tree defines; hotplug.config's "is not set" lines for options the tree does not define are dropped (they are
/// not set there by definition), and its options the tree does not define are named as missing.
/// </summary>
public static partial class ConfigRequirements
{
    private sealed record RequirementFile(string? Name, string? Why, List<string>? Spellings, string? Value, WhenAbsent? WhenAbsent);

    private sealed record FileShape(string? Comment, List<RequirementFile>? Requirements);

    /// <summary>Reads the requirements; the harness's own data, so a malformed file is an internal error naming the field.</summary>
    public static IReadOnlyList<ConfigRequirement> Load(string file)
    {
        FileShape shape;
        try
        {
            shape = JsonSerializer.Deserialize<FileShape>(File.ReadAllText(file), HarnessJson.StrictOptions) ?? new(null, null);
        }
        catch (JsonException e)
        {
            throw new InfrastructureException($"{file}: not a requirements file{(e.Path is null ? "" : " at " + e.Path)}: {e.Message.Split('\n')[0]}");
        }
        return (shape.Requirements ?? []).Select((r, i) => Check(file, i, r)).ToList();
    }

    private static ConfigRequirement Check(string file, int i, RequirementFile r)
    {
        string Where(string field) => $"{file}: requirements[{i}].{field}";
        if (r.Name is not { Length: > 0 }) throw new InfrastructureException($"{Where("name")}: missing");
        if (r.Spellings is not { Count: > 0 } || r.Spellings.Any(s => !OptionName().IsMatch(s)))
            throw new InfrastructureException($"{Where("spellings")}: want one or more CONFIG_ names");
        return new ConfigRequirement(r.Name, r.Why ?? r.Name, r.Spellings, r.Value ?? "y", r.WhenAbsent ?? WhenAbsent.Missing);
    }

    /// <summary>
    /// The fragment for a tree that defines <paramref name="defined"/> (CONFIG_-less symbol names): the base fragment's
    /// lines that apply, then one line per requirement, then <paramref name="extra"/> (a case's own options).
    /// </summary>
    public static ResolvedFragment Resolve(string baseFragment, IReadOnlyList<ConfigRequirement> requirements, ISet<string> defined,
        IReadOnlyList<string>? extra = null)
    {
        var lines = new List<string>();
        var missing = new List<string>();
        foreach (var line in baseFragment.TrimEnd().Split('\n').Concat(extra ?? []).Select(l => l.TrimEnd()))
        {
            if (Option(line) is not { } option) { lines.Add(line); continue; }
            if (defined.Contains(option.Name["CONFIG_".Length..])) lines.Add(line);
            else if (option.Value != "n") missing.Add($"{option.Name} (the tree's Kconfig does not define it)");
        }
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        foreach (var r in requirements)
        {
            var spelling = r.Spellings.FirstOrDefault(s => defined.Contains(s["CONFIG_".Length..]));
            if (spelling is not null) lines.Add($"{spelling}={r.Value}");
            else if (r.WhenAbsent == WhenAbsent.Missing) missing.Add($"{r.Name}: none of {string.Join(", ", r.Spellings)} (needed: {r.Why})");
        }
        return new ResolvedFragment(string.Join('\n', lines).TrimEnd() + "\n", missing);
    }

    private static (string Name, string Value)? Option(string line)
    {
        var options = KernelConfig.Parse(line);
        return options.Count == 1 ? (options.Keys.First(), options.Values.First()) : null;
    }

    [GeneratedRegex("^CONFIG_[A-Za-z0-9_]+$")]
    private static partial Regex OptionName();
}

/// <summary>The config symbols a kernel tree defines (every <c>config X</c> and <c>menuconfig X</c> of its Kconfig files).</summary>
public static partial class KconfigSymbols
{
    public static HashSet<string> Scan(string tree)
    {
        var symbols = new HashSet<string>(StringComparer.Ordinal);
        var files = Directory.EnumerateFiles(tree, "Kconfig*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true });
        foreach (var file in files)
            foreach (var line in File.ReadLines(file))
                if (Definition().Match(line) is { Success: true } m) symbols.Add(m.Groups[1].Value);
        return symbols;
    }

    [GeneratedRegex(@"^\s*(?:menu)?config\s+([A-Za-z0-9_]+)\s*$")]
    private static partial Regex Definition();
}
