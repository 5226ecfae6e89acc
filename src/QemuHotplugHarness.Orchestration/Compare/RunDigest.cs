using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration;

/// <summary>
/// One run of one cell as <c>qhh compare</c> sees it, keyed across nights by (case, kernel line, cell). A cell without
/// a kernel line asked for the default line (<see cref="KernelSources.DefaultKernelLine"/>), so a night that names it
/// and one that does not are the same cell.
/// </summary>
public sealed record CellRun(string? Case, string KernelLine, string Name, int Repeat, string Outcome, bool Match,
    double Seconds, IReadOnlyList<string> OopsTitles)
{
    /// <summary>The cell could not be judged (infra-error, precondition-failed): nothing learned about the kernel.</summary>
    public bool Unjudged { get; init; }

    /// <summary>Why it could not be judged (the observation's error).</summary>
    public string? Error { get; init; }

    /// <summary>case/line/cell (no case part outside a run of cases): the identity of a cell across nights.</summary>
    public string Key => string.Join('/', new[] { Case, KernelLine, Name }.Where(p => !string.IsNullOrEmpty(p)));

    public static CellRun Of(SummaryCell c) =>
        new(c.Case, c.Line, c.Name, c.Repeat, c.Observation.Outcome.Kebab(), c.Match,
            c.Observation.Seconds, c.Observation.Oopses.Select(o => o.Title).ToList())
        {
            Unjudged = c.Result.Unjudged, Error = c.Observation.Error,
        };
}

/// <summary>A case of a suite with its own verdict.</summary>
public sealed record CaseVerdict(string Case, Verdict Verdict);

/// <summary>
/// What compare takes from a summary.json, read by the one typed reader merge uses (<see cref="SummaryFile"/>):
/// the verdicts, the cells keyed by (case, line, cell), the run's time.
/// </summary>
public sealed record RunDigest(string Source, RunKind Kind, Verdict Verdict, double Seconds, bool Interrupted,
    IReadOnlyList<CellRun> Cells, IReadOnlyList<CaseVerdict> Cases)
{
    /// <summary>What the run could not judge or did not run, as its summary says (unjudged cells, missing shards or cells).</summary>
    public MissingWork? Missing { get; init; }

    /// <summary>BEFORE or AFTER as given: a summary.json, or an artifact folder holding one.</summary>
    public static RunDigest Load(string path) => Of(SummaryFile.Read(path, InputKind.CompareInput), path);

    /// <summary>Reads a summary's text; <paramref name="source"/> names the input in errors.</summary>
    public static RunDigest Parse(string json, string source) => Of(SummaryFile.Parse(json, source, InputKind.CompareInput), source);

    public static RunDigest Of(Summary s, string source) =>
        new(source, s.Kind, s.Verdict, s.Seconds, s.Interrupted, s.Cells.Select(CellRun.Of).ToList(),
            (s.Cases ?? []).Select(c => new CaseVerdict(c.Name, c.Verdict)).ToList())
        {
            Missing = s.Missing,
        };
}
