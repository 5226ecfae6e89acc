using System.Net;
using System.Text;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration;

/// <summary>
/// report.html: one self-contained page (no scripts, no external files) with the verdict, the matrix, the oopses and
/// the shared section per iteration. Pure: everything it shows is passed in.
/// </summary>
public static class HtmlReport
{
    /// <summary>A colour for every owner and every vmemmap state (a switch: a new state is a compile-time question, not a crash).</summary>
    public static string Color(SubsectionOwner owner) => owner switch
    {
        SubsectionOwner.BootRam => "#4a90d9",
        SubsectionOwner.Device => "#7cb342",
        SubsectionOwner.NvdimmIdle => "#c5e1a5",
        SubsectionOwner.Absent => "#eeeeee",
        _ => "#000000",
    };

    /// <summary>A case's struct-page strip: boot zone blue, ZONE_DEVICE green, poisoned orange, uninitialised grey.</summary>
    public static string Color(StructPageState? state, PageZone? zone) => state switch
    {
        StructPageState.Poisoned => "#fb8c00",
        StructPageState.Initialised when zone == PageZone.Device => "#7cb342",
        StructPageState.Initialised when zone == PageZone.Movable => "#8e24aa",
        StructPageState.Initialised => "#4a90d9",
        _ => "#bdbdbd",
    };

    private static string StructPages(SubsectionSnapshot sub) =>
        sub.StructPages is StructPageState.Initialised && sub.Zone is { } z ? $"initialised ({z.Kebab()})" : sub.StructPages?.Kebab() ?? "";

    public static string Color(VmemmapPageState state) => state switch
    {
        VmemmapPageState.Mapped => "#4a90d9",
        VmemmapPageState.Freed => "#e53935",
        VmemmapPageState.Poisoned => "#fb8c00",
        VmemmapPageState.Unmapped => "#bdbdbd",
        _ => "#000000",
    };

    private const int OopsExcerptLines = 40;

    public static string Render(Summary s, ChangeUnderTest change, IReadOnlyDictionary<SummaryCell, CellEvidence> evidence)
    {
        var h = new StringBuilder();
        Head(h, s, change);
        if (s.Kind == RunKind.Validate) AgreementTable(h, s);
        else if (s.Cases is { Count: > 0 } cases)
            foreach (var c in cases) CaseSection(h, c, s.Cells.Where(x => x.Case == c.Name).ToList());
        else Matrix(h, s.Cells, "<h2>Matrix</h2>");
        Legend(h);
        foreach (var c in s.Cells) CellSection(h, c, evidence.TryGetValue(c, out var e) ? e : new CellEvidence([], [], null));
        h.Append("</body></html>");
        return h.ToString();
    }

    private static string E(string? t) => WebUtility.HtmlEncode(t ?? "");

    private static void Head(StringBuilder h, Summary s, ChangeUnderTest change)
    {
        var good = s.Verdict is Verdict.PatchFixes or Verdict.Partial or Verdict.ModelAgrees;
        h.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>QemuHotplugHarness: ").Append(E(s.Verdict.Kebab())).Append("</title><style>")
         .Append("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}")
         .Append(".verdict{font-size:2em;font-weight:bold;padding:.3em .6em;display:inline-block;border-radius:6px;color:#fff}")
         .Append(".ok{background:#2e7d32}.bad{background:#c62828}pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}")
         .Append(".map{display:flex;gap:1px;margin:2px 0}.map span{width:10px;height:14px;display:inline-block}.legend span{padding:0 6px;margin-right:6px;color:#fff}")
         .Append("</style></head><body>");
        h.Append("<h1>QemuHotplugHarness</h1><p id=\"change\">").Append(E(change.Subject)).Append(" <small>(").Append(E(change.TreeText)).Append(")</small></p>");
        h.Append($"<div id=\"verdict\" class=\"verdict {(good ? "ok" : "bad")}\">verdict: {E(s.Verdict.Kebab())}{E(s.Also)}</div>");
        h.Append($"<p>started {s.StartedAt:u}, {s.Seconds:F0} s, accel {E(s.Accel?.Kebab() ?? "unknown")}{(s.Interrupted ? ", <b>interrupted</b>" : "")}</p>");
    }

