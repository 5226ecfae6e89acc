using System.ComponentModel;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

/// <summary>The scenario flags shared by predict, run and reproduce.</summary>
public class ScenarioSettings : CommandSettings
{
    [CommandOption("--scenario <FILE>")]
    [Description("Load the scenario from a JSON file; flags override its fields.")]
    public string? ScenarioFile { get; init; }

    [CommandOption("--case <NAME>")]
    [Description("A case of cases/ (its scenario, kernel patch, config, workload and cells); flags override its scenario.")]
    public string? Case { get; init; }

    [CommandOption("--cases <DIR>")]
    [Description("A folder of your own cases beside the repository's cases/ (repeatable), loaded as strictly.")]
    public string[] CasesDirs { get; init; } = [];

    [CommandOption("--machine <TYPE>")] [Description("pc or q35 (default pc).")]
    public string? Machine { get; init; }

    [CommandOption("--ram <SIZE>")] [Description("Guest RAM (default 4160M).")]
    public string? Ram { get; init; }

    [CommandOption("--maxmem <SIZE>")] [Description("maxmem (default 20G).")]
    public string? MaxMem { get; init; }

    [CommandOption("--slots <N>")] [Description("Memory slots (default 1).")]
    public int? Slots { get; init; }

    [CommandOption("--smp <N>")] [Description("Guest CPUs (default 2).")]
    public int? Smp { get; init; }

    [CommandOption("--qemu <FLAVOUR>")] [Description("patched (device memory not rounded to 1 GiB) or stock (default patched).")]
    public string? Qemu { get; init; }

    [CommandOption("--nvdimm-size <SIZE>")] [Description("NVDIMM backend size (default 8G).")]
    public string? NvdimmSize { get; init; }

    [CommandOption("--nvdimm-addr <ADDR>")] [Description("NVDIMM address, 0x... or auto (default 0x144000000).")]
    public string? NvdimmAddr { get; init; }

    [CommandOption("--label-size <SIZE>")] [Description("NVDIMM label area (default 128K).")]
    public string? LabelSize { get; init; }

    [CommandOption("--pse <ON|OFF>")] [Description("CPU PSE: off makes vmemmap use 4 KiB pages (default off).")]
    public string? Pse { get; init; }

    [CommandOption("--kernel <VARIANT|NAME>")] [Description("unpatched, patched, or the NAME of a --kernel-image (default unpatched).")]
    public string? Kernel { get; init; }

    [CommandOption("--namespace-size <SIZE>")] [Description("Size of each reconfigured namespace (default 16M).")]
    public string? NamespaceSize { get; init; }

    [CommandOption("--mode <MODE>")] [Description("devdax or fsdax (default devdax).")]
    public string? Mode { get; init; }

    [CommandOption("--iterations <N>")] [Description("Reconfigurations of namespace0.0 (default 3).")]
    public int? Iterations { get; init; }

    [CommandOption("--kernel-line <LINE>")]
    [Description("Kernel line whose Debian source is built: 6.1, 6.12 or latest (kernel-lines/; default 6.1).")]
    public string? KernelLine { get; init; }

    [CommandOption("--json")] [Description("Write the result as JSON on stdout.")]
    public bool Json { get; init; }

    public ScenarioOptions ToOptions() => new()
    {
        Machine = Machine, Ram = Ram, MaxMem = MaxMem, Slots = Slots, Smp = Smp, Qemu = Qemu,
        NvdimmSize = NvdimmSize, NvdimmAddr = NvdimmAddr, LabelSize = LabelSize, Pse = Pse, Kernel = Kernel,
        NamespaceSize = NamespaceSize, Mode = Mode, Iterations = Iterations, KernelLine = KernelLine,
    };

    private Case? _case;

    /// <summary>The case --case names, loaded once (bad input when it is unknown or malformed); null without --case.</summary>
    public Case? SelectedCase()
    {
        if (Case is null) return null;
        if (ScenarioFile is not null)
            throw new BadInputException(InputKind.Scenario, ScenarioFile,
                $"give either a scenario file or {CliInputs.Flag(InputKind.Case)} (a case brings its own scenario)");
        return _case ??= Catalog().Load(Case);
    }

    /// <summary>The case --case names, else the default case (defaults.json).</summary>
    public Case CaseOrDefault() => SelectedCase() ?? Catalog().Load(HarnessDefaults.Repo.Case);

    /// <summary>The repository's cases/ and every --cases DIR (each must be a folder: bad input otherwise).</summary>
    public CaseCatalog Catalog() => SuiteCases.Catalog(RepoLayout.Discover(), CasesDirs);

    /// <summary>The seed (or the file, or the case's scenario), overridden by the flags, validated.</summary>
    public Scenario ResolveScenario() =>
        ResolveScenario(ScenarioFile is not null ? ScenarioJson.Load(ScenarioFile) : SelectedCase()?.Scenario ?? Scenario.Seed);

    /// <summary><paramref name="baseScenario"/> overridden by the flags, validated.</summary>
    public Scenario ResolveScenario(Scenario baseScenario)
    {
        var scenario = ScenarioValidator.EnsureValid(ToOptions().Apply(baseScenario));
        if (scenario.Kernel.Line is { } line) RepoLayout.Discover().Lines().Get(line); // an unknown line: exit 2 here
        return scenario;
    }
}
