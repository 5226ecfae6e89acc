using System.ComponentModel;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

/// <summary>qhh compare BEFORE AFTER: what changed between two nights; exit 1 when something regressed (an infra cell or a known intermittent issue alone does not).</summary>
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

        [CommandOption("--known-issues <FILE>")]
        [Description("JSON list of known issues ({\"cell\": \"case/line/cell pattern\", \"title\": ..., \"intermittent\": true}): an intermittent one is reported, not counted as a regression.")]
        public string? KnownIssues { get; init; }

        [CommandOption("--markdown <FILE>")] [Description("Also write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY; appended to).")]
        public string? Markdown { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken ct)
    {
        var (before, after, known) = LoadAll(s.Before, s.After, s.KnownIssues);
        var result = RunCompare.Compare(before, after, known);
        if (s.Markdown is { } markdown) AppendMarkdown(markdown, CompareText.Markdown(result));
        Console.Write(s.Json ? HarnessJson.Serialize(result) + Environment.NewLine : CompareText.Plain(result));
        return result.Regressed ? (int)ExitCode.CheckFailed : (int)ExitCode.Success;
    }

    /// <summary>Every input is read before any is refused, so several bad inputs give one line each.</summary>
    private static (RunDigest Before, RunDigest After, IReadOnlyList<KnownIssue> Known) LoadAll(string before, string after, string? knownIssues)
    {
        var problems = new List<InputProblem>();
        var b = TryLoad(() => RunDigest.Load(before), problems);
        var a = TryLoad(() => RunDigest.Load(after), problems);
        var k = knownIssues is null ? [] : TryLoad(() => KnownIssues.Load(knownIssues), problems);
        if (problems.Count > 0) throw new BadInputException(problems);
        return (b!, a!, k!);
    }

    private static T? TryLoad<T>(Func<T> load, List<InputProblem> problems) where T : class
    {
        try
        {
            return load();
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
