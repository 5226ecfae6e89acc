using System.Text.Json;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>
/// The repository's <c>defaults.json</c>: the case and the kernel line a run takes when the user names none. The CLI,
/// run.ps1 and the workflow's scripts read this one file; no code names a case or a line.
/// </summary>
public sealed record HarnessDefaults(string Case, string Line)
{
    public const string FileName = "defaults.json";

    private static readonly Lazy<HarnessDefaults> OfRepository = new(() => Load(RepoLayout.Discover().Root));

    /// <summary>The defaults of the checkout the harness runs from.</summary>
    public static HarnessDefaults Repo => OfRepository.Value;

    private sealed record DefaultsFile(string? Case, string? Line);

    /// <summary>The harness's own data: a missing or malformed file is the harness's fault (exit 3), naming the field.</summary>
    public static HarnessDefaults Load(string root)
    {
        var file = Path.Combine(root, FileName);
        DefaultsFile? data;
        try
        {
            data = JsonSerializer.Deserialize<DefaultsFile>(File.ReadAllText(file), HarnessJson.StrictOptions);
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            throw new InfrastructureException($"{file}: {e.Message.Split('\n')[0]}");
        }
        string Field(string? v, string name) => v is { Length: > 0 } s ? s : throw new InfrastructureException($"{file}: {name}: missing");
        return new HarnessDefaults(Field(data?.Case, "case"), Field(data?.Line, "line"));
    }
}
