using QemuHotplugHarness.Build;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

/// <summary>Where kernels come from: built variants, or prebuilt images registered by name.</summary>
public sealed record KernelSources(string? KernelSrc, string? Patch, string? QemuSrc, IReadOnlyDictionary<string, KernelBuild> Prebuilt)
{
    public static KernelSources Default { get; } = new(null, null, null, new Dictionary<string, KernelBuild>());

    /// <summary>The kernel line whose fix patch a case's kernels are built with ("6.1", "6.12", "latest"; resolved to a tree by the builders).</summary>
    public string KernelLine { get; init; } = HarnessDefaults.Repo.Line;

    /// <summary>The kernel of scenarios that name no case (run, validate, soak, bench); null = the default case's for <see cref="KernelLine"/>.</summary>
    public KernelRecipe? Recipe { get; init; }

    /// <summary>Build <see cref="KernelSrc"/> as it is, neither applying nor reverting the patch (bisect).</summary>
    public bool TreeAsIs { get; init; }

    /// <summary>Distro kernel packages given as [NAME=]FILE, unpacked (once, cached) before anything is built.</summary>
    public IReadOnlyList<string> KernelDebs { get; init; } = [];

    /// <summary>Checks that each [NAME=]FILE|DIR names files (the rest is checked when they are unpacked, before anything is built).</summary>
    public static IReadOnlyList<string> CheckKernelDebs(IReadOnlyList<string> specs)
    {
        KernelDebSet.Group(specs);
        return specs;
    }

    /// <summary>Every name a kernel is registered under: images, and packages (whose names are known before unpacking).</summary>
    public IEnumerable<string> RegisteredNames => Prebuilt.Keys.Concat(KernelDebSet.Group(KernelDebs).Select(d => d.Name));

    /// <summary>
    /// Parses prebuilt kernel images given as NAME=PATH and checks each (a bzImage; its config when one is beside it).
    /// One modules tree serves the images of its release: those its folder is named after, else all of them (and
    /// their releases must match its modules').
    /// </summary>
    public static IReadOnlyDictionary<string, KernelBuild> ParsePrebuilt(IEnumerable<string> specs, string? modules, HarnessCache? cache = null)
    {
        var parsed = specs.Select(spec => spec.IndexOf('=') is > 0 and var eq ? (Name: spec[..eq], Path: spec[(eq + 1)..])
            : throw new BadInputException(InputKind.KernelImage, spec, "use NAME=PATH")).ToList();
        if (modules is not null && parsed.Count == 0)
            throw new BadInputException(InputKind.Modules, modules, "no --kernel-image to load these modules into");
        var result = new Dictionary<string, KernelBuild>();
        var ofRelease = parsed.Where(p => modules is not null && IsOfRelease(p.Path, modules)).Select(p => p.Name).ToHashSet();
        foreach (var (name, path) in parsed)
            result[name] = KernelBuilder.Prebuilt(name, path, ofRelease.Count == 0 || ofRelease.Contains(name) ? modules : null, cache);
        return result;
    }

    /// <summary>Whether the modules folder is named after the image's release (/lib/modules/RELEASE); the modules' vermagic is checked at registration.</summary>
    private static bool IsOfRelease(string image, string modules) =>
        File.Exists(image) && BzImage.TryRead(image, out _) is { } header && Path.GetFileName(Path.TrimEndingDirectorySeparator(modules)) == header.Release;
}

/// <summary>Builds (or takes from the cache) what a scenario boots.</summary>
public sealed class InputsResolver(BuildContext ctx, KernelSources sources)
{
    private readonly Dictionary<string, object> _memo = new();
    private Dictionary<string, KernelBuild>? _prebuilt;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public Task<GuestInputs> ResolveAsync(Scenario s, CancellationToken ct) => ResolveAsync(s, null, ct);

    /// <summary>
    /// What <paramref name="s"/> boots, its kernels built from <paramref name="recipe"/> (null: the sources' recipe, else the
    /// default case's).
    /// </summary>
    public async Task<GuestInputs> ResolveAsync(Scenario s, KernelRecipe? recipe, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var prebuilt = await PrebuiltAsync(ct); // packages first: a bad one is found before QEMU is built
            var line = s.Kernel.Line is { } lineName ? ctx.Repo.Lines().Get(lineName) : null; // an unknown line too
            var qemu = await Memo("qemu-" + s.Qemu, () => new QemuBuilder(ctx).GetAsync(s.Qemu, sources.QemuSrc, ct));
            KernelBuild kernel;
            if (s.Kernel.Image is { } name)
                kernel = prebuilt.TryGetValue(name, out var k) ? k
                    : throw new BadInputException(InputKind.Kernel, name, "no such kernel variant or registered kernel image (use unpatched, patched, or register NAME=PATH)");
            else if (prebuilt.TryGetValue(s.Kernel.Variant.ToString().ToLowerInvariant(), out var registered))
                kernel = registered; // a prebuilt image registered as unpatched=PATH: the matrix's cells use the user's builds
            else
                kernel = await BuiltKernelAsync(s.Kernel.Variant, recipe ?? sources.Recipe ?? DefaultRecipe(), line, ct);
            var image = await Memo("image", () => new ImageBuilder(ctx).GetAsync(ct));
            return new GuestInputs(qemu, kernel, image);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A kernel of a run's plan, built (or taken from the cache) exactly as a cell of that plan gets it.</summary>
    public async Task<KernelBuild> KernelAsync(PlannedKernel k, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            return await BuiltKernelAsync(k.Variant, k.Recipe, ctx.Repo.Lines().Get(k.Line), ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The kernel of a variant, a recipe and a line (the scenario's, else the run's): a cell of another line than the
    /// run's builds that line's source with the case's fix for it.
    /// </summary>
    private Task<KernelBuild> BuiltKernelAsync(KernelVariant variant, KernelRecipe recipe, KernelLine? line, CancellationToken ct)
    {
        var patch = line is not null && recipe.PatchForLine is { } forLine ? forLine(line.Name) : recipe.Patch;
        return Memo($"kernel-{variant}\n{recipe.Key}\n{line?.Name}\n{patch}", () =>
            new KernelBuilder(ctx) { TreeAsIs = sources.TreeAsIs, ExtraConfig = recipe.ExtraConfig, Line = line ?? ctx.Repo.Lines().Get(sources.KernelLine) }
                .GetAsync(variant, sources.KernelSrc, patch, ct));
    }

    private KernelRecipe DefaultRecipe() => KernelRecipe.Of(SuiteCases.Catalog(ctx.Repo, []).Load(HarnessDefaults.Repo.Case), sources);

    /// <summary>The kernels the user registered (images, and packages unpacked now, once), by name.</summary>
    public async Task<IReadOnlyDictionary<string, KernelBuild>> RegisteredAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            return await PrebuiltAsync(ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The registered images and the unpacked kernel packages, by name.</summary>
    private async Task<IReadOnlyDictionary<string, KernelBuild>> PrebuiltAsync(CancellationToken ct)
    {
        if (_prebuilt is not null) return _prebuilt;
        var all = new Dictionary<string, KernelBuild>(sources.Prebuilt);
        foreach (var deb in KernelDebSet.Group(sources.KernelDebs))
        {
            var kernel = await new KernelPackage(ctx).RegisterAsync(deb, ct);
            all[kernel.Name] = kernel;
        }
        return _prebuilt = all;
    }

    private async Task<T> Memo<T>(string key, Func<Task<T>> make) where T : notnull
    {
        if (_memo.TryGetValue(key, out var v)) return (T)v;
        var made = await make();
        _memo[key] = made;
        return made;
    }
}
