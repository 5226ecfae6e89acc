using System.Diagnostics;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>Where a prebuilt kernel came from, for error lines: the input (flag) and the value the user gave.</summary>
public sealed record PrebuiltInput(InputKind Kind, string Value)
{
    public BadInputException Bad(string reason) => new(Kind, Value, reason);
}

/// <summary>A prebuilt kernel to register: the image, and what may come with it (modules tree, config, System.map).</summary>
/// <remarks>Positional with more than six fields: one parameter per file the user (or the package) gives.</remarks>
public sealed record PrebuiltKernel(string Name, string Image, PrebuiltInput Input, string? ModulesDir, PrebuiltInput? ModulesInput, string? Config, string? SystemMap, string Source);

/// <summary>
/// Registers prebuilt kernels (<c>--kernel-image NAME=PATH</c> with <c>--modules DIR</c>, or <c>--kernel-deb</c>):
/// checks that the image is a bzImage, reads its release, checks its config (when one is known) for what the
/// scenario needs, and packs the modules the guest needs (the drivers and their dependencies) for the run's
/// initramfs, after checking they were built for that release. Every problem is a <see cref="BadInputException"/>
/// naming the input, raised before anything is built or booted.
/// </summary>
public static class PrebuiltKernels
{
    /// <summary>Checks and registers <paramref name="k"/>; the cache (default $QHH_CACHE) is opened only to store packed modules.</summary>
    public static KernelBuild Register(PrebuiltKernel k, HarnessCache? cache = null)
    {
        if (!File.Exists(k.Image)) throw k.Input.Bad("no such file");
        var image = BzImage.TryRead(k.Image, out var notImage) ?? throw k.Input.Bad(notImage);
        var config = k.Config ?? Beside(k.Image, "config-" + image.Release);
        var options = config is null ? null : KernelConfig.Parse(File.ReadAllText(config));
        var modules = k.ModulesDir is null ? null : PackModules(k, image.Release, options, cache);
        if (options is not null)
        {
            var missing = KernelRequirements.Missing(options, hasModules: k.ModulesDir is not null, modulesSupported: options.GetValueOrDefault("CONFIG_MODULES") == "y");
            if (missing.Count > 0)
                throw new BadInputException(missing.Select(m => new InputProblem(k.Input.Kind, k.Input.Value, $"{m} (config {Path.GetFileName(config)})")).ToList());
        }
        var systemMap = k.SystemMap ?? Beside(k.Image, "System.map-" + image.Release);
        return new KernelBuild(k.Name, Path.GetFullPath(k.Image), null, systemMap, k.ModulesDir, image.Release, k.Source,
            "prebuilt-" + HarnessCache.Key([HarnessCache.FileKey(k.Image), modules?.Archive ?? ""]))
        {
            Modules = modules, Config = config, IsPrebuilt = true,
        };
    }

    /// <summary>A file beside the image named as /boot names it (config-RELEASE, System.map-RELEASE), or null.</summary>
    private static string? Beside(string image, string name)
    {
        var path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(image))!, name);
        return File.Exists(path) ? path : null;
    }

    private static GuestModules PackModules(PrebuiltKernel k, string release, IReadOnlyDictionary<string, string>? options, HarnessCache? cache)
    {
        var input = k.ModulesInput ?? k.Input;
        if (!Directory.Exists(k.ModulesDir)) throw input.Bad("no such directory");
        var tree = ModuleTree.Open(k.ModulesDir);
        try
        {
            var wanted = options is not null ? KernelRequirements.ModularDrivers(options) : WantedWithoutConfig(tree);
            var order = tree.LoadOrder(wanted);
            var objects = order.Select(m => (m.Name, Object: m.ReadObject())).ToList();
            foreach (var (name, obj) in objects)
            {
                var info = ModInfo.TryRead(obj) ?? throw new ModuleTreeException($"{name}: not a kernel module (no .modinfo)");
                if (info.Release != release)
                    throw input.Bad($"modules are for {info.Release ?? "an unknown release"} ({name}'s vermagic), but {k.Input.Value} is {release}");
            }
            var archive = GuestModules.Pack(objects);
            return new GuestModules(release, order.Select(m => m.Name).ToList(), Store(cache ?? new HarnessCache(), archive, release, order));
        }
        catch (ModuleTreeException e)
        {
            throw input.Bad(e.Message);
        }
    }

    /// <summary>Without a config: every driver the tree has as a module, unless modules.builtin says it is built in.</summary>
    private static IReadOnlyList<string> WantedWithoutConfig(ModuleTree tree)
    {
        var wanted = new List<string>();
        foreach (var d in KernelRequirements.Drivers)
        {
            if (tree.Builtin?.Contains(d.Module!) == true) continue;
            if (tree.Find(d.Module!) is not null) wanted.Add(d.Module!);
            else if (d.Required && tree.Builtin is not null)
                throw new ModuleTreeException($"no module {d.Module} and modules.builtin does not list it (needed: {d.Why})");
        }
        // The NIC: e1000, else virtio-net, as modules where the tree has them (built in: nothing to load).
        bool Has(string module) => tree.Builtin?.Contains(module) == true || tree.Find(module) is not null;
        var nic = KernelRequirements.Nics.Reverse().FirstOrDefault(n => n.Drivers.All(d => Has(d.Module!)));
        wanted.AddRange(nic?.Drivers.Select(d => d.Module!).Where(m => tree.Builtin?.Contains(m) != true) ?? []);
        return wanted;
    }

    /// <summary>The archive in the cache, keyed by its content (equal modules, one file).</summary>
    private static string Store(HarnessCache cache, byte[] archive, string release, IReadOnlyList<ModuleFile> order)
    {
        var key = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(archive))[..16];
        if (cache.TryGet("modules", key) is { } hit) return Path.Combine(hit, "modules.cpio");
        var dir = cache.NewTempDir("modules");
        File.WriteAllBytes(Path.Combine(dir, "modules.cpio"), archive);
        Manifest.Write(dir, new { kind = "modules", key, release, loadOrder = order.Select(m => m.Name), from = order.Select(m => m.Path) });
        return Path.Combine(cache.Commit("modules", key, dir), "modules.cpio");
    }
}
