using System.Net;
using System.Text;

namespace QemuHotplugHarness.Orchestration;

/// <summary>report.html: one self-contained page (no scripts, no external files) with the verdict, the matrix, the oopses and the shared section per iteration.</summary>
public static class HtmlReport
{
    private static readonly Dictionary<string, string> Colors = new()
    {
        ["boot-ram"] = "#4a90d9", ["device"] = "#7cb342", ["nvdimm-idle"] = "#c5e1a5", ["absent"] = "#eeeeee",
        ["mapped"] = "#4a90d9", ["freed"] = "#e53935", ["poisoned"] = "#fb8c00", ["unmapped"] = "#bdbdbd",
    };

    public static string Render(Summary s, string artifacts)
    {
        static string E(string? t) => WebUtility.HtmlEncode(t ?? "");
        var h = new StringBuilder();
        var good = s.Verdict == Verdicts.PatchFixes;
        h.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>QemuHotplugHarness: ").Append(E(s.Verdict)).Append("</title><style>")
         .Append("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}")
         .Append(".verdict{font-size:2em;font-weight:bold;padding:.3em .6em;display:inline-block;border-radius:6px;color:#fff}")
         .Append(".ok{background:#2e7d32}.bad{background:#c62828}pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}")
         .Append(".map{display:flex;gap:1px;margin:2px 0}.map span{width:10px;height:14px;display:inline-block}.legend span{padding:0 6px;margin-right:6px;color:#fff}")
         .Append("</style></head><body>");
        h.Append("<h1>QemuHotplugHarness</h1><p>mm/sparse: never partially remove memmap for early section</p>");
        h.Append($"<div id=\"verdict\" class=\"verdict {(good ? "ok" : "bad")}\">verdict: {E(s.Verdict)}</div>");
        h.Append($"<p>started {s.StartedAt:u}, {s.Seconds:F0} s, accel {E(s.Accel)}{(s.Interrupted ? ", <b>interrupted</b>" : "")}</p>");
        h.Append("<h2>Matrix</h2><table><tr><th>cell</th><th>QEMU</th><th>kernel</th><th>PSE</th><th>predicted</th><th>observed</th><th>match</th><th>boot s</th></tr>");
        foreach (var c in s.Cells)
        {
            string Outcome(string o, int? it) => it is { } i ? $"{o} @ {i}" : o;
            h.Append($"<tr><td><a href=\"{E(c.Folder)}/\">{E(c.Name)}</a></td><td>{E(c.Scenario.Qemu.ToString())}</td><td>{E(c.Scenario.Kernel.Image ?? c.Scenario.Kernel.Variant.ToString())}</td>")
             .Append($"<td>{(c.Scenario.Cpu.Pse ? "on" : "off")}</td><td>{E(Outcome(c.Prediction.Outcome, c.Prediction.OopsIteration))}</td>")
             .Append($"<td>{E(Outcome(c.Observation.Outcome, c.Observation.OopsIteration))}</td><td>{(c.Match ? "yes" : "<b>no</b>: " + E(string.Join("; ", c.Mismatches)))}</td><td>{c.Observation.BootSeconds}</td></tr>");
        }
        h.Append("</table>");
        h.Append("<h2>Shared section, per iteration (simulator) and what the guest showed</h2><p class=\"legend\">");
        foreach (var (k, v) in Colors) h.Append($"<span style=\"background:{v}\">{k}</span>");
        h.Append("</p><p>Each row: the 64 sub-sections (2 MiB) of the 128 MiB section shared by boot RAM and the NVDIMM; upper strip owner, lower strip vmemmap state of their struct pages.</p>");
        foreach (var c in s.Cells)
        {
            h.Append($"<h3>{E(c.Name)}</h3>");
            if (c.Prediction.Layout.SharedSection is null) { h.Append("<p>No section shared with boot RAM: ").Append(E(c.Prediction.Rejection ?? "nothing to draw")).Append("</p>"); continue; }
            h.Append($"<p>{E(c.Prediction.Layout.SharedSection)}</p><table><tr><th>iteration</th><th>simulator</th><th>guest</th></tr>");
            foreach (var it in c.Prediction.Iterations)
            {
                var seen = c.Observation.Iterations.FirstOrDefault(o => o.Index == it.Index);
                h.Append($"<tr><td>{it.Index}</td><td><div class=\"map\">");
                foreach (var sub in it.SharedSection) h.Append($"<span title=\"{E(sub.Range)} {sub.Owner}\" style=\"background:{Colors[sub.Owner]}\"></span>");
                h.Append("</div><div class=\"map\">");
                foreach (var sub in it.SharedSection) h.Append($"<span title=\"{E(sub.Range)} vmemmap {sub.Vmemmap}\" style=\"background:{Colors[sub.Vmemmap]}\"></span>");
                h.Append($"</div>{E(it.Outcome)}</td><td>");
                h.Append(seen is null ? "not run" : E($"ndctl exit {seen.ExitCode?.ToString() ?? (seen.TimedOut ? "timeout" : "none")}, {seen.Seconds:F2} s; namespace0.0 {seen.Namespace ?? "-"}, dax {seen.Dax ?? "-"}"));
                if (c.Observation.OopsIteration == it.Index) h.Append("<br><b>").Append(E(c.Observation.Oopses.FirstOrDefault()?.Title)).Append("</b>");
                h.Append("</td></tr>");
            }
            h.Append("</table>");
            foreach (var (o, i) in c.Observation.Oopses.Select((o, i) => (o, i)))
            {
                var file = Path.Combine(artifacts, c.Folder, $"oops-{i + 1}.txt");
                var text = File.Exists(file) ? string.Join('\n', File.ReadLines(file).Take(40)) : o.Title;
                h.Append($"<p>oops {i + 1}: <b>{E(o.Title)}</b> (fault {E(o.FaultAddress)}, pfn {E(o.FaultPfn)})</p><pre>{E(text)}</pre>");
            }
        }
        h.Append("</body></html>");
        return h.ToString();
    }
}
