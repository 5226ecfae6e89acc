using System.ComponentModel;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

/// <summary>qhh compare BEFORE AFTER: what changed between two nights; exit 1 when something regressed.</summary>
public sealed class CompareCommand : Command<CompareCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<BEFORE>")] [Description("The earlier run: its summary.json or its artifact folder (reproduce, merge, validate).")]
        public string Before { get; init; } = "";

        [CommandArgument(1, "<AFTER>")] [Description("The later run, the same way.")]
        public string After { get; init; } = "";

        [CommandOption("--json")] [Description("Write the comparison as JSON on stdout.")]
        public bool Json { get; init; }

        [CommandOption("--markdown <FILE>")] [Description("Also write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY; appended to).")]
        public string? Markdown { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken ct)
    {
        var (before, after) = LoadBoth(s.Before, s.After);
        var result = RunCompare.Compare(before, after);
        if (s.Markdown is { } markdown) AppendMarkdown(markdown, CompareText.Markdown(result));
        Console.Write(s.Json ? HarnessJson.Serialize(result) + Environment.NewLine : CompareText.Plain(result));
        return result.Regressed ? (int)ExitCode.CheckFailed : (int)ExitCode.Success;
    }

    /// <summary>Both inputs are read before either is refused, so two bad inputs give two lines.</summary>
    private static (RunDigest Before, RunDigest After) LoadBoth(string before, string after)
    {
        var problems = new List<InputProblem>();
        var b = TryLoad(before, problems);
        var a = TryLoad(after, problems);
        if (problems.Count > 0) throw new BadInputException(problems);
        return (b!, a!);
    }

    private static RunDigest? TryLoad(string path, List<InputProblem> problems)
    {
        try
        {
            return RunDigest.Load(path);
        }
        catch (BadInputException e)
        {
            problems.AddRange(e.Problems);
            return null;
        }
    }

    /// <summary>Appended, as GitHub wants for $GITHUB_STEP_SUMMARY (other steps may have written to it).</summary>
    private static void AppendMarkdown(string path, string markdown)
    {
        try
        {
            File.AppendAllText(path, markdown);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException(InputKind.MarkdownFile, path, "cannot write there: " + e.Message);
        }
    }
}