    private static string Outcome(Scenarios.Outcome o, int? iteration) => iteration is { } i ? $"{o.Kebab()} @ {i}" : o.Kebab();

    /// <summary>A case: its name, fix, own verdict and matrix.</summary>
    private static void CaseSection(StringBuilder h, CaseSummary c, IReadOnlyList<SummaryCell> cells)
    {
        var good = c.Verdict is Verdict.PatchFixes or Verdict.Partial;
        h.Append($"<h2 id=\"case-{E(c.Name)}\">Case {E(c.Name)}</h2><p class=\"fix\">fix: {E(c.Fix)}{(c.Commit is null ? "" : $" ({E(c.Commit)})")}")
         .Append(c.Modelled ? "; predicted by the simulator" : "; judged by the case's expectations (not modelled)").Append("</p>")
         .Append($"<p><span class=\"verdict {(good ? "ok" : "bad")}\">{E(c.Verdict.Kebab())}</span></p>");
        Matrix(h, cells, "");
    }

    private static void Matrix(StringBuilder h, IReadOnlyList<SummaryCell> cells, string heading)
    {
        h.Append(heading)
         .Append("<table><tr><th>cell</th><th>QEMU</th><th>kernel</th><th>PSE</th><th>predicted</th><th>observed</th><th>match</th><th>boot s</th></tr>");
        foreach (var c in cells)
        {
            h.Append($"<tr><td><a href=\"{E(c.Folder)}/\">{E(c.Name)}</a></td><td>{E(c.Scenario.Qemu.Kebab())}</td><td>{E(c.Scenario.Kernel.Image ?? c.Scenario.Kernel.Variant.Kebab())}</td>")
             .Append($"<td>{(c.Scenario.Cpu.Pse ? "on" : "off")}</td><td>{E(Outcome(c.Prediction.Outcome, c.Prediction.OopsIteration))}</td>")
             .Append($"<td>{E(Outcome(c.Observation.Outcome, c.Observation.OopsIteration))}</td><td>{(c.Match ? "yes" : "<b>no</b>: " + E(string.Join("; ", c.Mismatches)))}</td><td>{c.Observation.BootSeconds}</td></tr>");
        }
        h.Append("</table>");
    }

    /// <summary>validate: the agreement figure, then one row per drawn scenario with its layout, prediction, observation and the fields that disagree.</summary>
    private static void AgreementTable(StringBuilder h, Summary s)
    {
        var judged = s.Cells.Count(c => c.Observation.Outcome != Scenarios.Outcome.InfraError);
        var agree = s.Cells.Count(c => c.Observation.Outcome != Scenarios.Outcome.InfraError && c.Match);
        var draw = s.Validation is { } v ? $" (seed {v.Seed}, sample {v.Sample}; classes drawn: {string.Join(", ", v.ClassesDrawn)})" : "";
        h.Append($"<h2>Agreement</h2><p id=\"agreement\"><b>{agree}/{judged}</b> scenarios agree with the simulator{E(draw)}</p>");
        h.Append("<table><tr><th>scenario</th><th>machine</th><th>QEMU</th><th>RAM</th><th>NVDIMM</th><th>namespace</th><th>iterations</th><th>kernel</th><th>PSE</th><th>predicted</th><th>observed</th><th>agrees</th></tr>");
        foreach (var c in s.Cells)
        {
            var sc = c.Scenario;
            var nvdimm = sc.Nvdimm.Address is { } a ? Hex.Format(a) : "auto";
            var agrees = c.Observation.Outcome == Scenarios.Outcome.InfraError ? "not judged: " + E(c.Observation.Error)
                : c.Match ? "yes" : "<b>no</b>: " + E(string.Join("; ", c.Mismatches));
            h.Append($"<tr><td><a href=\"{E(c.Folder)}/\">{E(c.Name)}</a></td><td>{E(sc.Machine.Type.Kebab())}</td><td>{E(sc.Qemu.Kebab())}</td><td>{E(sc.Machine.Ram.ToString())}</td>")
             .Append($"<td>{E(nvdimm)}</td><td>{E(sc.Workload.NamespaceSize.ToString())} {E(sc.Workload.Mode.Kebab())}</td><td>{sc.Workload.Iterations}</td>")
             .Append($"<td>{E(sc.Kernel.Image ?? sc.Kernel.Variant.Kebab())}</td><td>{(sc.Cpu.Pse ? "on" : "off")}</td><td>{E(Outcome(c.Prediction.Outcome, c.Prediction.OopsIteration))}</td>")
             .Append($"<td>{E(Outcome(c.Observation.Outcome, c.Observation.OopsIteration))}</td><td>{agrees}</td></tr>");
        }
        h.Append("</table>");
    }

