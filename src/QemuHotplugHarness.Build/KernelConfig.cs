namespace QemuHotplugHarness.Build;

/// <summary>Checks that every line of a config fragment stuck after olddefconfig.</summary>
public static class KernelConfig
{
    /// <summary>The options of <paramref name="fragment"/> whose value differs in <paramref name="config"/>, as "CONFIG_X=y (got n)".</summary>
    public static IReadOnlyList<string> NotStuck(string fragment, string config)
    {
        var actual = Parse(config);
        var problems = new List<string>();
        foreach (var (name, wanted) in Parse(fragment))
        {
            var got = actual.GetValueOrDefault(name, "n");
            if (got != wanted) problems.Add($"{name}={wanted} (got {got})");
        }
        return problems;
    }

    /// <summary>"CONFIG_X=y" → y; "# CONFIG_X is not set" → n.</summary>
    public static Dictionary<string, string> Parse(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("# CONFIG_", StringComparison.Ordinal) && line.EndsWith(" is not set", StringComparison.Ordinal))
                result[line[2..^11]] = "n";
            else if (line.StartsWith("CONFIG_", StringComparison.Ordinal) && line.IndexOf('=') is > 0 and var eq)
                result[line[..eq]] = line[(eq + 1)..];
        }
        return result;
    }
}
