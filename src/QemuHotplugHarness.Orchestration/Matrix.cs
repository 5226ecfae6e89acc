using System.Text.Json;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration;

/// <summary>One cell of the matrix: a named scenario, and when it belongs to a case, the case's name, kernel and expectation.</summary>
public sealed record Cell(string Name, Scenario Scenario)
{
    /// <summary>The case the cell belongs to (null: a run of scenarios outside any case, e.g. validate).</summary>
    public string? Case { get; init; }

    /// <summary>The case's kernel (its fix patch and config); null = the sources' default.</summary>
    public KernelRecipe? Kernel { get; init; }

    /// <summary>What the cell is held to: the simulator (with the case's model), or its case's expectation.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ICellJudge Judge { get; init; } = SimulatorJudge.Seed;

    /// <summary>What the cell must show when its case is outside the simulator (null: the simulator predicts it).</summary>
    public CaseExpectation? Expect => (Judge as ExpectationJudge)?.Expect;

    /// <summary>"case/cell" in a run of cases, else the cell's name.</summary>
    public string Label => Case is null ? Name : $"{Case}/{Name}";

    /// <summary>What the cell's judge predicts for its scenario.</summary>
    public Prediction Predict() => Judge.Predict(Scenario);
}

public static class Matrix
{
    /// <summary>
    /// The bisect cell: the user's tree as it is (built as the "patched" kernel, nothing applied) on patched QEMU with
    /// PSE off, where a tree without the fix oopses. Clean is good, an oops is bad.
    /// </summary>
    public static IReadOnlyList<Cell> Bisect(Scenario b) =>
        [new("tree-pse-off", b.WithQemu(QemuFlavour.Patched).WithKernel(KernelVariant.Patched).WithPse(false))];

    /// <summary>A JSON matrix: [{ "name": "...", "scenario": { ... } }, ...]; missing fields take the seed's values.</summary>
    public static IReadOnlyList<Cell> Load(string path)
    {
        if (!File.Exists(path)) throw new BadInputException(InputKind.Matrix, path, "no such file");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var cells = new List<Cell>();
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                var name = item.GetProperty("name").GetString() ?? throw new BadInputException(InputKind.Matrix, path, "a cell without a name");
                var scenario = item.TryGetProperty("scenario", out var s) ? ScenarioJson.Parse(s.GetRawText(), $"{path} cell {name}") : Scenario.Seed;
                cells.Add(new Cell(name, ValidCell(scenario.WithName(name), $"{path} cell {name}")));
            }
            if (cells.Count == 0) throw new BadInputException(InputKind.Matrix, path, "no cells");
            if (cells.Select(c => c.Name).Distinct().Count() != cells.Count) throw new BadInputException(InputKind.Matrix, path, "cell names must be unique");
            return cells;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new BadInputException(InputKind.Matrix, path, $"not a matrix ([{{\"name\": ..., \"scenario\": {{...}}}}]): {e.Message.Split('\n')[0]}", e);
        }
    }

    /// <summary>A cell's scenario if it is valid; else every problem, each named with the file and cell it came from.</summary>
    private static Scenario ValidCell(Scenario scenario, string origin)
    {
        var problems = ScenarioValidator.Validate(scenario);
        return problems.Count == 0 ? scenario : throw new BadInputException(problems, origin);
    }

    /// <summary>Shard k/n: a deterministic slice of cells × repeats.</summary>
    public static IReadOnlyList<(Cell Cell, int Repeat)> Shard(IReadOnlyList<Cell> cells, int repeat, string? shard)
    {
        var all = cells.SelectMany(c => Enumerable.Range(1, repeat).Select(r => (c, r))).ToList();
        if (shard is null) return all;
        var parts = shard.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var k) || !int.TryParse(parts[1], out var n) || n < 1 || k < 1 || k > n)
            throw new BadInputException(InputKind.Shard, shard, "use k/n with 1 <= k <= n");
        return all.Where((_, i) => i % n == k - 1).ToList();
    }
}
