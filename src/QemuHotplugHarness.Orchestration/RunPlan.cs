using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;

namespace QemuHotplugHarness.Orchestration;

/// <summary>How a cell is judged: the simulator's prediction, or the expectation its case writes down.</summary>
public enum Judge { Simulator, Expectation }

/// <summary>One kernel the plan boots: a variant of a recipe (fix and config) on a line; equal kernels are one build.</summary>
public sealed record PlannedKernel(KernelVariant Variant, KernelRecipe Recipe, string Line)
{
    public bool Equals(PlannedKernel? other) => other is not null && Variant == other.Variant && Recipe.Key == other.Recipe.Key && Line == other.Line;

    public override int GetHashCode() => HashCode.Combine(Variant, Recipe.Key, Line);

    /// <summary>CASE/fix-LINE.patch for a case's fix, the file's name for the user's.</summary>
    private string PatchName => Path.GetFileName(Path.GetDirectoryName(Recipe.Patch)) is { Length: > 0 } folder
        ? $"{folder}/{Path.GetFileName(Recipe.Patch)}"
        : Path.GetFileName(Recipe.Patch);

    public override string ToString() => $"{Variant.Kebab()} on line {Line}: {PatchName}" +
                                         (Recipe.ExtraConfig.Count == 0 ? "" : $" + {Recipe.ExtraConfig.Count} config option(s)");
}

/// <summary>
/// A run resolved once at the edge, before anything is built: its line, the cases it runs and those it skips (with why),
/// and every cell with its scenario, kernel and judge. reproduce, soak and build consume it; --plan prints it.
/// </summary>
public sealed record RunPlan(string Line, IReadOnlyList<Case> Cases, IReadOnlyList<SkippedCase> Skipped, IReadOnlyList<Cell> Cells)
{
    /// <summary>The fix patches the cells build with, each once.</summary>
    public IReadOnlyList<string> Patches => Cells.Select(c => c.Kernel!.Patch).Distinct().ToList();

    /// <summary>The kernels the harness builds for the plan (a cell that boots a registered image needs none).</summary>
    public IReadOnlyList<PlannedKernel> Kernels => Cells.Where(c => c.Scenario.Kernel.Image is null)
        .Select(c => new PlannedKernel(c.Scenario.Kernel.Variant, c.Kernel!, c.Scenario.Kernel.Line ?? Line)).Distinct().ToList();

    /// <summary>
    /// The plan without the cases a registered kernel (the kernel under test) cannot run: its config (when known)
    /// lacks an option the case needs. Each is skipped naming the kernel and the options; the other cases run. A
    /// plan left with no case is the kernel's problem: bad input naming it.
    /// </summary>
    public RunPlan WithoutCasesTheKernelsLack(IReadOnlyDictionary<string, Build.KernelBuild> registered)
    {
        var lacking = Cases.Select(c => (Case: c, Reason: Lacks(c, registered))).Where(x => x.Reason is not null).ToList();
        if (lacking.Count == 0) return this;
        var skipped = lacking.Select(x => new SkippedCase(x.Case.Name, Line, x.Reason!)).ToList();
        if (lacking.Count == Cases.Count) throw new BadInputException(skipped.Select(x => InputProblem.General($"case {x.Case}: {x.Reason}")).ToList());
        var names = lacking.Select(x => x.Case.Name).ToHashSet();
        return this with
        {
            Cases = Cases.Where(c => !names.Contains(c.Name)).ToList(), Cells = Cells.Where(c => !names.Contains(c.Case ?? "")).ToList(),
            Skipped = [.. Skipped, .. skipped],
        };
    }

    private string? Lacks(Case c, IReadOnlyDictionary<string, Build.KernelBuild> registered)
    {
        var kernels = Cells.Where(x => x.Case == c.Name).Select(x => x.Scenario.Kernel.Image ?? x.Scenario.Kernel.Variant.Kebab()).Distinct();
        foreach (var name in kernels)
        {
            if (!registered.TryGetValue(name, out var k) || k.ConfigOptions() is not { } options) continue;
            var missing = c.Config.Select(l => l.Split('=', 2)).Where(kv => kv.Length == 2 && options.GetValueOrDefault(kv[0]) != kv[1])
                .Select(kv => $"{kv[0]}={kv[1]}").ToList();
            if (missing.Count > 0) return $"kernel {name} ({k.BzImage}) lacks {string.Join(", ", missing)} (its config: {k.Config})";
        }
        return null;
    }

    /// <summary>A kernel registered under a name no cell boots (--kernel-deb FILE is named "deb") is bad input, not silently unused.</summary>
    public void CheckEveryKernelIsUsed(KernelSources sources)
    {
        var used = Cells.Select(c => c.Scenario.Kernel.Image).OfType<string>().Concat(["unpatched", "patched"]).ToHashSet();
        var images = sources.Prebuilt.Keys.Where(n => !used.Contains(n)).Select(n => new InputProblem(InputKind.KernelImage, $"{n}=…", Unused(n)));
        var debs = Build.KernelDebSet.Group(sources.KernelDebs).Select(d => d.Name).Where(n => !used.Contains(n))
            .Select(n => new InputProblem(InputKind.KernelDeb, $"{n}=…", Unused(n)));
        var problems = images.Concat(debs).ToList();
        if (problems.Count > 0) throw new BadInputException(problems);
    }

