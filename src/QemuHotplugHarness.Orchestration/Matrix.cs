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

    /// <summary>What the cell must show when the case is outside the simulator (null: the simulator predicts it).</summary>
    public CaseExpectation? Expect { get; init; }

    /// <summary>Why the case is outside the simulator (with <see cref="Expect"/>).</summary>
    public string? NotModelled { get; init; }

    /// <summary>The simulator's model of the case's fix (its own workload's mechanism); null for the seed's loop.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public CaseModel? Model { get; init; }

    /// <summary>"case/cell" in a run of cases, else the cell's name.</summary>
    public string Label => Case is null ? Name : $"{Case}/{Name}";

    /// <summary>The simulator's prediction, or for a case outside the model its expectation on the simulator's layout.</summary>
    public Prediction Predict() => Expect is { } e
        ? Prediction.FromExpectation(Predictor.Predict(Scenario), e, NotModelled ?? "the case says so")
        : Predictor.Predict(Scenario, Model);
}

public static class Matrix
{
    /// <summary>The seed's five cells: stock QEMU rejects; unpatched + PSE off oopses; the rest stay clean.</summary>
    public static IReadOnlyList<Cell> Default(Scenario b) =>
    [
        new("stock-qemu-unpatched-pse-off", b.WithQemu(QemuFlavour.Stock).WithKernel(KernelVariant.Unpatched).WithPse(false)),
        new("unpatched-pse-off", b.WithQemu(QemuFlavour.Patched).WithKernel(KernelVariant.Unpatched).WithPse(false)),
        new("unpatched-pse-on", b.WithQemu(QemuFlavour.Patched).WithKernel(KernelVariant.Unpatched).WithPse(true)),
        new("patched-pse-off", b.WithQemu(QemuFlavour.Patched).WithKernel(KernelVariant.Patched).WithPse(false)),
        new("patched-pse-on", b.WithQemu(QemuFlavour.Patched).WithKernel(KernelVariant.Patched).WithPse(true)),
    ];

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
