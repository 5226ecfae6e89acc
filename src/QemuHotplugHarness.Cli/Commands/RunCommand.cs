using System.ComponentModel;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

/// <summary>Options shared by run and reproduce: where kernels and QEMU come from, how guests run.</summary>
public class GuestSettings : ScenarioSettings
{
    [CommandOption("--accel <MODE>")] [Description("auto (probe KVM, fall back to TCG), kvm or tcg (default auto).")]
    public string Accel { get; init; } = "auto";

    [CommandOption("--artifacts <DIR>")] [Description("Artifacts folder (default artifacts/<timestamp>).")]
    public string? Artifacts { get; init; }

    [CommandOption("--kernel-src <DIR>")] [Description("Kernel tree to build the variants from (default linux-source-6.1).")]
    public string? KernelSrc { get; init; }

    [CommandOption("--patch <FILE>")] [Description("The patch under test (default: the case's fix for the kernel line, cases/NAME/).")]
    public string? Patch { get; init; }

    [CommandOption("--qemu-src <DIR|TARBALL>")] [Description("QEMU tree to patch and build (default Debian's source package).")]
    public string? QemuSrc { get; init; }

    [CommandOption("--kernel-image <NAME=PATH>")] [Description("Register a prebuilt kernel under NAME (repeatable); use it with --kernel NAME.")]
    public string[] KernelImages { get; init; } = [];

    [CommandOption("--modules <DIR>")] [Description("Modules tree (/lib/modules/RELEASE) of the prebuilt kernel; its NVDIMM and NIC drivers are loaded at boot.")]
    public string? Modules { get; init; }

    [CommandOption("--kernel-deb <[NAME=]FILE|DIR>")]
    [Description("Register a distro kernel under NAME (default deb): linux-image-*.deb, or the set a kernel is split into " +
                 "(linux-image + linux-binary + linux-modules ...: repeat with the same NAME, comma-separate, or give a folder).")]
    public string[] KernelDebs { get; init; } = [];

    [CommandOption("--boot-timeout <SECONDS>")]
    [Description("Seconds to wait for the guest (default 120 for the harness's kernels, 600 when a kernel is registered: distro kernels boot for minutes under TCG).")]
    public int? BootTimeoutSeconds { get; init; }

    /// <summary>--boot-timeout, else 120 s (the harness's small kernels), or 600 s when a prebuilt kernel is registered.</summary>
    public int BootTimeout => BootTimeoutSeconds ?? (KernelImages.Length > 0 || KernelDebs.Length > 0 ? 600 : 120);

    [CommandOption("--command-timeout <SECONDS>")] [Description("Seconds one ndctl may take before the run is 'hung' (default 60).")]
    public int CommandTimeout { get; init; } = 60;

    [CommandOption("--ssh-port <PORT>")] [Description("Host port for the guest's sshd on 127.0.0.1 (default: a free one).")]
    public int? SshPort { get; init; }

    [CommandOption("--no-snapshot")] [Description("Boot every guest cold (default: boot each distinct guest once, save it, restore later cells from it).")]
    public bool NoSnapshot { get; init; }

    /// <summary>Where kernels come from; a --kernel-src that is not a kernel tree is bad input before anything starts.</summary>
    public KernelSources Sources()
    {
        if (KernelSrc is not null)
        {
            KernelTree.Validate(KernelSrc);
            var tree = Path.TrimEndingDirectorySeparator(Path.GetFullPath(KernelSrc)) + Path.DirectorySeparatorChar;
            var artifacts = Path.GetFullPath(Artifacts ?? "artifacts") + Path.DirectorySeparatorChar;
            if (artifacts.StartsWith(tree, StringComparison.Ordinal))
                throw new BadInputException(InputKind.Artifacts, Artifacts ?? "artifacts (the default)",
                    $"inside the kernel tree under test ({KernelSrc}): it would become part of the tree; give --artifacts outside it");
        }
        var sources = new KernelSources(KernelSrc, Patch, QemuSrc, KernelSources.ParsePrebuilt(KernelImages, Modules))
        {
            KernelDebs = KernelSources.CheckKernelDebs(KernelDebs), KernelLine = EffectiveKernelLine(),
        };
        return SelectedCase() is { } c ? sources with { Recipe = KernelRecipe.Of(c, sources) } : sources;
    }

    /// <summary>The patches a run builds its kernels with: --patch, else the fix of the kernel line of --case (or the default case).</summary>
    public IReadOnlyList<string> CasePatches() => Patch is not null ? [Patch] : [CaseOrDefault().PatchFor(EffectiveKernelLine())];

    /// <summary>
    /// The kernel line whose fix a case's kernels are built with: --kernel-line; else, for --kernel-src, the line the
    /// tree's Makefile version belongs to (a 7.x tree takes the latest line's port); else the default line.
    /// </summary>
    public string EffectiveKernelLine() => RepoLayout.Discover().Lines().Resolve(KernelLine, KernelSrc).Name;

