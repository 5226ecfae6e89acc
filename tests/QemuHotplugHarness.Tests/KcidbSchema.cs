using System.Text.Json.Nodes;
using Json.Schema;

namespace QemuHotplugHarness.Tests;

/// <summary>Validates kcidb.json against KCIDB's v5.3 schema, read from ../shared at test time (it is GPL-2; not copied here).</summary>
public static class KcidbSchema
{
    public static string? SchemaPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", "kcidb", "kcidb.v5.3.schema.json"), Path.Combine(dir.FullName, "..", "shared", "kcidb", "kcidb.v5.3.schema.json") })
                if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        return null;
    }

    /// <summary>The schema errors of a kcidb.json (empty = valid); ignores the test when the schema is absent.</summary>
    public static IReadOnlyList<string> Errors(string kcidbPath)
    {
        var path = SchemaPath();
        if (path is null)
        {
            Assert.Ignore("../shared/kcidb/kcidb.v5.3.schema.json is not beside this checkout: kcidb.json not validated");
            return [];
        }
        var schema = JsonSchema.FromText(File.ReadAllText(path));
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(kcidbPath));
        var result = schema.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        if (result.IsValid) return [];
        return (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")).ToList();
    }
}
