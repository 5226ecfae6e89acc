using System.Text.Json;
using System.Text.RegularExpressions;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

/// <summary>
/// A known issue of the nightly (<c>qhh compare --known-issues FILE</c>): the cells it shows in (a pattern over the
/// compare key case/line/cell, <c>*</c> any text, <c>?</c> one character), the oops title it shows (null: any, or none),
/// and whether it is intermittent. An intermittent issue is reported when it shows but is not counted as a regression.
/// </summary>
public sealed record KnownIssue(string Cell, string? Title, bool Intermittent)
{
    /// <summary>Where the issue is tracked (a URL), for the report.</summary>
    public string? Link { get; init; }

    public bool MatchesCell(string key) =>
        Regex.IsMatch(key, "^" + Regex.Escape(Cell).Replace("\\*", ".*").Replace("\\?", ".") + "$", RegexOptions.CultureInvariant);

    /// <summary>The cell is this issue's and every title it showed is the issue's (no title: a flaky reproduction or a clean run).</summary>
    public bool Explains(string key, IReadOnlyCollection<string> titles) =>
        MatchesCell(key) && (Title is null || titles.All(t => t == Title));
}

public static class KnownIssues
{
    /// <summary>
    /// A JSON array of <c>{ "cell": "zone-device-*/6.1/unpatched-*", "title": "kernel BUG in page_zone", "intermittent": true }</c>;
    /// every problem of the file is one bad input naming it.
    /// </summary>
    public static IReadOnlyList<KnownIssue> Load(string path)
    {
        if (!File.Exists(path)) throw new BadInputException(InputKind.KnownIssues, path, "no such file");
        try
        {
            return Parse(File.ReadAllText(path), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException(InputKind.KnownIssues, path, "cannot read it: " + e.Message, e);
        }
    }

    public static IReadOnlyList<KnownIssue> Parse(string json, string source)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new BadInputException(InputKind.KnownIssues, source, "not JSON: " + e.Message.Split('\n')[0], e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new BadInputException(InputKind.KnownIssues, source, "not a list of known issues ([{\"cell\": ..., \"title\": ..., \"intermittent\": true}])");
            var issues = new List<KnownIssue>();
            var problems = new List<InputProblem>();
            var i = 0;
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                i++;
                if (item.ValueKind != JsonValueKind.Object) { problems.Add(Problem(source, $"entry {i} is not an object")); continue; }
                foreach (var field in item.EnumerateObject().Where(f => f.Name is not ("cell" or "title" or "intermittent" or "link")))
                    problems.Add(Problem(source, $"entry {i}: unknown field '{field.Name}' (cell, title, intermittent, link)"));
                var cell = Text(item, "cell");
                if (string.IsNullOrWhiteSpace(cell)) problems.Add(Problem(source, $"entry {i} has no cell pattern"));
                var intermittent = item.TryGetProperty("intermittent", out var flag) && flag.ValueKind == JsonValueKind.True;
                if (item.TryGetProperty("intermittent", out flag) && flag.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    problems.Add(Problem(source, $"entry {i}: intermittent is true or false"));
                if (!string.IsNullOrWhiteSpace(cell)) issues.Add(new KnownIssue(cell, Text(item, "title"), intermittent) { Link = Text(item, "link") });
            }
            return problems.Count > 0 ? throw new BadInputException(problems) : issues;
        }
    }

    private static string? Text(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static InputProblem Problem(string source, string reason) => new(InputKind.KnownIssues, source, reason);
}
