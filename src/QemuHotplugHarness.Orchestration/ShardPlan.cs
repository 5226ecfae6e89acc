namespace QemuHotplugHarness.Orchestration;

/// <summary>A cell × repeat of a run's plan, as summary.json names it.</summary>
public sealed record PlannedCell(string? Case, string Name, int Repeat)
{
    /// <summary>"case/cell#repeat" (the case part only in a run of cases, #repeat only beyond the first).</summary>
    public override string ToString() => (Case is null ? Name : $"{Case}/{Name}") + (Repeat > 1 ? $"#{Repeat}" : "");
}

/// <summary>
/// What a run was asked to do, written into its summary.json: its shard (k/n, null for a whole run) and every cell ×
/// repeat of the whole plan, not only the shard's. merge sets the shards that arrived against it: a shard or a cell
/// that never arrived makes the night <see cref="Verdict.Incomplete"/>, never patch-fixes.
/// </summary>
public sealed record ShardPlan(string? Shard, IReadOnlyList<PlannedCell> Cells)
{
    /// <summary>The plan of <paramref name="cells"/> × <paramref name="repeat"/> (all of it), run as <paramref name="shard"/>.</summary>
    public static ShardPlan Of(IReadOnlyList<Cell> cells, int repeat, string? shard) =>
        new(shard, Matrix.Shard(cells, repeat, null).Select(w => new PlannedCell(w.Cell.Case, w.Cell.Name, w.Repeat)).ToList());

    /// <summary>(k, n) of "k/n"; null when not a shard or not of that form.</summary>
    public static (int K, int N)? Parse(string? shard) =>
        shard?.Split('/') is [var k, var n] && int.TryParse(k, out var kk) && int.TryParse(n, out var nn) && nn >= 1 && kk >= 1 && kk <= nn
            ? (kk, nn) : null;
}

/// <summary>What a merged night lacks of its plan: shards that never arrived ("2/3") and the planned cells no shard ran.</summary>
public sealed record MissingWork(IReadOnlyList<string> Shards, IReadOnlyList<string> Cells)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public bool Any => Shards.Count > 0 || Cells.Count > 0;

    /// <summary>"shard 2/2 missing; 5 planned cell(s) missing: a, b, c, …" for the console and the reports.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (Shards.Count > 0) parts.Add($"shard{(Shards.Count > 1 ? "s" : "")} {string.Join(", ", Shards)} missing");
        if (Cells.Count > 0) parts.Add($"{Cells.Count} planned cell(s) missing: {string.Join(", ", Cells.Take(8))}{(Cells.Count > 8 ? ", …" : "")}");
        return string.Join("; ", parts);
    }
}