    private static void Legend(StringBuilder h)
    {
        h.Append("<h2>Shared section, per iteration (simulator) and what the guest showed</h2><p class=\"legend\">");
        foreach (var owner in Enum.GetValues<SubsectionOwner>()) h.Append($"<span style=\"background:{Color(owner)}\">{owner.Kebab()}</span>");
        foreach (var state in Enum.GetValues<VmemmapPageState>()) h.Append($"<span style=\"background:{Color(state)}\">{state.Kebab()}</span>");
        h.Append("</p><p>Each row: the 64 sub-sections (2 MiB) of the 128 MiB section shared by boot RAM and the NVDIMM; upper strip owner, middle strip vmemmap state of their struct pages; for a case's own workload a third strip, the struct pages themselves (blue boot zone, green ZONE_DEVICE, orange poisoned, grey uninitialised).</p>");
    }

    private static void CellSection(StringBuilder h, SummaryCell c, CellEvidence evidence)
    {
        h.Append($"<h3>{E(c.Label)}</h3>");
        if (c.Judge == Judge.Expectation)
        {
            h.Append("<p>").Append(E(string.Join(" ", c.Prediction.Explanation))).Append("</p>");
            foreach (var line in CaseExpectations.Machine(c.Scenario)) h.Append("<p>").Append(E(line)).Append("</p>");
            Oopses(h, c, evidence);
            return;
        }
        if (c.Scenario.Workload.IsCustom && !CaseWorkload.UsesNvdimm(c.Scenario.Workload))
        {
            MemoryBlocks(h, c);
            Oopses(h, c, evidence);
            return;
        }
        if (c.Prediction.Layout.SharedSection is null)
        {
            h.Append("<p>No section shared with boot RAM: ").Append(E(c.Prediction.Rejection ?? "nothing to draw")).Append("</p>");
            return;
        }
        h.Append($"<p>{E(c.Prediction.Layout.SharedSection)}</p><table><tr><th>iteration</th><th>simulator</th><th>guest</th></tr>");
        foreach (var it in c.Prediction.Iterations) IterationRow(h, c, it);
        h.Append("</table>");
        Oopses(h, c, evidence);
    }

    private static void Oopses(StringBuilder h, SummaryCell c, CellEvidence evidence)
    {
        foreach (var (o, i) in c.Observation.Oopses.Select((o, i) => (o, i)))
        {
            var text = i < evidence.OopsTexts.Count ? string.Join('\n', evidence.OopsTexts[i].Split('\n').Take(OopsExcerptLines)) : o.Title;
            h.Append($"<p>oops {i + 1}: <b>{E(o.Title)}</b> (fault {E(Reports.HexOrNone(o.FaultAddress))}, pfn {E(Reports.HexOrNone(o.FaultPfn))})</p><pre>{E(text)}</pre>");
        }
    }

