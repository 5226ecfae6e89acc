using System.Text.Json.Nodes;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

/// <summary>KernelCI's KCIDB I/O (schema v5.3): one checkout, one build per kernel, one test per cell. Pure: files come in as evidence.</summary>
public static class Kcidb
{
    public const string Origin = "qemu_hotplug_harness";

    public static JsonObject Build(Summary s, ChangeUnderTest change, IReadOnlyDictionary<SummaryCell, CellEvidence> evidence)
    {
        var checkoutId = $"{Origin}:{(change.PatchHash.Length > 0 ? change.PatchHash[..16] : "nopatch")}-{s.StartedAt.ToUnixTimeSeconds()}";
        var builds = new JsonArray();
        var tests = new JsonArray();
        foreach (var kernel in s.Cells.GroupBy(KernelOf))
        {
            var buildId = $"{checkoutId}-{kernel.Key}";
            var banner = kernel.Select(c => evidence.TryGetValue(c, out var e) ? e.KernelVersion : null).FirstOrDefault(v => v is not null);
            builds.Add(BuildNode(buildId, checkoutId, kernel.Key, kernel.ToList(), change, banner));
            foreach (var c in kernel) tests.Add(TestNode(s, c, buildId, evidence.TryGetValue(c, out var e) ? e : new CellEvidence([], [], null)));
        }
        return new JsonObject
        {
            ["version"] = new JsonObject { ["major"] = 5, ["minor"] = 3 },
            ["checkouts"] = new JsonArray(Checkout(s, change, checkoutId)), ["builds"] = builds, ["tests"] = tests,
        };
    }

    /// <summary>The kernel a cell booted: its variant or image, per case in a run of cases (each case builds its own fix).</summary>
    private static string KernelOf(SummaryCell c)
    {
        var kernel = c.Scenario.Kernel.Image ?? c.Scenario.Kernel.Variant.Kebab();
        return c.Case is { } name && c.Scenario.Kernel.Image is null ? $"{name}-{kernel}" : kernel;
    }

    /// <summary>The KCIDB test path: "CASE.CELL" for a case's cell, the seed's historical "mm.sparse_hotplug.CELL" outside cases.</summary>
    public static string TestPath(SummaryCell c) => c.Case is { } name ? $"{PathPart(name)}.{PathPart(c.Name)}" : "mm.sparse_hotplug." + Slug(c.Name);

    private static JsonObject Checkout(Summary s, ChangeUnderTest change, string id)
    {
        var checkout = new JsonObject
        {
            ["id"] = id, ["origin"] = Origin, ["tree_name"] = change.TreeName,
            ["patchset_files"] = new JsonArray(change.PatchFiles.Select(p => (JsonNode)Resource(p)).ToArray()),
            ["patchset_hash"] = change.PatchHash, ["start_time"] = s.StartedAt.ToString("o"), ["valid"] = true,
            ["comment"] = $"{change.Subject} on {change.TreeText}",
        };
        if (change.Tree is not { } tree) return checkout;
        // KCIDB wants an https:// repository URL and a full commit hash; anything else stays in misc.
        if (tree.RemoteUrl is { } url && url.StartsWith("https://", StringComparison.Ordinal)) checkout["git_repository_url"] = url;
        if (tree.Commit is { Length: 40 } commit && commit.All(char.IsAsciiHexDigitLower)) checkout["git_commit_hash"] = commit;
        checkout["misc"] = new JsonObject
        {
            ["tree"] = tree.Describe(), ["tree_kind"] = tree.Kind.Kebab(), ["dirty"] = tree.Dirty,
            ["path"] = tree.Path, ["remote"] = tree.RemoteUrl, ["package_version"] = tree.Version,
        };
        return checkout;
    }

