using System.ComponentModel;
using System.Globalization;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Orchestration.Validation;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

/// <summary>
/// qhh validate: draws a stratified sample of the layout space (deterministic for a seed, printed), runs each
/// scenario on a real guest and reports where the kernel and the simulator agree. Exit 0 all agree, 1 a
/// disagreement (each with the qhh run command that reproduces it), 3 infrastructure.
/// </summary>
public sealed class ValidateCommand : AsyncCommand<ValidateCommand.Settings>
{
    public const int MaxSample = 1000;

    public sealed class Settings : GuestSettings
    {
        [CommandOption("--sample <N>")] [Description("Scenarios to draw (default 12).")]
        public int Sample { get; init; } = 12;

        [CommandOption("--seed <S>")] [Description("Seed of the draw (default 1); the same seed draws the same scenarios.")]
        public int Seed { get; init; } = 1;

        [CommandOption("--shard <K/N>")] [Description("Run a deterministic slice of the draw (merge the shards' folders).")]
        public string? Shard { get; init; }

        [CommandOption("--jobs <N>")] [Description("Scenarios in parallel, bounded by cores and memory (default: one per core, as reproduce).")]
        public int Jobs { get; init; } = Reproducer.DefaultJobs;

        [CommandOption("--every-case")]
        [Description("With --draw-only: share the sample among every modelled case of cases/, each drawn from its own layout space with its model.")]
        public bool EveryCase { get; init; }

        [CommandOption("--draw-only")] [Description("Print the draw and its predictions; boot nothing.")]
        public bool DrawOnly { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        if (s.Sample is < 1 or > MaxSample) throw new BadInputException(InputKind.Sample, s.Sample.ToString(CultureInfo.InvariantCulture), $"must be between 1 and {MaxSample}");
        if (s.Jobs < 1) throw new BadInputException(InputKind.Jobs, s.Jobs.ToString(CultureInfo.InvariantCulture), "at least 1");
        var sample = s.EveryCase ? EveryCase(s) : Draw(s);
        var mine = Validator.Shard(sample, s.Shard);
        if (s.DrawOnly)
        {
            if (s.Json) Console.WriteLine(HarnessJson.Serialize(new { sample.Info, scenarios = sample.Scenarios.Select(d => new { d.Name, d.OutcomeClass, d.Scenario, run = RunLine(s, d.Scenario, d.Case) }) }));
            else PrintDraw(sample, mine);
            return (int)ExitCode.Success;
        }
        await InputChecks.GuestAsync(s, treeAsIs: false, ct);
        foreach (var d in mine) s.ValidatedSources(d.Scenario);
        var artifacts = HarnessLog.PrepareArtifacts(s.Artifacts ?? HarnessLog.DefaultArtifacts("validate-"));
        if (!s.Json) PrintDraw(sample, mine);
        using var log = (Serilog.Core.Logger)HarnessLog.Create(artifacts);
        var ctx = BuildContext.Create(log, artifacts);
        var reproducer = new Reproducer(ctx, new InputsResolver(ctx, s.Sources()), log);
        var validator = new Validator(reproducer, log) { Jobs = s.Jobs, Change = await s.ChangeAsync(ctx, false, ct) };
        log.Information("validate: {Count} scenario(s) of the seed-{Seed} draw into {Artifacts}", mine.Count, s.Seed, artifacts);
        var summary = await validator.RunAsync(sample, mine, artifacts, s.Options(), s.Shard, (cell, state) => log.Information("[{Cell}] {State}", cell, state), ct);
        if (s.Json) Console.WriteLine(HarnessJson.Serialize(summary));
        else PrintResults(s, summary, artifacts);
        return VerdictExit.Of(summary.Verdict, bisect: false);
    }

    private static ValidationSample Draw(Settings s)
    {
        if (s.SelectedCase() is { Modelled: false } c)
            throw new BadInputException(InputKind.Case, c.Name, $"not modelled ({c.NotModelledReason}): validate draws only from modelled cases");
        var space = Space(s, s.ResolveScenario()) with { Case = s.SelectedCase()?.Name, Model = s.SelectedCase()?.Model };
        return WithCaseKernels(s, ValidationDraw.Draw(space, s.Sample, s.Seed, space.Predict));
    }