    /// <summary>
    /// A memory-device case: the simulator's explanation, then per iteration the memory blocks of its devices (struct
    /// pages: blue ZONE_NORMAL, purple ZONE_MOVABLE, orange poisoned) beside the guest's last step.
    /// </summary>
    private static void MemoryBlocks(StringBuilder h, SummaryCell c)
    {
        h.Append("<p>").Append(E(string.Join(" ", c.Prediction.Explanation))).Append("</p>");
        foreach (var line in CaseExpectations.Machine(c.Scenario)) h.Append("<p>").Append(E(line)).Append("</p>");
        h.Append("<table><tr><th>iteration</th><th>memory blocks (simulator)</th><th>guest</th></tr>");
        foreach (var it in c.Prediction.Iterations)
        {
            var seen = c.Observation.Iterations.LastOrDefault(o => o.Index == it.Index);
            h.Append($"<tr><td>{it.Index}</td><td><div class=\"map\">");
            foreach (var b in it.MemoryBlocks)
                h.Append($"<span title=\"memory{b.Number} ({E(b.Device)}, {E(b.Range.ToIomem())}) {(b.Online ? "online" : "offline")}, struct pages {E(b.StructPages.Kebab())}{(b.Zone is { } z ? $" ({z.Kebab()})" : "")}\" style=\"background:{Color(b.StructPages, b.Zone)}\"></span>");
            h.Append("</div>").Append(E(it.MemoryBlocks.Count == 0 ? "no memory blocks; " : $"memory{it.MemoryBlocks[0].Number}-{it.MemoryBlocks[^1].Number}; "))
                .Append(E(it.Outcome.Kebab())).Append("</td><td>");
            h.Append(seen is null ? "not run" : E($"{seen.Command}: exit {seen.ExitCode?.ToString() ?? (seen.TimedOut ? "timeout" : "none")}, {seen.Seconds:F2} s"));
            if (c.Observation.OopsIteration == it.Index) h.Append("<br><b>").Append(E(c.Observation.Oopses.FirstOrDefault()?.Title)).Append("</b>");
            h.Append("</td></tr>");
        }
        h.Append("</table>");
    }

    private static void IterationRow(StringBuilder h, SummaryCell c, IterationPrediction it)
    {
        var seen = c.Observation.Iterations.FirstOrDefault(o => o.Index == it.Index);
        h.Append($"<tr><td>{it.Index}</td><td><div class=\"map\">");
        foreach (var sub in it.SharedSection) h.Append($"<span title=\"{E(sub.Range.ToIomem())} {sub.Owner.Kebab()}\" style=\"background:{Color(sub.Owner)}\"></span>");
        h.Append("</div><div class=\"map\">");
        foreach (var sub in it.SharedSection) h.Append($"<span title=\"{E(sub.Range.ToIomem())} vmemmap {sub.Vmemmap.Kebab()}\" style=\"background:{Color(sub.Vmemmap)}\"></span>");
        if (it.SharedSection.Any(sub => sub.StructPages is not null))
        {
            h.Append("</div><div class=\"map\">");
            foreach (var sub in it.SharedSection)
                h.Append($"<span title=\"{E(sub.Range.ToIomem())} struct pages {StructPages(sub)}\" style=\"background:{Color(sub.StructPages, sub.Zone)}\"></span>");
        }
        h.Append($"</div>{E(it.Outcome.Kebab())}</td><td>");
        h.Append(seen is null ? "not run" : E($"ndctl exit {seen.ExitCode?.ToString() ?? (seen.TimedOut ? "timeout" : "none")}, {seen.Seconds:F2} s; namespace0.0 {seen.Namespace?.ToIomem() ?? "-"}, dax {seen.Dax?.ToIomem() ?? "-"}"));
        if (c.Observation.OopsIteration == it.Index) h.Append("<br><b>").Append(E(c.Observation.Oopses.FirstOrDefault()?.Title)).Append("</b>");
        h.Append("</td></tr>");
    }
}
