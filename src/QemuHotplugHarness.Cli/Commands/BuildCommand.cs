using System.ComponentModel;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using Serilog;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

public static class BuildCommand
{
    /// <summary>What every build subcommand takes.</summary>
    public class CommonSettings : CommandSettings
    {
        [CommandOption("--artifacts <DIR>")] [Description("Folder for the build logs (default artifacts/build-<timestamp>).")]
        public string? Artifacts { get; init; }

        [CommandOption("--json")] [Description("Print what was built as JSON.")]
        public bool Json { get; init; }
    }

    /// <summary>build qemu: where QEMU comes from.</summary>
    public class QemuSettings : CommonSettings
    {
        [CommandOption("--qemu-src <DIR|TARBALL>")] [Description("Build this QEMU tree instead of Debian's source package.")]
        public string? QemuSrc { get; init; }
    }

    /// <summary>build image: the guest initramfs takes nothing but the common options.</summary>
    public sealed class ImageSettings : CommonSettings;

    /// <summary>build kernel: the kernels of a plan (a case or the suite, on a line, from a tree).</summary>
    public class KernelSettings : CommonSettings
    {
        [CommandOption("--kernel-src <DIR>")] [Description("Build this kernel tree (a git checkout too) instead of the line's Debian source.")]
        public string? KernelSrc { get; init; }

        [CommandOption("--patch <FILE>")] [Description("The patch under test (default: the case's fix for the kernel line).")]
        public string? Patch { get; init; }

        [CommandOption("--kernel-line <LINE>")] [Description("Kernel line whose Debian source is built (kernel-lines/; default: defaults.json's).")]
        public string? KernelLine { get; init; }

        [CommandOption("--case <NAME>")] [Description("The kernels of this case (its fix and config; default: defaults.json's case).")]
        public string? Case { get; init; }

        [CommandOption("--suite")] [Description("The kernels of every case of the suite on the kernel line, as reproduce --suite builds them.")]
        public bool Suite { get; init; }

        [CommandOption("--cases <DIR>")] [Description("A folder of your own cases beside cases/ (repeatable).")]
        public string[] CasesDirs { get; init; } = [];

        [CommandOption("--plan")] [Description("Print the kernels the plan builds and exit: nothing is built.")]
        public bool Plan { get; init; }

        [CommandOption("--variant <VARIANT>")] [Description("unpatched, patched or both (default both).")]
        public string Variant { get; init; } = "both";
    }

    /// <summary>build all: QEMU, the plan's kernels and the image.</summary>
    public sealed class AllSettings : KernelSettings
    {
        [CommandOption("--qemu-src <DIR|TARBALL>")] [Description("Build this QEMU tree instead of Debian's source package.")]
        public string? QemuSrc { get; init; }
    }

    /// <summary>One subcommand's options as the build reads them (absent ones at their defaults).</summary>
    private sealed record Settings(string? QemuSrc, string? KernelSrc, string? Patch, string? KernelLine, string? Case, bool Suite,
        string[] CasesDirs, bool Plan, string Variant, string? Artifacts, bool Json)
    {
        public static Settings Of(CommonSettings c)
        {
            var k = c as KernelSettings;
            var qemu = (c as QemuSettings)?.QemuSrc ?? (c as AllSettings)?.QemuSrc;
            return new(qemu, k?.KernelSrc, k?.Patch, k?.KernelLine, k?.Case, k?.Suite ?? false, k?.CasesDirs ?? [], k?.Plan ?? false,
                k?.Variant ?? "both", c.Artifacts, c.Json);
        }
    }

    public abstract class Base<T> : AsyncCommand<T> where T : CommonSettings
    {
        protected abstract bool WantQemu { get; }
        protected abstract bool WantKernel { get; }
        protected abstract bool WantImage { get; }

        public override Task<int> ExecuteAsync(CommandContext context, T settings, CancellationToken ct) => BuildAsync(Settings.Of(settings), ct);

        private async Task<int> BuildAsync(Settings s, CancellationToken ct)
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
            var sources = new KernelSources(s.KernelSrc, s.Patch, s.QemuSrc, new Dictionary<string, KernelBuild>()) { KernelLine = lineName };
            var plan = WantKernel
                ? RunPlanner.Plan(new PlanRequest(SuiteCases.Catalog(RepoLayout.Discover(), s.CasesDirs), lineName, sources) { Case = s.Case, Suite = s.Suite })
                : null;
            var kernels = plan?.Kernels.Where(k => variants.Contains(k.Variant)).ToList() ?? [];
            if (s.Plan)
            {
                Console.WriteLine($"kernels to build on line {lineName}: {kernels.Count}");
                foreach (var k in kernels) Console.WriteLine("  " + k);
                return 0;
            }
            if (plan is not null) await InputChecks.PatchAsync(s.KernelSrc, s.Patch, plan.Patches, ct, lineName);
            var artifacts = HarnessLog.PrepareArtifacts(s.Artifacts ?? HarnessLog.DefaultArtifacts("build-"));
            using var log = (Serilog.Core.Logger)HarnessLog.Create(artifacts);
            var ctx = BuildContext.Create(log, artifacts);
            var built = new Dictionary<string, object>();
            if (WantQemu)
            {
                built["qemuPatched"] = await new QemuBuilder(ctx).GetAsync(QemuFlavour.Patched, s.QemuSrc, ct);
                built["qemuStock"] = await new QemuBuilder(ctx).GetAsync(QemuFlavour.Stock, null, ct);
            }
            var inputs = new InputsResolver(ctx, sources);
            foreach (var k in kernels)
                built[kernels.Count(x => x.Variant == k.Variant) == 1 ? "kernel" + k.Variant : $"kernel{k.Variant} {k}"] = await inputs.KernelAsync(k, ct);
            if (WantImage) built["image"] = await new ImageBuilder(ctx).GetAsync(ct);
            if (s.Json) Console.WriteLine(HarnessJson.Serialize(built));
            else foreach (var (k, v) in built) log.Information("{Name}: {Value}", k, v);
            return 0;
        }
    }

    public sealed class All : Base<AllSettings> { protected override bool WantQemu => true; protected override bool WantKernel => true; protected override bool WantImage => true; }
    public sealed class Qemu : Base<QemuSettings> { protected override bool WantQemu => true; protected override bool WantKernel => false; protected override bool WantImage => false; }
    public sealed class Kernel : Base<KernelSettings> { protected override bool WantQemu => false; protected override bool WantKernel => true; protected override bool WantImage => false; }
    public sealed class Image : Base<ImageSettings> { protected override bool WantQemu => false; protected override bool WantKernel => false; protected override bool WantImage => true; }
}