    private static JsonObject BuildNode(string id, string checkoutId, string kernel, IReadOnlyList<SummaryCell> cells, ChangeUnderTest change,
        string? banner)
    {
        var release = cells.Select(c => c.Observation.KernelRelease).FirstOrDefault(r => r is not null);
        var line = cells.Select(c => c.Observation.KernelLine).FirstOrDefault(r => r is not null);
        var build = new JsonObject
        {
            ["id"] = id, ["checkout_id"] = checkoutId, ["origin"] = Origin, ["architecture"] = "x86_64",
            ["config_name"] = "tinyconfig+hotplug", ["comment"] = $"{kernel} kernel {release ?? "unknown"}{(line is null ? "" : $" (kernel line {line})")} from {change.TreeText}; "
                + $"patch under test: {change.Subject}",
            ["status"] = release is not null ? "PASS" : "MISS",
        };
        if (banner is not null && CompilerOf(banner) is { } compiler) build["compiler"] = compiler;
        if (banner is not null) build["misc"] = new JsonObject { ["kernel_version"] = banner };
        return build;
    }

    /// <summary>
    /// The compiler named by the kernel's banner: "Linux version 6.1.192 (root@vm) (gcc (Debian 12.2.0-14) 12.2.0, GNU ld
    /// (GNU Binutils for Debian) 2.40) #1 SMP …" gives "gcc (Debian 12.2.0-14) 12.2.0"; null when the banner has none.
    /// </summary>
    public static string? CompilerOf(string banner)
    {
        var tools = System.Text.RegularExpressions.Regex.Match(banner, @"Linux version \S+ \(.*?\) \((?<tools>.*)\) #\d");
        if (!tools.Success) return null;
        var compiler = System.Text.RegularExpressions.Regex.Match(tools.Groups["tools"].Value, @"^(?<c>.+?)(?:, (?:GNU ld|LLD|ld\.lld).*)?$");
        return compiler.Groups["c"].Value.Trim() is { Length: > 0 } c ? c : null;
    }

    private static JsonObject TestNode(Summary s, SummaryCell c, string buildId, CellEvidence evidence)
    {
        var test = new JsonObject
        {
            ["id"] = $"{buildId}-{Slug(c.Name)}-{c.Repeat}", ["build_id"] = buildId, ["origin"] = Origin,
            ["path"] = TestPath(c), ["status"] = Status(s, c),
            ["start_time"] = s.StartedAt.ToString("o"), ["duration"] = c.Observation.Seconds,
            ["comment"] = $"predicted {c.Prediction.Outcome.Kebab()}, observed {c.Observation.Outcome.Kebab()}" + (c.Match ? "" : "; " + string.Join("; ", c.Mismatches)),
            ["output_files"] = new JsonArray(evidence.OutputFiles.Select(f => (JsonNode)Resource(f)).ToArray()),
            ["environment"] = new JsonObject
            {
                ["comment"] = $"QEMU {c.Scenario.Qemu.Kebab()}, accel {c.Observation.Accel?.Kebab() ?? "none"}, PSE {(c.Scenario.Cpu.Pse ? "on" : "off")}"
                    + Reports.KernelText(c.Observation),
            },
        };
        if (evidence.ConsoleLog is { } console) test["log_url"] = FileUri(console);
        if (c.Observation.Oopses.FirstOrDefault() is { } oops) test["log_excerpt"] = oops.Title;
        return test;
    }

    /// <summary>FAIL: the kernel crashed; PASS: it behaved as predicted without crashing; ERROR: the run could not say.</summary>
    public static string Status(Summary s, SummaryCell c) => s.Kind == RunKind.Validate ? ValidationStatus(c) : Status(c);

    /// <summary>validate tests the model, not the kernel: PASS when the guest did what the simulator predicted.</summary>
    private static string ValidationStatus(SummaryCell c) =>
        c.Observation.Outcome == Outcome.InfraError ? "ERROR" : c.Match ? "PASS" : "FAIL";

    public static string Status(SummaryCell c) => c.Observation.Outcome switch
    {
        Outcome.Oops => "FAIL",
        Outcome.Clean or Outcome.Rejected when c.Match => "PASS",
        _ => "ERROR",
    };

    private static JsonObject Resource(string path) => new() { ["name"] = Path.GetFileName(path), ["url"] = FileUri(path) };
    private static string FileUri(string path) => new Uri(Path.GetFullPath(path)).AbsoluteUri;
    private static string Slug(string s) => string.Concat(s.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_' ? ch : '_'));

    /// <summary>A name as one KCIDB path component (letters, digits, '_' and '-').</summary>
    private static string PathPart(string s) => string.Concat(s.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' ? ch : '_'));
}
