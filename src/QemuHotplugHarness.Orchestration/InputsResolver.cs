using QemuHotplugHarness.Build;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

/// <summary>Where kernels come from: built variants, or prebuilt images registered by name.</summary>
public sealed record KernelSources(string? KernelSrc, string? Patch, string? QemuSrc, IReadOnlyDictionary<string, KernelBuild> Prebuilt)
{
    public static KernelSources Default { get; } = new(null, null, null, new Dictionary<string, KernelBuild>());

    /// <summary>Build <see cref="KernelSrc"/> as it is, neither applying nor reverting the patch (bisect).</summary>
    public bool TreeAsIs { get; init; }

    /// <summary>Parses prebuilt kernel images given as NAME=PATH (with one modules tree for all).</summary>
    public static IReadOnlyDictionary<string, KernelBuild> ParsePrebuilt(IEnumerable<string> specs, string? modules)
    {
        var result = new Dictionary<string, KernelBuild>();
        foreach (var spec in specs)
        {
            var eq = spec.IndexOf('=');
            if (eq <= 0) throw new BadInputException(InputKind.KernelImage, spec, "use NAME=PATH");
            result[spec[..eq]] = KernelBuilder.Prebuilt(spec[..eq], spec[(eq + 1)..], modules);
        }
        return result;
    }
}

/// <summary>Builds (or takes from the cache) what a scenario boots.</summary>
public sealed class InputsResolver(BuildContext ctx, KernelSources sources)
{
    private readonly Dictionary<string, object> _memo = new();
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task<GuestInputs> ResolveAsync(Scenario s, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var qemu = await Memo("qemu-" + s.Qemu, () => new QemuBuilder(ctx).GetAsync(s.Qemu, sources.QemuSrc, ct));
            KernelBuild kernel;
            if (s.Kernel.Image is { } name)
                kernel = sources.Prebuilt.TryGetValue(name, out var k) ? k
                    : throw new BadInputException(InputKind.Kernel, name, "no such kernel variant or registered kernel image (use unpatched, patched, or register NAME=PATH)");
            else if (sources.Prebuilt.TryGetValue(s.Kernel.Variant.ToString().ToLowerInvariant(), out var registered))
                kernel = registered; // a prebuilt image registered as unpatched=PATH: the matrix's cells use the user's builds
            else
                kernel = await Memo("kernel-" + s.Kernel.Variant, () => new KernelBuilder(ctx) { TreeAsIs = sources.TreeAsIs }.GetAsync(s.Kernel.Variant, sources.KernelSrc, sources.Patch, ct));
            var image = await Memo("image", () => new ImageBuilder(ctx).GetAsync(ct));
            return new GuestInputs(qemu, kernel, image);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<T> Memo<T>(string key, Func<Task<T>> make) where T : notnull
    {
        if (_memo.TryGetValue(key, out var v)) return (T)v;
        var made = await make();
        _memo[key] = made;
        return made;
    }
}