    /// <summary>Each scenario drawn from a case boots the case's kernels: its fix for the line, on the suite's configuration.</summary>
    private static ValidationSample WithCaseKernels(Settings s, ValidationSample sample)
    {
        var sources = s.Sources() with { KernelLine = s.EffectiveKernelLine() };
        var recipes = sample.Scenarios.Select(d => d.Case).OfType<string>().Distinct()
            .ToDictionary(name => name, name => KernelRecipe.Of(s.Catalog().Load(name), sources));
        return sample with { Scenarios = sample.Scenarios.Select(d => d.Case is { } c ? d with { Kernel = recipes[c] } : d).ToList() };
    }

    /// <summary>Every modelled case's space, the flags pinning the same dimensions in each.</summary>
    private static ValidationSample EveryCase(Settings s)
    {
        if (s.Case is not null) throw new BadInputException(InputKind.Case, s.Case, "give either --case or --every-case");
        var line = s.EffectiveKernelLine();
        var cases = s.Catalog().LoadAll().Cases.Where(c => c.Modelled && c.NotApplicableOn(line) is null).ToList();
        var spaces = cases.Select(c => Space(s, s.ResolveScenario(c.Scenario)) with { Case = c.Name, Model = c.Model }).ToList();
        return WithCaseKernels(s, ValidationDraw.DrawEveryCase(spaces, s.Sample, s.Seed));
    }

    /// <summary>The space the flags leave: a scenario flag pins its dimension; the other scenario fields are the base's.</summary>
    private static ValidationSpace Space(Settings s, Scenario b)
    {
        if (b.Kernel.Image is { } name)
            throw new BadInputException(InputKind.Kernel, name,
                $"not a kernel variant (validate models unpatched and patched; run your build as one of them with {CliInputs.Flag(InputKind.KernelImage)} unpatched=PATH)");
        var space = new ValidationSpace { Base = b };
        if (s.Machine is not null) space = space with { Machines = [b.Machine.Type] };
        if (s.Qemu is not null) space = space with { Qemus = [b.Qemu] };
        if (s.Ram is not null) space = space with { RamSizes = [b.Machine.Ram.Bytes] };
        if (s.NvdimmAddr is not null) space = space with { NvdimmAddresses = [b.Nvdimm.Address] };
        if (s.Pse is not null) space = space with { Pse = [b.Cpu.Pse] };
        if (s.NamespaceSize is not null) space = space with { NamespaceSizes = [b.Workload.NamespaceSize.Bytes] };
        if (s.Mode is not null) space = space with { Modes = [b.Workload.Mode] };
        if (s.Iterations is not null) space = space with { Iterations = [b.Workload.Iterations] };
        if (s.Kernel is not null) space = space with { Kernels = [b.Kernel.Variant] };
        return space;
    }

    private static void PrintDraw(ValidationSample sample, IReadOnlyList<DrawnScenario> mine)
    {
        var info = sample.Info;
        Console.WriteLine($"draw: seed {info.Seed}, sample {info.Sample} of {info.Candidates} distinct candidate layouts; outcome classes drawn: {string.Join(", ", info.ClassesDrawn)}" +
                          (info.ClassesDrawn.Count < info.ClassesInSpace.Count ? $" (in the space: {string.Join(", ", info.ClassesInSpace)})" : ""));
        Console.WriteLine($"   {"scenario",-50} {"qemu",-8} {"ram",-6} {"nvdimm",-12} {"ns",-5} {"iter",4}  predicted");
        foreach (var d in sample.Scenarios)
        {
            var sc = d.Scenario;
            var run = mine.Contains(d) ? " " : "-";
            Console.WriteLine($"{run}  {d.Name,-50} {sc.Qemu.Kebab(),-8} {sc.Machine.Ram,-6} {(sc.Nvdimm.Address is { } a ? Hex.Format(a) : "auto"),-12} {sc.Workload.NamespaceSize,-5} {sc.Workload.Iterations,4}  {d.OutcomeClass}" +
                              (DeviceLayouts.Describe(sc) is { } devices ? $"  ({devices})" : ""));
        }
        if (mine.Count < sample.Scenarios.Count) Console.WriteLine($"({mine.Count} of {sample.Scenarios.Count} in this shard; '-' marks the others)");
    }

