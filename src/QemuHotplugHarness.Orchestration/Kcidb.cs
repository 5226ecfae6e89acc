using System.Text.Json.Nodes;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Orchestration;

/// <summary>
/// How kcidb.json names things beyond the run itself: the KCIDB origin (the submitter's name, <c>^[a-z0-9_]+$</c>)
/// and the URL the run's artifact folder is published under (null: <c>file://</c> URLs of this machine).
/// </summary>
public sealed record KcidbOptions(string Origin = Kcidb.DefaultOrigin, string? ArtifactsUrl = null)
{
    /// <summary>Where <paramref name="path"/> (a file of the run folder <paramref name="runDir"/>, or of a shard beside it) is published.</summary>
    public string UrlOf(string path, string runDir)
    {
        if (ArtifactsUrl is null) return new Uri(Path.GetFullPath(path)).AbsoluteUri;
        var relative = Path.GetRelativePath(Path.GetFullPath(runDir), Path.GetFullPath(path));
        var escaped = string.Join('/', relative.Split(Path.DirectorySeparatorChar).Select(p => p == ".." ? p : Uri.EscapeDataString(p)));
        return new Uri(new Uri(ArtifactsUrl.EndsWith('/') ? ArtifactsUrl : ArtifactsUrl + "/"), escaped).AbsoluteUri;
    }

    /// <summary>The problems of an origin and a base URL given by the user (empty: usable).</summary>
    public static IReadOnlyList<InputProblem> Problems(string? origin, string? artifactsUrl)
    {
        var problems = new List<InputProblem>();
        if (origin is not null && !System.Text.RegularExpressions.Regex.IsMatch(origin, "^[a-z0-9_]+$"))
            problems.Add(new InputProblem(InputKind.KcidbOrigin, origin, "KCIDB origins are lowercase letters, digits and '_'"));
        if (artifactsUrl is not null && !(Uri.TryCreate(artifactsUrl, UriKind.Absolute, out var u) && u.Scheme is "https" or "http"))
            problems.Add(new InputProblem(InputKind.ArtifactsUrl, artifactsUrl, "not an http(s) URL (where the artifact folder is published)"));
        return problems;
    }
}

/// <summary>KernelCI's KCIDB I/O (schema v5.3): one checkout, one build per kernel, one test per cell. Pure: files come in as evidence.</summary>
public static class Kcidb
{
    public const string DefaultOrigin = "qemu_hotplug_harness";

