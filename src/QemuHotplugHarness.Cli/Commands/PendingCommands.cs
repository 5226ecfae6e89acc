using QemuHotplugHarness.Scenarios;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

public sealed class RunCommand : Command<ScenarioSettings>
{
    public override int Execute(CommandContext context, ScenarioSettings settings, CancellationToken cancellationToken)
    {
        settings.ResolveScenario();
        throw new InfrastructureException("run: the guest runner is not built yet");
    }
}

public sealed class ReproduceCommand : Command<ScenarioSettings>
{
    public override int Execute(CommandContext context, ScenarioSettings settings, CancellationToken cancellationToken)
    {
        settings.ResolveScenario();
        throw new InfrastructureException("reproduce: the builders and the guest runner are not built yet");
    }
}

public sealed class MergeCommand : Command<MergeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<DIR>")] public string[] Dirs { get; init; } = [];
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        throw new InfrastructureException("merge is not built yet");
}
