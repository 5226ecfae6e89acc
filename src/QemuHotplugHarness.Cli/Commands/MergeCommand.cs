using System.ComponentModel;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

public sealed class MergeCommand : Command<MergeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<DIR...>")] [Description("Artifact folders of the shards (each with summary.json); every shard of the plan, or the verdict is incomplete (exit 3).")]
        public string[] Dirs { get; init; } = [];

        [CommandOption("--out <DIR>")] [Description("Where the merged summary.json and junit.xml go (default artifacts/merged-<timestamp>).")]
        public string? Out { get; init; }

        [CommandOption("--bisect")] [Description("Exit codes for git bisect run.")]
        public bool Bisect { get; init; }

        [CommandOption("--kcidb-origin <NAME>")] [Description("KCIDB origin of kcidb.json (lowercase letters, digits, '_'; default qemu_hotplug_harness).")]
        public string? KcidbOrigin { get; init; }

        [CommandOption("--artifacts-url <URL>")] [Description("Where the output folder is published: kcidb.json's file URLs are made from it (default file:// URLs).")]
        public string? ArtifactsUrl { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken ct)
    {
        var problems = KcidbOptions.Problems(s.KcidbOrigin, s.ArtifactsUrl).ToList();
        foreach (var dir in s.Dirs) // a folder that is not a shard is refused before the output folder is made
        {
            try { Merge.Load(dir); }
            catch (BadInputException e) { problems.AddRange(e.Problems); }
        }
        if (problems.Count > 0) throw new BadInputException(problems);
        var output = HarnessLog.PrepareArtifacts(s.Out ?? HarnessLog.DefaultArtifacts("merged-"), InputKind.Out);
        var summary = Merge.Run(s.Dirs, output, new KcidbOptions(s.KcidbOrigin ?? Kcidb.DefaultOrigin, s.ArtifactsUrl));
        Console.WriteLine($"merged {s.Dirs.Length} shard(s), {summary.Cells.Count} cell(s): verdict {summary.Verdict.Kebab()}{summary.Also}; {output}");
        if (summary.Verdict == Verdict.Incomplete) Console.Error.WriteLine($"qhh: merge: incomplete: {summary.Missing?.Describe()}");
        return VerdictExit.Of(summary.Verdict, s.Bisect);
    }
}
