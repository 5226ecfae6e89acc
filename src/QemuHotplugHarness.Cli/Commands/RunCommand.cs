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

    [CommandOption("--patch <FILE>")] [Description("The patch under test (default kernel-patches/).")]
    public string? Patch { get; init; }

    [CommandOption("--qemu-src <DIR|TARBALL>")] [Description("QEMU tree to patch and build (default Debian's source package).")]
    public string? QemuSrc { get; init; }

    [CommandOption("--kernel-image <NAME=PATH>")] [Description("Register a prebuilt kernel under NAME (repeatable); use it with --kernel NAME.")]
    public string[] KernelImages { get; init; } = [];

    [CommandOption("--modules <DIR>")] [Description("Modules tree (/lib/modules/VERSION) of the prebuilt kernels.")]
    public string? Modules { get; init; }

    [CommandOption("--boot-timeout <SECONDS>")] [Description("Seconds to wait for the guest (default 120).")]
    public int BootTimeout { get; init; } = 120;

    [CommandOption("--command-timeout <SECONDS>")] [Description("Seconds one ndctl may take before the run is 'hung' (default 60).")]
    public int CommandTimeout { get; init; } = 60;

    [CommandOption("--ssh-port <PORT>")] [Description("Host port for the guest's sshd on 127.0.0.1 (default: a free one).")]
    public int? SshPort { get; init; }

    public KernelSources Sources() => new(KernelSrc, Patch, QemuSrc, KernelSources.ParsePrebuilt(KernelImages, Modules));

    /// <summary>Checks what can be checked before anything is built: a named kernel must be registered.</summary>
    public KernelSources ValidatedSources(Scenario scenario)
    {
        var sources = Sources();
        if (scenario.Kernel.Image is { } name && !sources.Prebuilt.ContainsKey(name))
            throw new BadInputException($"--kernel {name}: no such kernel variant or --kernel-image (use unpatched, patched, or register NAME=PATH)");
        return sources;
    }

    public RunOptions Options(Action<string>? progress = null) => new()
    {
        Accel = Accel, BootTimeout = TimeSpan.FromSeconds(BootTimeout), CommandTimeout = TimeSpan.FromSeconds(CommandTimeout),
        SshPort = SshPort, Progress = progress,
    };
}

public sealed class RunCommand : AsyncCommand<GuestSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, GuestSettings settings, CancellationToken ct)
    {
        var scenario = settings.ResolveScenario();
        var sources = settings.ValidatedSources(scenario);
        var artifacts = settings.Artifacts ?? HarnessLog.DefaultArtifacts("run-");
        using var log = (Serilog.Core.Logger)HarnessLog.Create(artifacts);
        var ctx = BuildContext.Create(log, artifacts);
        var inputs = await new InputsResolver(ctx, sources).ResolveAsync(scenario, ct);
        log.Information("run {Scenario}: qemu {Qemu}, kernel {Kernel} ({Release})", scenario.Describe(), inputs.Qemu.Source, inputs.Kernel.Name, inputs.Kernel.Release);
        var observation = await new GuestRunner(ctx.Cache, log).RunAsync(scenario, inputs, artifacts, settings.Options(p => log.Information("{Progress}", p)), ct);
        var prediction = Predictor.Predict(scenario);
        var mismatches = Comparison.Mismatches(prediction, observation);
        if (settings.Json) Console.WriteLine(HarnessJson.Serialize(observation));
        else
        {
            Console.WriteLine($"observed: {observation.Outcome}" + (observation.OopsIteration is { } i ? $" at iteration {i}, fault pfn {observation.FaultPfn ?? "?"}" : "")
                              + (observation.Rejection is not null ? $": {observation.Rejection}" : "") + (observation.Error is not null ? $" ({observation.Error})" : ""));
            foreach (var o in observation.Oopses) Console.WriteLine($"  oops: {o.Title} (fault {o.FaultAddress}, pfn {o.FaultPfn ?? "?"})");
            Console.WriteLine($"predicted: {prediction.Outcome}" + (prediction.OopsIteration is { } j ? $" at iteration {j}, fault pfn {prediction.FirstFaultPfn}" : ""));
            Console.WriteLine(mismatches.Count == 0 ? "match" : "MISMATCH: " + string.Join("; ", mismatches));
            Console.WriteLine($"artifacts: {artifacts}");
        }
        if (observation.Outcome == Outcomes.InfraError) return (int)ExitCode.Infrastructure;
        if (observation.PreconditionFailures.Count > 0) throw new CheckFailedException(observation.Error ?? "precondition failed");
        return mismatches.Count == 0 ? 0 : (int)ExitCode.CheckFailed;
    }
}
