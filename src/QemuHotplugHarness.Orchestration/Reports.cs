using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration;

public sealed record Summary
{
    public required Verdict Verdict { get; init; }
    public required IReadOnlyList<SummaryCell> Cells { get; init; }
    public bool Interrupted { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public double Seconds { get; init; }
    public Accel? Accel { get; init; }
    public string? Shard { get; init; }
    /// <summary>The change under test, so merge and later readers name it as the run did.</summary>
    public ChangeUnderTest? Change { get; init; }
    /// <summary>reproduce or validate (summaries written before validate existed are reproductions).</summary>
    public RunKind Kind { get; init; } = RunKind.Reproduce;
    /// <summary>validate: the draw (seed, sample size, outcome classes).</summary>
    public ValidationInfo? Validation { get; init; }
    /// <summary>The cases run (reproduce of a case or a suite): each with its fix and verdict; the top-level verdict is the suite's.</summary>
    public IReadOnlyList<CaseSummary>? Cases { get; init; }
    /// <summary>The cases of the plan that did not run (not applicable on the line, no fix, a broken private case), with why.</summary>
    public IReadOnlyList<SkippedCase>? Skipped { get; init; }
    /// <summary>What the run was asked to do: its shard and every cell × repeat of the whole plan (merge checks it arrived whole).</summary>
    public ShardPlan? Plan { get; init; }
    /// <summary>merge: the shards and planned cells that never arrived (null: nothing missing, or no plan to tell).</summary>
    public MissingWork? Missing { get; init; }
    /// <summary>The harness that wrote this summary (version and git commit); set when it is written.</summary>
    public HarnessVersion? Harness { get; init; }
    /// <summary>The cells that could not be judged (infra-error, precondition-failed), said beside a finding that wins over them.</summary>
    public IReadOnlyList<string>? Unjudged { get; init; }

    /// <summary>The cells that could not be judged, by label (and #repeat beyond the first); null when every cell was judged.</summary>
    public static IReadOnlyList<string>? UnjudgedOf(IReadOnlyList<SummaryCell> cells) =>
        cells.Where(c => c.Result.Unjudged).Select(c => c.Repeat > 1 ? $"{c.Label}#{c.Repeat}" : c.Label).ToList() is { Count: > 0 } l ? l : null;

    /// <summary>"; also: 1 cell(s) not judged (…); shard 2/2 missing" when the verdict does not already say it, else "".</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Also
    {
        get
        {
            var parts = new List<string>();
            if (Unjudged is { Count: > 0 } u && Verdict != Verdict.InfraError)
                parts.Add($"{u.Count} cell(s) not judged (infra-error): {string.Join(", ", u.Take(8))}{(u.Count > 8 ? ", …" : "")}");
            if (Missing is { Any: true } m && Verdict != Verdict.Incomplete) parts.Add("incomplete: " + m.Describe());
            return parts.Count == 0 ? "" : "; also: " + string.Join("; ", parts);
        }
    }
}

/// <summary>One cell of summary.json.</summary>
/// <remarks>Positional with more than six fields: one parameter per JSON field of the cell, never a call site to keep short.</remarks>
public sealed record SummaryCell(string Name, int Repeat, Scenario Scenario, Prediction Prediction, Observation Observation, bool Match, IReadOnlyList<string> Mismatches, string Folder)
{
    /// <summary>The case the cell belongs to (null outside any case).</summary>
    public string? Case { get; init; }

    /// <summary>What the cell was held to: the simulator's prediction, or its case's expectation.</summary>
    public Judge Judge { get; init; } = Judge.Simulator;

    /// <summary>"case/cell" in a run of cases, else the cell's name.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Label => Case is null ? Name : $"{Case}/{Name}";

    /// <summary>The kernel line the cell ran on: the one it asked for, else its kernel's, else the default line (defaults.json).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Line => Scenario.Kernel.Line ?? Observation.KernelLine ?? Build.HarnessDefaults.Repo.Line;

    [System.Text.Json.Serialization.JsonIgnore]
    public CellResult Result => new(Name, Repeat, Scenario, Prediction, Observation, Mismatches);
}

/// <summary>The change a run tests, as reports name it: the patch's subject, the tree it applies to, the patch files and their hash.</summary>
public sealed record ChangeUnderTest(string Subject, string TreeName, IReadOnlyList<string> PatchFiles, string PatchHash)
{
    /// <summary>What the tree is (package and version, git remote/commit/dirty, or a folder), when known.</summary>
    public TreeIdentity? Tree { get; init; }

    /// <summary>The tree as reports print it: "linux-source-6.1 6.1.158-1 (Debian package)", "linux @ 1a2b3c4d5e6f-dirty (…)".</summary>
    public string TreeText => Tree?.Describe() ?? TreeName;