    private static void PrintResults(Settings s, Summary summary, string artifacts)
    {
        Console.WriteLine($"{"scenario",-50} {"predicted",-16} {"observed",-18} agrees");
        foreach (var c in summary.Cells)
        {
            var infra = c.Observation.Outcome == Scenarios.Outcome.InfraError;
            Console.WriteLine($"{c.Name,-50} {Outcome(c.Prediction.Outcome, c.Prediction.OopsIteration),-16} {Outcome(c.Observation.Outcome, c.Observation.OopsIteration),-18} " +
                              (infra ? "not judged: " + c.Observation.Error : c.Match ? "yes" : "NO: " + string.Join("; ", c.Mismatches)));
            if (!infra && !c.Match) Console.WriteLine($"    reproduce: {RunLine(s, c.Scenario, c.Case)}");
        }
        foreach (var byCase in summary.Cells.Where(c => c.Case is not null && c.Observation.Outcome != Scenarios.Outcome.InfraError).GroupBy(c => c.Case))
            Console.WriteLine($"case {byCase.Key}: {byCase.Count(c => c.Match)}/{byCase.Count()} agree");
        var judged = summary.Cells.Where(c => c.Observation.Outcome != Scenarios.Outcome.InfraError).ToList();
        var agree = judged.Count(c => c.Match);
        var percent = judged.Count == 0 ? "" : $" ({100.0 * agree / judged.Count:F1}%)";
        Console.WriteLine($"agreement: {agree}/{judged.Count} scenarios agree with the simulator{percent}" +
                          (judged.Count < summary.Cells.Count ? $", {summary.Cells.Count - judged.Count} not judged" : "") +
                          $"; verdict {summary.Verdict.Kebab()} ({summary.Seconds:F0} s, {summary.Accel?.Kebab() ?? "no guest"}); artifacts: {artifacts}");
    }

    private static string Outcome(Scenarios.Outcome o, int? iteration) => o.Kebab() + (iteration is { } i ? "@" + i.ToString(CultureInfo.InvariantCulture) : "");

    /// <summary>The one qhh run command that reproduces a scenario, with the kernels and sources this validate used.</summary>
    public static string RunLine(GuestSettings s, Scenario sc, string? caseName = null)
    {
        var args = new List<string> { "qhh", "run" };
        if (caseName is not null) args.AddRange(["--case", caseName]);
        args.AddRange(ScenarioFlags(sc));
        foreach (var image in s.KernelImages) args.AddRange(["--kernel-image", image]);
        void Opt(string flag, string? value)
        {
            if (value is not null) args.AddRange([flag, value]);
        }
        Opt("--modules", s.Modules);
        Opt("--kernel-src", s.KernelSrc);
        Opt("--patch", s.Patch);
        Opt("--qemu-src", s.QemuSrc);
        return string.Join(' ', args.Select(Quote));
    }

    /// <summary>Every scenario field as the flags predict, run and reproduce take (the seed's values too: the line stands alone).</summary>
    public static IReadOnlyList<string> ScenarioFlags(Scenario sc) =>
    [
        "--machine", sc.Machine.Type.Kebab(), "--qemu", sc.Qemu.Kebab(), "--ram", sc.Machine.Ram.ToString(),
        "--maxmem", sc.Machine.MaxMem.ToString(), "--slots", Num(sc.Machine.Slots), "--smp", Num(sc.Machine.Smp),
        "--nvdimm-size", sc.Nvdimm.Size.ToString(), "--label-size", sc.Nvdimm.LabelSize.ToString(),
        "--nvdimm-addr", sc.Nvdimm.Address is { } a ? Hex.Format(a) : "auto", "--pse", sc.Cpu.Pse ? "on" : "off",
        "--kernel", sc.Kernel.Image ?? sc.Kernel.Variant.Kebab(), "--namespace-size", sc.Workload.NamespaceSize.ToString(),
        "--mode", sc.Workload.Mode.Kebab(), "--iterations", Num(sc.Workload.Iterations),
        .. sc.Kernel.Line is { } line ? new[] { "--kernel-line", line } : [],
    ];

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Quote(string a) =>
        a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_=,.:/+@".Contains(c)) ? a : "'" + a.Replace("'", "'\\''") + "'";
}