    /// <summary>Checks what can be checked before anything is built: a named kernel must be registered.</summary>
    public KernelSources ValidatedSources(Scenario scenario)
    {
        var sources = Sources();
        if (scenario.Kernel.Image is { } name && !sources.RegisteredNames.Contains(name))
            throw new BadInputException(InputKind.Kernel, name,
                $"no such kernel variant or {CliInputs.Flag(InputKind.KernelImage)} (use unpatched, patched, or register NAME=PATH)");
        return sources;
    }

    public RunOptions Options(Action<string>? progress = null) => new()
    {
        Accel = ParseAccel(Accel),
        Timeouts = new GuestTimeouts { Boot = TimeSpan.FromSeconds(BootTimeout), Command = TimeSpan.FromSeconds(CommandTimeout) },
        SshPort = SshPort, Progress = progress, Snapshots = !NoSnapshot,
    };

    private static AccelChoice ParseAccel(string text) =>
        Enum.TryParse<AccelChoice>(text, ignoreCase: true, out var choice) && Enum.IsDefined(choice) && !int.TryParse(text, out _)
            ? choice
            : throw new BadInputException(InputKind.Accel, text, "unknown value (use auto, kvm or tcg)");

    /// <summary>
    /// What reports name as the change under test: the patch (--patch, else the cases' fixes) by its subject line, on
    /// the tree by what it is (Debian package and version, git remote/commit/dirty, or a folder). With
    /// <paramref name="treeAsIs"/> (bisect) no patch is applied: the tree itself is tested for the fix.
    /// </summary>
    public async Task<ChangeUnderTest> ChangeAsync(BuildContext ctx, bool treeAsIs, CancellationToken ct, IReadOnlyList<string>? casePatches = null)
    {
        var runner = ctx.Runner("kernel");
        var tree = KernelSrc is null
            ? await DebianTreeAsync(ctx, ct)
            : await new KernelTree(runner, ctx.Cache).IdentifyAsync(KernelSrc, ct);
        var patches = Patch is null ? casePatches ?? CasePatches() : [Patch];
        if (!treeAsIs) return ChangeUnderTest.Of(patches, tree);
        var looked = ChangeUnderTest.Of(patches, tree);
        return ChangeUnderTest.Of([], tree) with { Subject = $"the tree as it is, checked for: {looked.Subject}" };
    }

    /// <summary>The line's Debian source as reports name it: its package and version (fetched now when not on this machine yet).</summary>
    private async Task<TreeIdentity> DebianTreeAsync(BuildContext ctx, CancellationToken ct)
    {
        var source = await new LineSources(ctx).GetAsync(ctx.Repo.Lines().Get(EffectiveKernelLine()), ct); // the build needs it next anyway
        return TreeIdentity.Debian(source.Package, source.Version);
    }
}

public sealed class RunCommand : AsyncCommand<GuestSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, GuestSettings settings, CancellationToken ct)
    {
        await InputChecks.GuestAsync(settings, treeAsIs: false, ct);
        var scenario = settings.ResolveScenario();
        var sources = settings.ValidatedSources(scenario);
        var options = settings.Options();
        var artifacts = HarnessLog.PrepareArtifacts(settings.Artifacts ?? HarnessLog.DefaultArtifacts("run-"));
        using var log = (Serilog.Core.Logger)HarnessLog.Create(artifacts);
        var ctx = BuildContext.Create(log, artifacts);
        var reproducer = new Reproducer(ctx, new InputsResolver(ctx, sources), log);
        log.Information("run {Scenario} into {Artifacts}", scenario.Describe(), artifacts);
        var judge = CaseExpectations.JudgeFor(settings.SelectedCase(), scenario);
        var prediction = judge.Predict(scenario);
        var observation = await reproducer.ObserveAsync(new CellRequest(scenario, prediction, new CellArtifacts(artifacts)),
            options with { Progress = p => log.Information("{Progress}", p) }, ct);
        var cell = new CellResult(scenario.Name, 1, scenario, prediction, observation, judge.Mismatches(prediction, observation));
        if (settings.Json) Console.WriteLine(HarnessJson.Serialize(observation));
        else Print(cell, artifacts);
        return VerdictExit.Of(cell);
    }

    private static void Print(CellResult cell, string artifacts)
    {
        var (o, p) = (cell.Observation, cell.Prediction);
        Console.WriteLine($"observed: {o.Outcome.Kebab()}" + (o.OopsIteration is { } i ? $" at iteration {i}, fault pfn {Reports.HexOrNone(o.FaultPfn)}" : "")
                          + (o.Rejection is not null ? $": {o.Rejection}" : "") + (o.Error is not null ? $" ({o.Error})" : ""));
        foreach (var oops in o.Oopses) Console.WriteLine($"  oops: {oops.Title} (fault {Reports.HexOrNone(oops.FaultAddress)}, pfn {Reports.HexOrNone(oops.FaultPfn)})");
        Console.WriteLine($"predicted: {p.Outcome.Kebab()}" + (p.OopsIteration is { } j ? $" at iteration {j}, fault pfn {Reports.HexOrNone(p.FirstFaultPfn)}" : ""));
        Console.WriteLine(cell.Unjudged ? "not judged: " + o.Outcome.Kebab() : cell.Match ? "match" : "MISMATCH: " + string.Join("; ", cell.Mismatches));
        Console.WriteLine($"artifacts: {artifacts}");
    }
}