    /// <summary>The change named by its patches, on a tree named by what it is.</summary>
    public static ChangeUnderTest Of(IReadOnlyList<string> patchFiles, TreeIdentity tree) => FromPatches(patchFiles, tree.Name) with { Tree = tree };

    /// <summary>Reads the subjects and hashes the patches (the I/O edge; renderers get the result).</summary>
    public static ChangeUnderTest FromPatches(IReadOnlyList<string> patchFiles, string treeName)
    {
        var subjects = patchFiles.Select(SubjectOf).Where(s => s is not null).Distinct().ToList(); // cases may share a fix
        var hash = patchFiles.Count == 0 ? "" : Sha256(string.Concat(patchFiles.Select(p => Sha256(File.ReadAllText(p)) + "\n")));
        var subject = subjects.Count == 0 ? "(no patch)" : string.Join("; ", subjects);
        return new ChangeUnderTest(subject, treeName, patchFiles, hash);
    }

    public static ChangeUnderTest FromPatchFolder(string dir, string treeName) =>
        FromPatches(Directory.Exists(dir) ? Directory.GetFiles(dir, "*.patch").OrderBy(p => p, StringComparer.Ordinal).ToList() : [], treeName);

    /// <summary>The mail's Subject line without its "[PATCH …]" tag.</summary>
    public static string? SubjectOf(string patchFile)
    {
        var line = File.ReadLines(patchFile).Take(100).FirstOrDefault(l => l.StartsWith("Subject:", StringComparison.Ordinal));
        if (line is null) return null;
        var subject = line["Subject:".Length..].Trim();
        return subject.StartsWith('[') && subject.IndexOf(']') is var end and > 0 ? subject[(end + 1)..].Trim() : subject;
    }

    private static string Sha256(string s) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)));
}

/// <summary>What the renderers need from a cell's folder, read once at the edge: oops texts, output files, the console.</summary>
public sealed record CellEvidence(IReadOnlyList<string> OopsTexts, IReadOnlyList<string> OutputFiles, string? ConsoleLog)
{
    /// <summary>The kernel's "Linux version …" banner (release, builder, compiler and linker), from dmesg.txt or the console.</summary>
    public string? KernelVersion { get; init; }

    public static CellEvidence Read(CellArtifacts files, int oopses) => new(
        Enumerable.Range(1, oopses).Select(files.Oops).Where(File.Exists).Select(File.ReadAllText).ToList(),
        files.Outputs(),
        File.Exists(files.Console) ? files.Console : null)
    {
        KernelVersion = VersionBanner(files.Dmesg) ?? VersionBanner(files.Console),
    };

    private static string? VersionBanner(string log)
    {
        if (!File.Exists(log)) return null;
        var line = File.ReadLines(log).Take(2000).FirstOrDefault(l => l.Contains("Linux version ", StringComparison.Ordinal));
        return line?[line.IndexOf("Linux version ", StringComparison.Ordinal)..].TrimEnd();
    }
}

/// <summary>Writes a run's files: summary.json (after every cell), then junit.xml, kcidb.json and report.html at the end.</summary>
public static class Reports
{
    public static void WriteSummary(RunArtifacts run, Summary summary)
    {
        Directory.CreateDirectory(run.Dir);
        File.WriteAllText(run.Summary, HarnessJson.Serialize(summary with { Harness = HarnessVersion.Current }));
    }

