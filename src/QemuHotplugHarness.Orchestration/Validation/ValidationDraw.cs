using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Orchestration.Validation;

/// <summary>One scenario of a validation sample: its place in the draw, its name, its prediction and outcome class.</summary>
public sealed record DrawnScenario(int Index, string Name, Scenario Scenario, Prediction Prediction, string OutcomeClass)
{
    /// <summary>The case whose layout space the scenario was drawn from (null: the seed's loop).</summary>
    public string? Case { get; init; }

    /// <summary>The case's kernel (its fix for the line, the suite's configuration); null: the run's default.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public KernelRecipe? Kernel { get; init; }
}

/// <summary>A draw: the scenarios in order and its facts.</summary>
public sealed record ValidationSample(IReadOnlyList<DrawnScenario> Scenarios, ValidationInfo Info);

/// <summary>
/// A deterministic, stratified draw from the <see cref="ValidationSpace"/>: candidates are drawn with a seeded
/// generator and predicted; the sample takes the predicted outcome classes in turn (oops at iteration k, clean,
/// workload-failed, rejected), and within a class the candidate whose machine, QEMU, mode, namespace size, iteration
/// count, PSE, kernel and NVDIMM placement are least covered so far. Scenarios outside the model are never drawn.
/// Pure: the same space, seed, size and predictor give the same sample.
/// </summary>
public static class ValidationDraw
{
    /// <summary>Candidates predicted per draw: enough for a few dozen of each class the space has (about half a second).</summary>
    public const int CandidateBudget = 12_000;

    public static ValidationSample Draw(ValidationSpace space, int sample, int seed, Func<Scenario, Prediction> predict)
    {
        var rng = new Random(seed);
        var strata = new Dictionary<string, Dictionary<string, List<Candidate>>>();
        var seen = new HashSet<Scenario>();
        for (var i = 0; i < CandidateBudget; i++)
        {
            var s = space.Pick(rng);
            if (!seen.Add(s) || ScenarioValidator.Validate(s).Count > 0 || !ModelLimits.IsModelled(s, space.Model)) continue;
            var p = predict(s);
            var cls = OutcomeClass(p);
            if (!strata.TryGetValue(cls, out var subs)) strata[cls] = subs = [];
            var sub = Substratum(s, p);
            if (!subs.TryGetValue(sub, out var list)) subs[sub] = list = [];
            list.Add(new Candidate(s, p, Features(s, p)));
        }
        var classes = strata.Keys.OrderBy(ClassOrder).ThenBy(c => c, StringComparer.Ordinal).ToList();
        var turns = classes.ToDictionary(c => c, _ => 0);
        var covered = new Dictionary<string, int>();
        var drawn = new List<DrawnScenario>();
        for (var slot = 0; drawn.Count < sample && strata.Values.Any(subs => subs.Values.Any(l => l.Count > 0)); slot++)
        {
            var cls = classes[slot % classes.Count];
            var subs = strata[cls].Where(kv => kv.Value.Count > 0).OrderBy(kv => SubstratumOrder(kv.Key)).ThenBy(kv => kv.Key, StringComparer.Ordinal).ToList();
            if (subs.Count == 0) continue;
            var pool = subs[turns[cls]++ % subs.Count].Value;
            var best = Best(pool, covered);
            var (s, p, features) = pool[best];
            pool.RemoveAt(best);
            foreach (var f in features) covered[f] = covered.GetValueOrDefault(f) + 1;
            var index = drawn.Count + 1;
            var name = $"{index:00}-{cls.Replace("@", "-at-", StringComparison.Ordinal)}-{s.Machine.Type.Kebab()}-{s.Workload.Mode.Kebab()}-{s.Kernel.Variant.Kebab()}-pse-{(s.Cpu.Pse ? "on" : "off")}";
            drawn.Add(new DrawnScenario(index, name, s.WithName(name), p, cls) { Case = space.Case });
        }
        var info = new ValidationInfo(seed, sample, seen.Count, classes, drawn.Select(d => d.OutcomeClass).Distinct().OrderBy(ClassOrder).ThenBy(c => c, StringComparer.Ordinal).ToList());
        return new ValidationSample(drawn, info);
    }

