using System.Text.Json;
using System.Text.Json.Nodes;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

/// <summary>
/// One run of one cell as <c>qhh compare</c> sees it. <see cref="Case"/> and <see cref="KernelLine"/> are null in
/// summaries that have no suite of cases or kernel lines; when present they are part of the cell's <see cref="Key"/>.
/// </summary>
public sealed record CellRun(string? Case, string? KernelLine, string Name, int Repeat, string Outcome, bool Match,
    double Seconds, IReadOnlyList<string> OopsTitles)
{
    /// <summary>case/kernelLine/cell, each part only when the summary has it: the identity of a cell across nights.</summary>
    public string Key => string.Join('/', new[] { Case, KernelLine, Name }.Where(p => !string.IsNullOrEmpty(p)));
}

/// <summary>A case of a suite with its own verdict.</summary>
public sealed record CaseVerdict(string Case, string Verdict);

/// <summary>
/// The fields of a summary.json that compare reads, and nothing else: reproduce, merge and validate summaries, and
/// summaries of suites (a top-level <c>cases</c> array of {name, verdict, cells}, or a <c>case</c> and a
/// <c>kernelLine</c> on each cell). Every other field is ignored, so summaries of newer or older harnesses compare.
/// </summary>
public sealed record RunDigest(string Source, string Kind, string Verdict, double Seconds, bool Interrupted,
    IReadOnlyList<CellRun> Cells, IReadOnlyList<CaseVerdict> Cases)
{
    /// <summary>BEFORE or AFTER as given: a summary.json, or an artifact folder holding one.</summary>
    public static RunDigest Load(string path)
    {
        var file = Directory.Exists(path) ? new RunArtifacts(path).Summary : path;
        if (Directory.Exists(path) && !File.Exists(file)) throw NotASummary(path, "a folder without summary.json");
        if (!File.Exists(file)) throw NotASummary(path, "no such file or folder");
        try
        {
            return Parse(File.ReadAllText(file), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw NotASummary(path, "cannot read it: " + e.Message);
        }
    }

    /// <summary>Reads a summary's text; <paramref name="source"/> names the input in errors.</summary>
    public static RunDigest Parse(string json, string source)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw NotASummary(source, "not JSON: " + e.Message.Split('\n')[0]);
        }
        if (root is not JsonObject summary) throw NotASummary(source, "not a summary (not a JSON object)");
        var verdict = Text(summary, "verdict") ?? throw NotASummary(source, "not a summary (no verdict)");
        var (cells, cases) = CellsOf(summary, source);
        return new RunDigest(source, Text(summary, "kind") ?? "reproduce", verdict, Number(summary, "seconds") ?? 0,
            summary["interrupted"] is JsonValue v && v.TryGetValue<bool>(out var b) && b, cells, cases);
    }

    private static (List<CellRun>, List<CaseVerdict>) CellsOf(JsonObject summary, string source)
    {
        var cells = new List<CellRun>();
        var cases = new List<CaseVerdict>();
        if (summary["cells"] is JsonArray top) cells.AddRange(top.Select(c => Cell(c, Text(summary, "case"), source)));
        else if (summary["cells"] is not null) throw NotASummary(source, "not a summary (cells is not an array)");
        if (summary["cases"] is JsonArray suite)
            foreach (var entry in suite.OfType<JsonObject>())
            {
                var name = Text(entry, "name") ?? Text(entry, "case") ?? throw NotASummary(source, "a case without a name");
                if (Text(entry, "verdict") is { } caseVerdict) cases.Add(new CaseVerdict(name, caseVerdict));
                // The harness's own suites list a case's cell folders (strings) there and the cells at the top level.
                if (entry["cells"] is JsonArray caseCells) cells.AddRange(caseCells.OfType<JsonObject>().Select(c => Cell(c, name, source)));
            }
        if (summary["cells"] is null && summary["cases"] is not JsonArray) throw NotASummary(source, "not a summary (no cells)");
        return (cells, cases);
    }

    private static CellRun Cell(JsonNode? node, string? caseName, string source)
    {
        if (node is not JsonObject cell || Text(cell, "name") is not { } name) throw NotASummary(source, "a cell without a name");
        var observation = cell["observation"] as JsonObject ?? [];
        var titles = (observation["oopses"] as JsonArray ?? []).OfType<JsonObject>().Select(o => Text(o, "title")).OfType<string>().ToList();
        var match = cell["match"] is JsonValue m && m.TryGetValue<bool>(out var matched) && matched;
        var repeat = (int)(Number(cell, "repeat") ?? 1);
        return new CellRun(Text(cell, "case") ?? caseName, Text(cell, "kernelLine") ?? LineAsked(cell), name, repeat,
            Text(observation, "outcome") ?? "unknown", match, Number(observation, "seconds") ?? 0, titles);
    }

    /// <summary>
    /// The kernel line the cell asked for (its scenario's), not the one its kernel came from: a night that registers
    /// tonight's prebuilt kernel in place of a built one is the same cell as the night before.
    /// </summary>
    private static string? LineAsked(JsonObject cell) =>
        cell["scenario"] is JsonObject s && s["kernel"] is JsonObject k ? Text(k, "line") : null;

    private static string? Text(JsonObject o, string name) =>
        o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static double? Number(JsonObject o, string name) =>
        o[name] is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;

    private static BadInputException NotASummary(string source, string reason) => new(InputKind.CompareInput, source, reason);
}
