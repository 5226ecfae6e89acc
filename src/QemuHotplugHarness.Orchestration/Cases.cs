using QemuHotplugHarness.Build;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration;

/// <summary>A case's kernel: the fix patch of the selected kernel line (or the user's --patch) and the config beyond the fragment.</summary>
public sealed record KernelRecipe(string Patch, IReadOnlyList<string> ExtraConfig)
{
    /// <summary>The case's fix for another line (a matrix cell of that line); null when the user's --patch is the fix.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Func<string, string>? PatchForLine { get; init; }

    /// <summary>The user's patch under test overrides the case's; a case without a fix for the line is bad input.</summary>
    public static KernelRecipe Of(Case c, KernelSources sources) =>
        new(sources.Patch ?? c.PatchFor(sources.KernelLine), c.KernelConfig) { PatchForLine = sources.Patch is null ? c.PatchFor : null };

    /// <summary>Kernels of equal recipes are the same build (the memo key beside the variant).</summary>
    public string Key => Patch + "\n" + string.Join("\n", ExtraConfig);
}

/// <summary>Where the repository keeps its cases, and the case a run without --case or --suite takes.</summary>
public static class SuiteCases
{
    public static CaseLibrary Library(RepoLayout repo) => new(Path.Combine(repo.Root, "cases"), LineNames(repo), repo.ConfigFragments);

    /// <summary>The repository's cases and the user's folders (--cases DIR), each case's lines checked against kernel-lines/.</summary>
    public static CaseCatalog Catalog(RepoLayout repo, IReadOnlyList<string> userFolders)
    {
        var missing = userFolders.Where(d => !Directory.Exists(d)).Select(d => new InputProblem(InputKind.CasesDir, d, "no such folder")).ToList();
        if (missing.Count > 0) throw new BadInputException(missing);
        return new(Library(repo), userFolders.Select(f => new CaseLibrary(Path.GetFullPath(f), LineNames(repo), repo.ConfigFragments)).ToList());
    }

    private static IReadOnlyCollection<string> LineNames(RepoLayout repo) => repo.Lines().All.Select(l => l.Name).ToList();

    /// <summary>
    /// A case's cells, as its case.json names them, each with its expectation
    /// when not modelled.
    /// </summary>
    public static IReadOnlyList<Cell> Cells(Case c, Scenario b, KernelRecipe recipe)
    {
        if (c.Cells is null) throw new InfrastructureException($"case {c.Name}: no cells (every case names its cells in case.json)");
        return c.Cells.Select(cc =>
            Tag(new Cell(cc.Name, b.WithQemu(cc.Qemu).WithKernel(cc.Kernel).WithPse(cc.Pse).WithName(cc.Name)), c, cc.Expect, recipe)).ToList();
    }

    /// <summary>A cell of case <paramref name="c"/>: judged by <paramref name="expect"/> when the case is not modelled.</summary>
    public static Cell Tag(Cell cell, Case c, CaseExpectation? expect, KernelRecipe recipe) => cell with
    {
        Case = c.Name, Kernel = recipe,
        Judge = CaseExpectations.JudgeOf(c, expect),
    };

    /// <summary>What the reports say of a case beside its cells.</summary>
    public static CaseInfo Info(Case c) => new(c.Name, c.Fix.Subject, c.Fix.Commit, c.Modelled);
}

/// <summary>
/// A case the run did not run, and why in the user's terms: not applicable on the line (the bug never existed there),
/// no fix for the line, or a case folder of the user's that does not load. Reported, never a failure of the suite.
/// </summary>
public sealed record SkippedCase(string Case, string? Line, string Reason);

/// <summary>A case as a run's reports name it: its fix and whether the simulator predicts it.</summary>
public sealed record CaseInfo(string Name, string Fix, string? Commit, bool Modelled);

/// <summary>One case of summary.json: its fix, its own verdict and the cells it ran.</summary>
public sealed record CaseSummary(string Name, string Fix, string? Commit, bool Modelled, Verdict Verdict, IReadOnlyList<string> Cells);

/// <summary>What a case outside the simulator expects, for predict and run.</summary>
public static class CaseExpectations
{
    /// <summary>The cell of <paramref name="c"/> that <paramref name="s"/> is (kernel variant, PSE, QEMU), or null.</summary>
    public static CaseCell? CellOf(Case c, Scenario s) =>
        s.Kernel.Image is null ? c.Cells?.FirstOrDefault(x => x.Kernel == s.Kernel.Variant && x.Pse == s.Cpu.Pse && x.Qemu == s.Qemu) : null;

    /// <summary>The simulator's prediction for a modelled case; else the expectation of the case's cell that <paramref name="s"/> is.</summary>
    /// <summary>The judge of a cell of <paramref name="c"/> whose case.json expectation is <paramref name="expect"/>.</summary>
    public static ICellJudge JudgeOf(Case c, CaseExpectation? expect) =>
        c.Modelled || expect is null ? new SimulatorJudge(c.Model) : new ExpectationJudge(expect, c.NotModelledReason ?? "the case says so");

    public static ICellJudge JudgeFor(Case? c, Scenario s)
    {
        if (c is null || c.Modelled) return new SimulatorJudge(c?.Model);
        var cell = CellOf(c, s) ?? throw new BadInputException(InputKind.Case, c.Name,
            $"not modelled, and none of its cells ({string.Join(", ", c.Cells!.Select(x => x.Name))}) " +
            $"is kernel {s.Kernel.Image ?? s.Kernel.Variant.Kebab()}, " +
            $"PSE {(s.Cpu.Pse ? "on" : "off")}, QEMU {s.Qemu.Kebab()}: such a case is judged by its cells' expectations");
        return JudgeOf(c, cell.Expect);
    }

    /// <summary>The memory devices beside the NVDIMM and the extra kernel arguments, when the case has any.</summary>
    public static IReadOnlyList<string> Machine(Scenario s) =>
    [
        .. s.Devices.IsEmpty ? Array.Empty<string>() : [$"Devices: {s.Devices.Describe()} (slots {s.Machine.Slots}, maxmem {s.Machine.MaxMem})"],
        .. s.KernelArgs is { } k ? [$"Kernel arguments: {k}"] : Array.Empty<string>(),
    ];

    /// <summary>predict --case on a case outside the model: what it is, why it is not modelled, what each cell must show.</summary>
    public static IReadOnlyList<string> Describe(Case c) =>
    [
        $"Case {c.Name}: {c.Summary}",
        $"Fix: {c.Fix.Subject}{(c.Fix.Commit is null ? "" : $" ({c.Fix.Commit})")}; kernel lines: {string.Join(", ", c.Lines.Keys)}",
        $"Not modelled: {c.NotModelledReason}",
        .. Machine(c.Scenario),
        "Expectations (judged on real guests):",
        .. (c.Cells ?? []).Select(x =>
            $"  {x.Name}: kernel {x.Kernel.Kebab()}, PSE {(x.Pse ? "on" : "off")}, QEMU {x.Qemu.Kebab()}: {x.Expect?.Describe() ?? "none"}"),
    ];
}
