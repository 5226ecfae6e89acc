using System.Text.Json;

namespace QemuHotplugHarness.Scenarios.Cases;

/// <summary>Reads a case's "cells": name, kernel, pse, qemu, and the expectation a case outside the simulator is judged by.</summary>
internal static class CaseCells
{
    public static IReadOnlyList<CaseCell>? Read(JsonElement e, bool modelled, CaseReader r)
    {
        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() == 0)
        {
            r.Problem("cells", e.ValueKind == JsonValueKind.Array
                ? "no cells (a case names each cell it runs)"
                : $"must be an array, not {CaseReader.Kind(e)}");
            return null;
        }
        var cells = new List<CaseCell>();
        var i = 0;
        foreach (var item in e.EnumerateArray())
        {
            if (Cell(item, $"cells[{i}]", modelled, r) is { } cell)
            {
                if (cells.Any(c => c.Name == cell.Name)) r.Problem($"cells[{i}].name", $"\"{cell.Name}\" is the name of an earlier cell");
                cells.Add(cell);
            }
            i++;
        }
        return cells.Count == i ? cells : null;
    }

    private static CaseCell? Cell(JsonElement e, string path, bool modelled, CaseReader r)
    {
        if (!r.Object(e, path, "name", "kernel", "pse", "qemu", "expect")) return null;
        var name = r.String(e, path, "name", required: true);
        if (name is not null && !CaseLoader.CellNamePattern().IsMatch(name))
            r.Problem(path + ".name", $"\"{name}\": use letters, digits, dashes and underscores");
        var kernel = r.Word<KernelVariant>(e, path, "kernel", "kernel variant", required: true);
        var pse = r.Bool(e, path, "pse") ?? false;
        var qemu = r.Word<QemuFlavour>(e, path, "qemu", "QEMU flavour") ?? QemuFlavour.Patched;
        CaseExpectation? expect = null;
        if (r.Field(e, path, "expect", required: !modelled) is { } x)
        {
            if (modelled)
                r.Problem(path + ".expect", "a modelled case is judged by the simulator's prediction (set \"modelled\": false to judge by expectations)");
            else expect = Expectation(x, path + ".expect", r);
        }
        var complete = name is not null && kernel is not null && (modelled || expect is not null);
        return complete ? new CaseCell(name!, kernel!.Value, pse, qemu, expect) : null;
    }

    private static CaseExpectation? Expectation(JsonElement e, string path, CaseReader r)
    {
        if (!r.Object(e, path, "outcome", "title", "iteration")) return null;
        var outcome = r.Word<Outcome>(e, path, "outcome", "outcome", required: true);
        var title = r.String(e, path, "title");
        var iteration = r.Int(e, path, "iteration", 0, ScenarioValidator.MaxIterations);
        if (outcome is { } o && o != Outcome.Oops)
        {
            if (title is not null) r.Problem(path + ".title", $"only an oops has a title (outcome is {o.Kebab()})");
            if (iteration is not null) r.Problem(path + ".iteration", $"only an oops has an iteration (outcome is {o.Kebab()})");
        }
        return outcome is { } ok && (ok == Outcome.Oops || title is null && iteration is null) ? new CaseExpectation(ok, title, iteration) : null;
    }
}
