using QemuHotplugHarness.Scenarios;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

public sealed class MergeCommand : Command<MergeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<DIR>")] public string[] Dirs { get; init; } = [];
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        throw new InfrastructureException("merge is not built yet");
}
