using System.ComponentModel;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

public sealed class MergeCommand : Command<MergeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<DIR>")] [Description("Artifact folders of the shards (each with summary.json); every shard of the plan, or the verdict is incomplete (exit 3).")]
        public string[] Dirs { get; init; } = [];

        [CommandOption("--out <DIR>")] [Description("Where the merged summary.json and junit.xml go (default artifacts/merged-<timestamp>).")]
        public string? Out { get; init; }

        [CommandOption("--bisect")] [Description("Exit codes for git bisect run.")]
        public bool Bisect { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken ct)
    {
        foreach (var dir in s.Dirs) Merge.Load(dir); // a folder that is not a shard is refused before the output folder is made
        var output = HarnessLog.PrepareArtifacts(s.Out ?? HarnessLog.DefaultArtifacts("merged-"));
        var summary = Merge.Run(s.Dirs, output);
        Console.WriteLine($"merged {s.Dirs.Length} shard(s), {summary.Cells.Count} cell(s): verdict {summary.Verdict.Kebab()}{summary.Also}; {output}");
        if (summary.Verdict == Verdict.Incomplete) Console.Error.WriteLine($"qhh: merge: incomplete: {summary.Missing?.Describe()}");
        return VerdictExit.Of(summary.Verdict, s.Bisect);
    }
}
