namespace QemuHotplugHarness.Scenarios.Cases;

/// <summary>
/// The cases of a folder (the repository's <c>cases/</c>, or a user's --cases DIR): one sub-folder per case, each with
/// its case.json; with <paramref name="knownLines"/> every line a case names must be a kernel line of the harness.
/// </summary>
public sealed class CaseLibrary(string folder, IReadOnlyCollection<string>? knownLines = null, string? fragments = null)
{
    public string Folder => folder;

    /// <summary>Every case's name (its folder), in ordinal order.</summary>
    public IReadOnlyList<string> Names() => Directory.Exists(folder)
        ? Directory.GetDirectories(folder).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList()
        : [];

    /// <summary>One case by name; an unknown name is bad input listing the cases there are.</summary>
    public Case Load(string name)
    {
        var names = Names();
        if (!names.Contains(name, StringComparer.Ordinal))
            throw new BadInputException(InputKind.Case, name,
                names.Count == 0 ? $"no such case ({Display} has none)" : $"no such case (cases: {string.Join(", ", names)})");
        return CaseLoader.Load(Path.Combine(folder, name), DisplayOf(name), knownLines, fragments);
    }

    /// <summary>Every case; the problems of all malformed ones at once.</summary>
    public IReadOnlyList<Case> LoadAll()
    {
        var names = Names();
        if (names.Count == 0) throw new BadInputException($"{Display}: no cases");
        var problems = new List<string>();
        var cases = names.Select(n => CaseLoader.TryLoad(Path.Combine(folder, n), DisplayOf(n), problems, knownLines, fragments)).ToList();
        return problems.Count == 0 ? cases.OfType<Case>().ToList() : throw CaseLoader.Bad(problems);
    }

    /// <summary>One case, or null with its problems added to <paramref name="problems"/>.</summary>
    public Case? TryLoad(string name, List<string> problems) => CaseLoader.TryLoad(Path.Combine(folder, name), DisplayOf(name), problems, knownLines, fragments);

    private string Display => Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)) + "/";

    private string DisplayOf(string name) => $"{Display}{name}/{CaseLoader.FileName}";
}
