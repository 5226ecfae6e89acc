using System.ComponentModel;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using Serilog;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

public static class BuildCommand
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--qemu-src <DIR|TARBALL>")] [Description("Build this QEMU tree instead of Debian's source package.")]
        public string? QemuSrc { get; init; }

        [CommandOption("--kernel-src <DIR>")] [Description("Build this kernel tree (a git checkout too) instead of linux-source-6.1.")]
        public string? KernelSrc { get; init; }

        [CommandOption("--patch <FILE>")] [Description("The patch under test (default: the case's fix for the kernel line).")]
        public string? Patch { get; init; }

        [CommandOption("--kernel-line <LINE>")] [Description("Kernel line whose Debian source is built: 6.1, 6.12 or latest (default 6.1).")]
        public string? KernelLine { get; init; }
        [CommandOption("--case <NAME>")] [Description("build kernel: the kernels of this case of cases/ (its fix and config; default: the seed's case).")]
        public string? Case { get; init; }

        [CommandOption("--variant <VARIANT>")] [Description("build kernel: unpatched, patched or both (default both).")]
        public string Variant { get; init; } = "both";

        [CommandOption("--artifacts <DIR>")] [Description("Folder for the build logs (default artifacts/build-<timestamp>).")]
        public string? Artifacts { get; init; }

        [CommandOption("--json")] [Description("Print what was built as JSON.")]
        public bool Json { get; init; }
    }

    public abstract class Base : AsyncCommand<Settings>
    {
        protected abstract bool WantQemu { get; }
        protected abstract bool WantKernel { get; }
        protected abstract bool WantImage { get; }

        public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
        {
            var variants = s.Variant.ToLowerInvariant() switch
            {
                "both" => new[] { KernelVariant.Unpatched, KernelVariant.Patched },
                "unpatched" => [KernelVariant.Unpatched],
                "patched" => [KernelVariant.Patched],
                _ => throw new BadInputException(InputKind.Variant, s.Variant, "unknown value (use unpatched, patched or both)"),
            };
            InputChecks.Build(s.KernelSrc, s.Patch, s.QemuSrc);
            if (s.KernelSrc is not null && WantKernel) KernelTree.Validate(s.KernelSrc);
            var lineName = RepoLayout.Discover().Lines().Resolve(s.KernelLine, s.KernelSrc).Name; // as reproduce resolves it
            var recipe = WantKernel ? KernelRecipe.Of(SuiteCases.Library(RepoLayout.Discover()).Load(s.Case ?? HarnessDefaults.Repo.Case),
                new KernelSources(s.KernelSrc, s.Patch, s.QemuSrc, new Dictionary<string, KernelBuild>()) { KernelLine = lineName }) : null;
            if (recipe is not null) await InputChecks.PatchAsync(s.KernelSrc, s.Patch, [recipe.Patch], ct, lineName);
            var artifacts = HarnessLog.PrepareArtifacts(s.Artifacts ?? HarnessLog.DefaultArtifacts("build-"));
            using var log = (Serilog.Core.Logger)HarnessLog.Create(artifacts);
            var ctx = BuildContext.Create(log, artifacts);
            var built = new Dictionary<string, object>();
            if (WantQemu)
            {
                built["qemuPatched"] = await new QemuBuilder(ctx).GetAsync(QemuFlavour.Patched, s.QemuSrc, ct);
                built["qemuStock"] = await new QemuBuilder(ctx).GetAsync(QemuFlavour.Stock, null, ct);
            }
            var line = ctx.Repo.Lines().Get(lineName);
            if (WantKernel)
                foreach (var v in variants)
                    built["kernel" + v] = await new KernelBuilder(ctx) { ExtraConfig = recipe!.ExtraConfig, Line = line }.GetAsync(v, s.KernelSrc, recipe.Patch, ct);
            if (WantImage) built["image"] = await new ImageBuilder(ctx).GetAsync(ct);
            if (s.Json) Console.WriteLine(HarnessJson.Serialize(built));
            else foreach (var (k, v) in built) log.Information("{Name}: {Value}", k, v);
            return 0;
        }
    }

    public sealed class All : Base { protected override bool WantQemu => true; protected override bool WantKernel => true; protected override bool WantImage => true; }
    public sealed class Qemu : Base { protected override bool WantQemu => true; protected override bool WantKernel => false; protected override bool WantImage => false; }
    public sealed class Kernel : Base { protected override bool WantQemu => false; protected override bool WantKernel => true; protected override bool WantImage => false; }
    public sealed class Image : Base { protected override bool WantQemu => false; protected override bool WantKernel => false; protected override bool WantImage => true; }
}
