using QemuHotplugHarness.Scenarios;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

public static class BuildCommand
{
    public sealed class Settings : CommandSettings;

    public abstract class Pending : Command<Settings>
    {
        public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
            throw new InfrastructureException("the builders are not built yet");
    }

    public sealed class All : Pending;
    public sealed class Qemu : Pending;
    public sealed class Kernel : Pending;
    public sealed class Image : Pending;
}

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
