namespace QemuHotplugHarness.Scenarios.Cases;

/// <summary>The upstream fix a case guards: its Subject, and where known its commit, what it fixes, its release and a link.</summary>
public sealed record CaseFix(string Subject, string? Commit, string? Fixes, string? Release, string? Link);

/// <summary>
/// The fix as it stands in one kernel line's tree: a forward patch (the tree contains it) and where the code lives; and/or
/// why the case does not apply to that line: with no patch, the bug never existed there; with a patch, the fix is ported
/// but the case's workload cannot show the bug on that line (the suite skips it; a run naming the case still runs it).
/// </summary>
public sealed record CaseLine(string Line, string? Patch, string? Code, string? NotApplicable = null);

/// <summary>
/// What one cell must show when the simulator does not model the case: an outcome, and for an oops its title (exact,
/// or a prefix when it ends with <c>*</c>) and the iteration (0 = during setup) when given.
/// </summary>
public sealed record CaseExpectation(Outcome Outcome, string? Title = null, int? Iteration = null)
{
    /// <summary>Whether the scanner's title of the first oops is the one expected (true when no title is expected).</summary>
    public bool TitleMatches(string? observed) =>
        Title is null || observed is not null && (Title.EndsWith('*')
            ? observed.StartsWith(Title[..^1], StringComparison.Ordinal)
            : observed.Equals(Title, StringComparison.Ordinal));

    /// <summary>"oops \"kernel BUG in x*\" at iteration 1", "clean".</summary>
    public string Describe() =>
        Outcome.Kebab() + (Title is null ? "" : $" \"{Title}\"") + (Iteration is { } i ? $" at iteration {i}" : "");
}

/// <summary>One cell of a case's own matrix: the kernel variant, PSE, QEMU flavour, and (for a case outside the model) what it must show.</summary>
public sealed record CaseCell(string Name, KernelVariant Kernel, bool Pse, QemuFlavour Qemu, CaseExpectation? Expect);

/// <summary>
/// A regression case read from <c>cases/NAME/case.json</c>: the fix, its patch per kernel line, config beyond the
/// harness's fragment, the base scenario (with the case's workload steps, if any), its cells (null only while loading failed; the seed's
/// five-cell matrix, predicted by the simulator) and whether the simulator models it.
/// </summary>
public sealed record Case
{
    public required string Name { get; init; }
    /// <summary>The case's folder (absolute).</summary>
    public required string Folder { get; init; }
    public required string Summary { get; init; }
    public required CaseFix Fix { get; init; }
    public required IReadOnlyDictionary<string, CaseLine> Lines { get; init; }
    public IReadOnlyList<string> Config { get; init; } = [];

    /// <summary>
    /// The config its kernels are built with beyond hotplug.config: the suite's one configuration per line
    /// (<see cref="SuiteKernelConfig"/>) when loaded through the catalog, else its own <see cref="Config"/>.
    /// </summary>
    public IReadOnlyList<string> KernelConfig => _kernelConfig ?? Config;

    private IReadOnlyList<string>? _kernelConfig;

    /// <summary>The case built on <paramref name="suite"/> (the union of the repository's cases' config).</summary>
    public Case OnSuiteConfig(IReadOnlyList<string> suite)
    {
        var config = SuiteKernelConfig.For(this, suite);
        // The model's debug options are those of the kernel the case runs on, not only the lines it names itself.
        return this with { _kernelConfig = config, Model = Model?.OnKernelConfig(config) };
    }
    public required Scenario Scenario { get; init; }
    public IReadOnlyList<CaseCell>? Cells { get; init; }
    public required bool Modelled { get; init; }
    public string? NotModelledReason { get; init; }

    /// <summary>The simulator's model of the case's fix (case.json "model"); null for the seed, whose mechanism is built in.</summary>
    public CaseModel? Model { get; init; }

    /// <summary>The fix patch (absolute path) of kernel line <paramref name="line"/>; bad input naming the case when it has none.</summary>
    public string PatchFor(string line) => Lines.TryGetValue(line, out var l) && l.Patch is { } patch
        ? patch
        : throw new BadInputException($"case {Name}: {NotApplicableOn(line)}");

    /// <summary>Why the suite skips the case on <paramref name="line"/> (not applicable there, or no fix is given); null when it runs it.</summary>
    public string? NotApplicableOn(string line) => Lines.TryGetValue(line, out var l)
        ? l.NotApplicable is { } reason ? $"not applicable on kernel line {line}: {reason}" : null
        : $"no fix for kernel line {line} (add fix-{line}.patch and a \"lines\" entry to {Name}/case.json, or say \"notApplicable\")";
}