    /// <param name="runDir">The run's folder (artifact URLs are relative to it when <see cref="KcidbOptions.ArtifactsUrl"/> is given).</param>
    public static JsonObject Build(Summary s, ChangeUnderTest change, IReadOnlyDictionary<SummaryCell, CellEvidence> evidence,
        KcidbOptions? options = null, string runDir = ".")
    {
        options ??= new KcidbOptions();
        var origin = options.Origin;
        string Url(string path) => options.UrlOf(path, runDir);
        var checkoutId = $"{origin}:{(change.PatchHash.Length > 0 ? change.PatchHash[..16] : "nopatch")}-{s.StartedAt.ToUnixTimeSeconds()}";
        var builds = new JsonArray();
        var tests = new JsonArray();
        foreach (var kernel in s.Cells.GroupBy(KernelOf))
        {
            var buildId = $"{checkoutId}-{kernel.Key}";
            var banner = kernel.Select(c => evidence.TryGetValue(c, out var e) ? e.KernelVersion : null).FirstOrDefault(v => v is not null);
            builds.Add(BuildNode(buildId, checkoutId, origin, kernel.Key, kernel.ToList(), change, banner));
            foreach (var c in kernel) tests.Add(TestNode(s, c, buildId, origin, evidence.TryGetValue(c, out var e) ? e : new CellEvidence([], [], null), Url));
        }
        return new JsonObject
        {
            ["version"] = new JsonObject { ["major"] = 5, ["minor"] = 3 },
            ["checkouts"] = new JsonArray(Checkout(s, change, checkoutId, origin)), ["builds"] = builds, ["tests"] = tests,
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

    /// <summary>The harness that wrote the file, in every object's misc.</summary>
    private static JsonObject HarnessMisc() =>
        new() { ["harness_version"] = HarnessVersion.Current.Version, ["harness_commit"] = HarnessVersion.Current.Commit };

    private static JsonObject Checkout(Summary s, ChangeUnderTest change, string id, string origin)
    {
        var checkout = new JsonObject
        {
            ["id"] = id, ["origin"] = origin, ["tree_name"] = change.TreeName,
            // The patch files are the repository's or the user's, not the run's: always where this machine has them.
            ["patchset_files"] = new JsonArray(change.PatchFiles.Select(p => (JsonNode)Resource(p, f => new Uri(Path.GetFullPath(f)).AbsoluteUri)).ToArray()),
            ["patchset_hash"] = change.PatchHash, ["start_time"] = s.StartedAt.ToString("o"), ["valid"] = true,
            ["comment"] = $"{change.Subject} on {change.TreeText}",
            ["misc"] = HarnessMisc(),
        };
        if (change.Tree is not { } tree) return checkout;
        // KCIDB wants an https:// repository URL and a full commit hash; anything else stays in misc.
        if (tree.RemoteUrl is { } url && url.StartsWith("https://", StringComparison.Ordinal)) checkout["git_repository_url"] = url;
        if (tree.Commit is { Length: 40 } commit && commit.All(char.IsAsciiHexDigitLower)) checkout["git_commit_hash"] = commit;
        checkout["misc"] = new JsonObject
        {
            ["harness_version"] = HarnessVersion.Current.Version, ["harness_commit"] = HarnessVersion.Current.Commit,
            ["tree"] = tree.Describe(), ["tree_kind"] = tree.Kind.Kebab(), ["dirty"] = tree.Dirty,
            ["path"] = tree.Path, ["remote"] = tree.RemoteUrl, ["package_version"] = tree.Version,
        };
        return checkout;
    }

    private static JsonObject BuildNode(string id, string checkoutId, string origin, string kernel, IReadOnlyList<SummaryCell> cells, ChangeUnderTest change,
        string? banner)
    {
        var release = cells.Select(c => c.Observation.KernelRelease).FirstOrDefault(r => r is not null);
        var line = cells.Select(c => c.Observation.KernelLine).FirstOrDefault(r => r is not null);
        var build = new JsonObject
        {
            ["id"] = id, ["checkout_id"] = checkoutId, ["origin"] = origin, ["architecture"] = "x86_64",
            // A prebuilt image is what its builder made: neither the harness's tree nor its patch describes it.
            ["comment"] = cells.All(c => c.Scenario.Kernel.Image is not null)
                ? $"prebuilt kernel image '{kernel}', release {release ?? "unknown"}{(line is null ? "" : $" (kernel line {line})")}; not built by the harness"
                : $"{kernel} kernel {release ?? "unknown"}{(line is null ? "" : $" (kernel line {line})")} from {change.TreeText}; "
                  + $"patch under test: {change.Subject}",
            ["status"] = release is not null ? "PASS" : "MISS",
            ["misc"] = HarnessMisc(),
        };
        // The harness's own builds use its config fragment; a prebuilt image's config is whatever its builder chose.
        if (cells.All(c => c.Scenario.Kernel.Image is null)) build["config_name"] = "tinyconfig+hotplug";
        if (banner is not null && CompilerOf(banner) is { } compiler) build["compiler"] = compiler;
        if (banner is not null) build["misc"]!["kernel_version"] = banner;
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

    private static JsonObject TestNode(Summary s, SummaryCell c, string buildId, string origin, CellEvidence evidence, Func<string, string> url)
    {
        var test = new JsonObject
        {
            ["id"] = $"{buildId}-{Slug(c.Name)}-{c.Repeat}", ["build_id"] = buildId, ["origin"] = origin,
            ["path"] = TestPath(c), ["status"] = Status(s, c),
            ["start_time"] = s.StartedAt.ToString("o"), ["duration"] = c.Observation.Seconds,
            ["comment"] = $"predicted {c.Prediction.Outcome.Kebab()}, observed {c.Observation.Outcome.Kebab()}" + (c.Match ? "" : "; " + string.Join("; ", c.Mismatches)),
            ["output_files"] = new JsonArray(evidence.OutputFiles.Select(f => (JsonNode)Resource(f, url)).ToArray()),
            ["environment"] = new JsonObject
            {
                ["comment"] = $"QEMU {c.Scenario.Qemu.Kebab()}, accel {c.Observation.Accel?.Kebab() ?? "none"}, PSE {(c.Scenario.Cpu.Pse ? "on" : "off")}"
                    + Reports.KernelText(c.Observation),
            },
            ["misc"] = HarnessMisc(),
        };
        test["misc"]!["observed"] = c.Observation.Outcome.Kebab();
        test["misc"]!["predicted"] = c.Prediction.Outcome.Kebab();
        if (evidence.ConsoleLog is { } console) test["log_url"] = url(console);
        if (c.Observation.Oopses.FirstOrDefault() is { } oops) test["log_excerpt"] = oops.Title;
        return test;
    }

    /// <summary>
    /// A cell's test is its expectation: PASS when the kernel did what the cell predicts (the unpatched control oopsing
    /// as expected included: the oops is in log_excerpt and misc.observed), FAIL when it did not (a patched kernel
    /// that oopsed, a bug not reproduced); an infrastructure error is never FAIL: MISS when no kernel ever ran, else ERROR.
    /// </summary>
    public static string Status(Summary s, SummaryCell c) => s.Kind == RunKind.Validate ? ValidationStatus(c) : Status(c);

    /// <summary>validate tests the model, not the kernel: PASS when the guest did what the simulator predicted.</summary>
    private static string ValidationStatus(SummaryCell c) =>
        c.Observation.Outcome == Outcome.InfraError ? "ERROR" : c.Match ? "PASS" : "FAIL";

    public static string Status(SummaryCell c) => c.Observation.Outcome switch
    {
        Outcome.InfraError => c.Observation.KernelRelease is null && c.Observation.Iterations.Count == 0 ? "MISS" : "ERROR",
        Outcome.PreconditionFailed => "ERROR",
        _ => c.Match ? "PASS" : "FAIL",
    };

    private static JsonObject Resource(string path, Func<string, string> url) => new() { ["name"] = Path.GetFileName(path), ["url"] = url(path) };
    private static string Slug(string s) => string.Concat(s.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_' ? ch : '_'));

    /// <summary>A name as one KCIDB path component (letters, digits, '_' and '-').</summary>
    private static string PathPart(string s) => string.Concat(s.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' ? ch : '_'));
}
