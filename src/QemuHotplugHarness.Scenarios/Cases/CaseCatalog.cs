namespace QemuHotplugHarness.Scenarios.Cases;

/// <summary>A case folder that could not be loaded, and why (one line per problem of its case.json).</summary>
public sealed record BrokenCase(string Name, string Folder, IReadOnlyList<string> Problems);

/// <summary>
/// Every case a run may take: the repository's <c>cases/</c> and the user's own folders (--cases DIR, repeatable), read
/// with the same strict loader. A broken case of the repository is the harness's fault (exit 3); a broken case of a
/// user's folder is the user's, named with its problems and, in a suite, skipped so the other cases still run.
/// </summary>
public sealed class CaseCatalog(CaseLibrary repository, IReadOnlyList<CaseLibrary> users)
{
    private IEnumerable<CaseLibrary> All => users.Prepend(repository);

    /// <summary>Every case's name, the repository's first.</summary>
    public IReadOnlyList<string> Names() => All.SelectMany(l => l.Names()).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>One case by name, from the first folder that has it; an unknown name is bad input listing the cases there are.</summary>
    public Case Load(string name)
    {
        var library = All.FirstOrDefault(l => l.Names().Contains(name, StringComparer.Ordinal));
        if (library is null)
            throw new BadInputException(InputKind.Case, name, $"no such case (cases: {string.Join(", ", Names())})");
        return (library == repository ? Owned(() => library.Load(name)) : library.Load(name)).OnSuiteConfig(SuiteConfig());
    }

    /// <summary>The one kernel configuration per line every case is built with: the union of the repository's cases' config.</summary>
    public IReadOnlyList<string> SuiteConfig() => _suiteConfig ??= SuiteKernelConfig.Union(Owned(() => repository.LoadAll()));

    private IReadOnlyList<string>? _suiteConfig;

    /// <summary>Every case that loads, and the user's cases that do not (the repository's must all load).</summary>
    public (IReadOnlyList<Case> Cases, IReadOnlyList<BrokenCase> Broken) LoadAll()
    {
        var cases = Owned(() => repository.LoadAll()).ToList();
        var broken = new List<BrokenCase>();
        foreach (var library in users)
            foreach (var name in library.Names())
            {
                var problems = new List<string>();
                if (library.TryLoad(name, problems) is { } c) cases.Add(c);
                else broken.Add(new BrokenCase(name, library.Folder, problems));
            }
        var twice = cases.GroupBy(c => c.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).ToList();
        if (twice.Count > 0)
            throw new BadInputException(twice.Select(g => InputProblem.General(
                $"case {g.Key}: in {string.Join(" and ", g.Select(c => c.Folder))}: give each case a name of its own")).ToList());
        return (cases.Select(c => c.OnSuiteConfig(SuiteConfig())).ToList(), broken);
    }

    /// <summary>The repository's own cases are the harness's data: a problem in them is an internal error, not the user's.</summary>
    private static T Owned<T>(Func<T> load)
    {
        try
        {
            return load();
        }
        catch (BadInputException e) when (e.Problems.All(p => p.Input is null))
        {
            throw new InfrastructureException("the harness's own cases/ are malformed:\n" + string.Join("\n", e.Problems));
        }
    }
}