    public static void WriteReports(RunArtifacts run, Summary summary, ChangeUnderTest change, KcidbOptions? kcidbOptions = null)
    {
        var evidence = summary.Cells.ToDictionary(c => c, c => CellEvidence.Read(run.Cell(c.Folder), c.Observation.Oopses.Count));
        Junit(summary with { Change = summary.Change ?? change }).Save(run.Junit);
        File.WriteAllText(run.Html, HtmlReport.Render(summary, change, evidence));
        var kcidb = Kcidb.Build(summary, change, evidence, kcidbOptions, run.Dir);
        File.WriteAllText(run.Kcidb, kcidb.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    public static void WriteAll(RunArtifacts run, Summary summary, ChangeUnderTest change, KcidbOptions? kcidbOptions = null)
    {
        WriteSummary(run, summary);
        WriteReports(run, summary, change, kcidbOptions);
    }

    /// <summary>
    /// junit.xml: one testsuite per case (a run of cases), else one for the run; a testcase per cell. A test's identity
    /// is stable from night to night whatever happened: classname = case and kernel line (<see cref="JunitClass"/>),
    /// name = cell (#repeat beyond the first); the verdict and the outcome are properties.
    /// </summary>
    public static XDocument Junit(Summary s)
    {
        XElement[] properties =
        [
            .. s.Change is { } change ? new[] { Property("patch", change.Subject), Property("tree", change.TreeText) } : [],
            Property("harness_version", HarnessVersion.Current.Version), Property("harness_commit", HarnessVersion.Current.Commit),
        ];
        if (s.Cases is not { Count: > 0 } cases)
            return new XDocument(new XElement("testsuites",
                JunitSuite(s, "qemu-hotplug-harness " + s.Kind.Kebab(), s.Verdict, s.Cells, s.Seconds, [Property("verdict", s.Verdict.Kebab()), .. properties])));
        var suites = cases.Select(c =>
        {
            var cells = s.Cells.Where(x => x.Case == c.Name).ToList();
            XElement[] caseProperties =
            [
                Property("case", c.Name), Property("fix", c.Fix), .. c.Commit is null ? Array.Empty<XElement>() : [Property("commit", c.Commit)],
                Property("verdict", c.Verdict.Kebab()), .. properties,
            ];
            var seconds = cells.Sum(x => x.Observation.Seconds);
            return JunitSuite(s, $"qemu-hotplug-harness {s.Kind.Kebab()} {c.Name}", c.Verdict, cells, seconds, caseProperties);
        });
        return new XDocument(new XElement("testsuites", suites));
    }

    private static XElement Property(string name, string value) => new("property", new XAttribute("name", name), new XAttribute("value", value));

    /// <summary>
    /// A cell's junit classname: its case (or "qemu-hotplug-harness" outside cases) and the kernel line it asked for
    /// (none: the default line), "early-section-memmap.linux-6_1": the line's dots would split a Java-style package.
    /// </summary>
    public static string JunitClass(SummaryCell c) =>
        $"{c.Case ?? "qemu-hotplug-harness"}.linux-{c.Line.Replace('.', '_')}";

    private static XElement JunitSuite(Summary s, string name, Verdict verdict, IReadOnlyList<SummaryCell> cells, double seconds,
        XElement[] properties)
    {
        var cases = cells.Select(c => JunitCase(s, c, JunitClass(c), verdict)).ToList();
        return new XElement("testsuite",
            new XAttribute("name", name),
            new XAttribute("tests", cases.Count),
            new XAttribute("failures", cases.Count(c => c.Element("failure") is not null)),
            new XAttribute("errors", cases.Count(c => c.Element("error") is not null)),
            new XAttribute("skipped", 0),
            new XAttribute("time", seconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)),
            new XAttribute("timestamp", s.StartedAt.UtcDateTime.ToString("s")),
            properties.Length == 0 ? null : new XElement("properties", properties), cases);
    }

    private static XElement JunitCase(Summary s, SummaryCell c, string classname, Verdict verdict)
    {
        var tc = new XElement("testcase",
            new XAttribute("classname", classname),
            new XAttribute("name", c.Repeat > 1 ? $"{c.Name}#{c.Repeat}" : c.Name),
            new XAttribute("time", c.Observation.Seconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)),
            new XElement("properties", Property("verdict", verdict.Kebab()), Property("predicted", c.Prediction.Outcome.Kebab()),
                Property("observed", c.Observation.Outcome.Kebab())));
        // validate: only an infrastructure error leaves a scenario unjudged; a guest unlike the model's layout disagrees.
        if (s.Kind == RunKind.Validate ? c.Observation.Outcome == Outcome.InfraError : c.Result.Unjudged)
            tc.Add(new XElement("error", new XAttribute("message", c.Observation.Error ?? c.Observation.Outcome.Kebab()), c.Observation.Error ?? ""));
        else if (!c.Match)
        {
            var oops = c.Observation.Oopses.FirstOrDefault();
            tc.Add(new XElement("failure", new XAttribute("message", string.Join("; ", c.Mismatches)),
                string.Join("\n", c.Mismatches) + (oops is null ? "" : $"\n{oops.Title}\nsee {new CellArtifacts(c.Folder).Oops(1)}")));
        }
        var outText = $"predicted {c.Prediction.Outcome.Kebab()}, observed {c.Observation.Outcome.Kebab()}" + KernelText(c.Observation) +
                      string.Concat(c.Observation.Oopses.Select(o => $"\n{o.Title} (fault {HexOrNone(o.FaultAddress)}, pfn {HexOrNone(o.FaultPfn)})"));
        tc.Add(new XElement("system-out", outText));
        return tc;
    }

    /// <summary>"; kernel 7.2.13 (line latest)" for a cell whose kernel is known.</summary>
    public static string KernelText(Observation o) =>
        o.KernelRelease is null ? "" : $"; kernel {o.KernelRelease}" + (o.KernelLine is null ? "" : $" (line {o.KernelLine})");

    public static string HexOrNone(ulong? value) => value is { } v ? Hex.Format(v) : "none";
}

/// <summary>What a draw was asked for and what it found, kept in summary.json so a merge and a reader can tell.</summary>
public sealed record ValidationInfo(int Seed, int Sample, int Candidates, IReadOnlyList<string> ClassesInSpace, IReadOnlyList<string> ClassesDrawn);
