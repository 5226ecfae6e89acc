using System.Text.Json;
using System.Text.Json.Serialization;

namespace QemuHotplugHarness.Scenarios;

/// <summary>The one set of JSON options for scenarios, predictions, observations and reports.</summary>
public static class HarnessJson
{
    public static JsonSerializerOptions Options { get; } = Create(strict: false);

    /// <summary>For user input: unknown properties are errors, so a typo never silently falls back to a default.</summary>
    public static JsonSerializerOptions StrictOptions { get; } = Create(strict: true);

    private static JsonSerializerOptions Create(bool strict)
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            WriteIndented = true,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            UnmappedMemberHandling = strict ? JsonUnmappedMemberHandling.Disallow : JsonUnmappedMemberHandling.Skip,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);
}

public static class ScenarioJson
{
    public static string Serialize(Scenario scenario) => JsonSerializer.Serialize(scenario, HarnessJson.Options);

    /// <summary>Parses a scenario; missing fields take the seed defaults. <paramref name="source"/> names the input in errors.</summary>
    public static Scenario Parse(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<Scenario>(json, HarnessJson.StrictOptions)
                   ?? throw new BadInputException($"{source}: the scenario is empty (null)");
        }
        catch (JsonException e)
        {
            var where = e.Path is null ? "" : $" at {e.Path}";
            throw new BadInputException($"{source}: not a valid scenario{where}: {FirstLine(e.Message)}", e);
        }
    }

    public static Scenario Load(string path)
    {
        if (!File.Exists(path)) throw new BadInputException(InputKind.Scenario, path, "no such file");
        return Parse(File.ReadAllText(path), path);
    }

    private static string FirstLine(string s)
    {
        var i = s.IndexOf('\n');
        return (i < 0 ? s : s[..i]).Trim();
    }
}