    /// <summary>
    /// A draw over every case's layout space: the sample shared out among the spaces (the first ones take the
    /// remainder), each space drawn with its own model as <see cref="Draw"/> does, the names prefixed with the case.
    /// </summary>
    public static ValidationSample DrawEveryCase(IReadOnlyList<ValidationSpace> spaces, int sample, int seed)
    {
        var drawn = new List<DrawnScenario>();
        var (candidates, inSpace, classesDrawn) = (0, new HashSet<string>(), new HashSet<string>());
        for (var i = 0; i < spaces.Count; i++)
        {
            var share = sample / spaces.Count + (i < sample % spaces.Count ? 1 : 0);
            if (share == 0) continue;
            var space = spaces[i];
            var one = Draw(space, share, seed, space.Predict);
            candidates += one.Info.Candidates;
            inSpace.UnionWith(one.Info.ClassesInSpace);
            classesDrawn.UnionWith(one.Info.ClassesDrawn);
            foreach (var d in one.Scenarios)
            {
                var name = $"{space.Case ?? "seed"}-{d.Name}";
                drawn.Add(d with { Index = drawn.Count + 1, Name = name, Scenario = d.Scenario.WithName(name) });
            }
        }
        var order = (IEnumerable<string> c) => c.OrderBy(ClassOrder).ThenBy(x => x, StringComparer.Ordinal).ToList();
        return new ValidationSample(drawn, new ValidationInfo(seed, sample, candidates, order(inSpace), order(classesDrawn)));
    }

    private sealed record Candidate(Scenario Scenario, Prediction Prediction, string[] Features);

    /// <summary>
    /// Within a class, the model's path to it, taken in turn: a clean run is clean because the kernel is patched, because
    /// PSE keeps 2 MiB vmemmap pages, because nothing was re-added, or because no early section is involved.
    /// </summary>
    public static string Substratum(Scenario s, Prediction p) => p.Outcome switch
    {
        Outcome.Clean when p.Layout.SharedSection is null => "no-early-section",
        Outcome.Clean when s.Kernel.Variant == KernelVariant.Patched => "patched-kernel",
        Outcome.Clean when s.Cpu.Pse => "pse",
        Outcome.Clean => "no-re-add",
        _ => "",
    };

    private static int SubstratumOrder(string sub) => sub switch
    {
        "patched-kernel" => 0,
        "pse" => 1,
        "no-re-add" => 2,
        _ => 3,
    };

    /// <summary>"oops@k", "clean", "workload-failed", "rejected" (or another outcome's name).</summary>
    public static string OutcomeClass(Prediction p) =>
        p.Outcome == Outcome.Oops ? $"oops@{p.OopsIteration}" : p.Outcome.Kebab();

    private static int ClassOrder(string cls) => cls switch
    {
        _ when cls.StartsWith("oops", StringComparison.Ordinal) => 0,
        "clean" => 1,
        "workload-failed" => 2,
        "rejected" => 3,
        _ => 4,
    };

    /// <summary>The candidate whose features are rarest in the sample so far (first one on a tie: the generator's order).</summary>
    private static int Best(List<Candidate> pool, Dictionary<string, int> covered)
    {
        var best = 0;
        var bestScore = double.MinValue;
        for (var i = 0; i < pool.Count; i++)
        {
            var score = pool[i].Features.Sum(f => 1.0 / (1 + covered.GetValueOrDefault(f)));
            if (score > bestScore)
            {
                best = i;
                bestScore = score;
            }
        }
        return best;
    }

    /// <summary>The values a sample should spread over, as "dimension=value".</summary>
    public static string[] Features(Scenario s, Prediction p) =>
    [
        "machine=" + s.Machine.Type.Kebab(), "qemu=" + s.Qemu.Kebab(), "mode=" + s.Workload.Mode.Kebab(),
        "namespace=" + s.Workload.NamespaceSize, "iterations=" + s.Workload.Iterations, "pse=" + s.Cpu.Pse,
        "kernel=" + s.Kernel.Variant.Kebab(), "placement=" + Placement(s, p),
        .. DeviceLayouts.Describe(s) is { } devices ? new[] { "devices=" + devices } : [],
    ];

    /// <summary>
    /// Where the NVDIMM starts relative to the end of RAM, and whether RAM ends on a 64 MiB boundary: geometry, not
    /// the model's conclusions, so a model that gets the geometry wrong is still sampled where it matters.
    /// </summary>
    public static string Placement(Scenario s, Prediction p)
    {
        var (below, above) = QemuModel.SplitRam(s.Machine.Type, s.Machine.Ram.Bytes);
        var ramEnd = above == 0 ? below : 4 * GiB + above;
        var start = p.Layout.PersistentMemory?.Start ?? s.Nvdimm.Address ?? p.Layout.DeviceMemoryBase;
        var gap = start >= ramEnd ? start - ramEnd : 0;
        var where = gap == 0 ? "adjacent" : gap < 64 * MiB ? "within-64M" : gap < 128 * MiB ? "within-128M" : "beyond";
        return $"{where}/{(ramEnd % (64 * MiB) == 0 ? "ram-end-64M-aligned" : "ram-end-unaligned")}";
    }
}