    private static string Unused(string name) =>
        $"no cell boots a kernel named \"{name}\": register it as patched= (the kernel under test) or unpatched=, or pick it with --kernel {name}";

    public static Judge JudgeOf(Cell c) => c.Judge.Kind;

    /// <summary>What --plan prints: the line, each cell with its kernel and judge, each kernel to build, each skipped case.</summary>
    public IReadOnlyList<string> Describe() =>
    [
        $"plan: {Cases.Count} case(s), {Cells.Count} cell(s) on kernel line {Line}",
        .. Cells.Select(DescribeCell),
        $"kernels to build: {Kernels.Count} on {Configurations} configuration(s) (the variants of one configuration rebuild only what their fix touches)",
        .. Kernels.Select(k => "  " + k),
        .. Skipped.Select(x => $"skipped: {x.Case}: {x.Reason}"),
    ];

    /// <summary>How many distinct kernel configurations the plan builds (one per line when every case takes the suite's).</summary>
    public int Configurations => Kernels.Select(k => k.Line + "\n" + string.Join("\n", k.Recipe.ExtraConfig)).Distinct(StringComparer.Ordinal).Count();

    private static string DescribeCell(Cell c)
    {
        var s = c.Scenario;
        var kernel = s.Kernel.Image ?? s.Kernel.Variant.Kebab();
        var judge = c.Expect is { } e ? $"expectation: {e.Describe()}" : $"simulator: {Describe(c.Predict())}";
        return $"  {c.Label}: kernel {kernel}, PSE {(s.Cpu.Pse ? "on" : "off")}, QEMU {s.Qemu.Kebab()}; judge {judge}";
    }

    private static string Describe(Simulator.Prediction p) => p.Outcome.Kebab() + (p.OopsIteration is { } i ? $" at iteration {i}" : "");
}

/// <summary>
/// What a command asks for, before it is resolved: the cases (one, or the suite of the catalog), the line, where kernels
/// come from, each case's scenario with the user's flags, and a matrix that replaces a case's own cells (--matrix, bisect).
/// </summary>
public sealed record PlanRequest(CaseCatalog Catalog, string Line, KernelSources Sources)
{
    /// <summary>--case, else the default case; ignored for a suite.</summary>
    public string? Case { get; init; }
    public bool Suite { get; init; }
    /// <summary>A case's base scenario with the user's flags applied (identity: the case's own).</summary>
    public Func<Case, Scenario> ScenarioOf { get; init; } = c => c.Scenario;
    /// <summary>Cells that replace a case's own (--matrix, the bisect cell); null: the case's own cells.</summary>
    public Func<Scenario, IReadOnlyList<Cell>?> Matrix { get; init; } = _ => null;
    /// <summary>Why a matrix was given (its flag), for the refusal on a case judged by its own cells' expectations.</summary>
    public string MatrixFlag { get; init; } = "--matrix";
}

/// <summary>The one place a command's inputs become a <see cref="RunPlan"/>.</summary>
public static class RunPlanner
{
    public static RunPlan Plan(PlanRequest r)
    {
        var (cases, skipped) = r.Suite ? SuiteOf(r) : ([r.Catalog.Load(r.Case ?? Build.HarnessDefaults.Repo.Case)], []);
        if (cases.Count == 0) throw new BadInputException($"no case of the suite runs on kernel line {r.Line}: {string.Join("; ", skipped.Select(s => s.Reason))}");
        var cells = cases.SelectMany(c => CellsOf(r, c)).ToList();
        return new RunPlan(r.Line, cases, skipped, cells);
    }

    /// <summary>Every case that can run on the line; the rest skipped with why (not applicable, no fix, a private case that does not load).</summary>
    private static (IReadOnlyList<Case>, IReadOnlyList<SkippedCase>) SuiteOf(PlanRequest r)
    {
        var (all, broken) = r.Catalog.LoadAll();
        var skipped = broken.Select(b => new SkippedCase(b.Name, null, $"does not load ({b.Folder}): {string.Join("; ", b.Problems)}")).ToList();
        var inapplicable = r.Sources.Patch is not null ? [] : all.Where(c => c.NotApplicableOn(r.Line) is not null).ToList();
        skipped.AddRange(inapplicable.Select(c => new SkippedCase(c.Name, r.Line, c.NotApplicableOn(r.Line)!)));
        return (all.Except(inapplicable).ToList(), skipped);
    }

    /// <summary>A case's cells on its scenario with the flags applied: its own cells, or the request's matrix (modelled cases only).</summary>
    private static IReadOnlyList<Cell> CellsOf(PlanRequest r, Case c)
    {
        var recipe = KernelRecipe.Of(c, r.Sources with { KernelLine = r.Line });
        var b = r.ScenarioOf(c);
        if (r.Matrix(b) is not { } chosen) return SuiteCases.Cells(c, b, recipe);
        if (!c.Modelled)
            throw new BadInputException(InputKind.Case, c.Name,
                $"not modelled ({c.NotModelledReason}): its own cells carry what each must show; drop {r.MatrixFlag}");
        return chosen.Select(cell => SuiteCases.Tag(cell, c, null, recipe)).ToList();
    }
}
