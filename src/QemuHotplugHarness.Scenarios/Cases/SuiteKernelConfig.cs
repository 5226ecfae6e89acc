namespace QemuHotplugHarness.Scenarios.Cases;

/// <summary>
/// One kernel configuration per line for the whole suite: the union of what the repository's cases need (their
/// "config" lines, fragments expanded), so every case runs on the same build of a line and a case's variant rebuilds
/// only the files its fix touches. A user's case (--cases) that needs more gets the union plus its own lines, its
/// value winning for an option both name.
/// </summary>
public static class SuiteKernelConfig
{
    /// <summary>
    /// The union of <paramref name="cases"/>' config lines, in the order they first appear over the cases by name;
    /// two cases asking different values of one option is the harness's own data contradicting itself.
    /// </summary>
    public static IReadOnlyList<string> Union(IEnumerable<Case> cases)
    {
        var byOption = new Dictionary<string, (string Line, string Case)>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var c in cases.OrderBy(c => c.Name, StringComparer.Ordinal))
            foreach (var line in c.Config)
            {
                var option = Option(line);
                if (byOption.TryGetValue(option, out var seen))
                {
                    if (seen.Line != line)
                        throw new InfrastructureException($"cases {seen.Case} and {c.Name} ask different values of {option} (\"{seen.Line}\", \"{line}\"): " +
                                                          "the suite builds one kernel configuration per line");
                    continue;
                }
                byOption[option] = (line, c.Name);
                order.Add(line);
            }
        return order;
    }

    /// <summary>The configuration a case's kernels are built with: the suite's union, the case's own lines winning.</summary>
    public static IReadOnlyList<string> For(Case c, IReadOnlyList<string> union)
    {
        var own = c.Config.ToDictionary(Option, l => l, StringComparer.Ordinal);
        var merged = union.Select(l => own.GetValueOrDefault(Option(l), l)).ToList();
        var known = union.Select(Option).ToHashSet(StringComparer.Ordinal);
        merged.AddRange(c.Config.Where(l => !known.Contains(Option(l))));
        return merged;
    }

    /// <summary>The option a config line sets: CONFIG_X of "CONFIG_X=y" and of "# CONFIG_X is not set".</summary>
    public static string Option(string line) =>
        line.StartsWith('#') ? line.TrimStart('#', ' ').Split(' ')[0] : line.Split('=', 2)[0];
}
