using System.Text.Json;
using System.Text.RegularExpressions;

namespace QemuHotplugHarness.Scenarios.Cases;

/// <summary>
/// Loads <c>cases/NAME/case.json</c> (the format of CASE-FORMAT.md) into an immutable <see cref="Case"/>. Every problem
/// of the file is found at once and reported as one line naming the file and the field; unknown fields are problems.
/// </summary>
public static partial class CaseLoader
{
    public const string FileName = "case.json";

    private static readonly string[] TopFields =
        ["name", "summary", "fix", "lines", "config", "scenario", "devices", "kernelArgs", "workload", "cells", "modelled", "notModelledReason", "model"];

    /// <summary>The case in <paramref name="folder"/>; <paramref name="display"/> names its file in problems (cases/x/case.json).</summary>
    public static Case Load(string folder, string display, IReadOnlyCollection<string>? knownLines = null, string? fragments = null)
    {
        var problems = new List<string>();
        var loaded = TryLoad(folder, display, problems, knownLines, fragments);
        return problems.Count == 0 && loaded is not null ? loaded : throw Bad(problems);
    }

    public static BadInputException Bad(IReadOnlyList<string> problems) => new(problems.Select(InputProblem.General).ToList());

    /// <summary>The case, or null with its problems added to <paramref name="problems"/>.</summary>
    /// <remarks>With <paramref name="knownLines"/> (the lines of kernel-lines/), every line the case names must be one of them.</remarks>
    /// <remarks>
    /// A config entry that is a name (debug-vm) is the shared fragment <paramref name="fragments"/>/NAME.config, expanded
    /// in place: a configuration several cases need is written once.
    /// </remarks>
    public static Case? TryLoad(string folder, string display, List<string> problems, IReadOnlyCollection<string>? knownLines = null,
        string? fragments = null)
    {
        var file = Path.Combine(folder, FileName);
        if (!File.Exists(file))
        {
            problems.Add($"{display}: no such file");
            return null;
        }
        var before = problems.Count;
        try
        {
            var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
            using var doc = JsonDocument.Parse(File.ReadAllText(file), options);
            var reader = new CaseReader(display, problems);
            var c = Read(doc.RootElement, Path.GetFullPath(folder), reader, display, fragments);
            if (c is not null && knownLines is not null) CheckLines(c, knownLines, reader);
            return problems.Count == before ? c : null;
        }
        catch (JsonException e)
        {
            problems.Add($"{display}: not valid JSON: {e.Message.Split('\n')[0].Trim()}");
            return null;
        }
    }

    private static Case? Read(JsonElement root, string folder, CaseReader r, string display, string? fragments)
    {
        if (!r.Object(root, "", TopFields)) return null;
        var name = r.String(root, "", "name", required: true);
        var folderName = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
        if (name is not null && name != folderName) r.Problem("name", $"\"{name}\" is not the folder's name ({folderName})");
        else if (name is not null && !SlugPattern().IsMatch(name)) r.Problem("name", $"\"{name}\": use lower-case letters, digits and dashes");
        var summary = r.String(root, "", "summary", required: true);
        var fix = r.Field(root, "", "fix", required: true) is { } f ? ReadFix(f, r) : null;
        var lines = r.Field(root, "", "lines", required: true) is { } l ? ReadLines(l, folder, r) : null;
        var config = r.Field(root, "", "config", required: false) is { } cfg ? ReadConfig(cfg, r, fragments) : [];
        var modelled = r.Bool(root, "", "modelled", required: true);
        var reason = r.String(root, "", "notModelledReason");
        if (modelled == false && reason is null) r.Problem("notModelledReason", "missing (a case outside the simulator says why)");
        if (modelled == true && reason is not null) r.Problem("notModelledReason", "only for a case with \"modelled\": false");
        var workload = r.Field(root, "", "workload", required: false) is { } w ? ReadWorkload(w, r) : null;
        var modelField = r.Field(root, "", "model", required: false);
        var model = modelField is { } m ? CaseModelReader.Read(m, config ?? [], r) : null;
        if (modelled == true && workload is not null && modelField is null)
            r.Problem("workload", "a case's own workload is modelled only with a \"model\" (the check its fix adds); else \"modelled\": false");
        var cellsField = r.Field(root, "", "cells", required: true); // every case names its cells, the seed's too
        // A modelled case with a model may keep each cell's "expect": what a real guest showed, the oracle the prediction is tested against.
        var cells = cellsField is { } cs ? CaseCells.Read(cs, (modelled ?? true) && modelField is null, r) : null;
        var devices = r.Field(root, "", "devices", required: false) is { } d ? CaseDevices.Read(d, r) : MemoryDeviceSet.None;
        var kernelArgs = r.Field(root, "", "kernelArgs", required: false) is { } k ? CaseDevices.KernelArgs(k, r) : null;
        if (devices is not null && workload is not null) CaseSteps.CheckReferences(devices, HostSteps(workload), r);
        if (modelled == true && devices is { IsEmpty: false } && modelField is null) r.Problem("devices", "a modelled case with memory devices needs a \"model\" (the check its fix adds); else \"modelled\": false");
        var scenario = ReadScenario(root, name ?? folderName, workload, r, display);
        if (scenario is not null && devices is not null) scenario = scenario with { Devices = devices, KernelArgs = kernelArgs };
        if (name is null || summary is null || fix is null || lines is null || config is null || modelled is null || scenario is null || devices is null) return null;
        if (modelField is not null && model is null) return null;
        return new Case
        {
            Name = name, Folder = folder, Summary = summary, Fix = fix, Lines = lines, Config = config, Scenario = scenario,
            Cells = cells, Modelled = modelled.Value, NotModelledReason = reason, Model = model,
        };
    }

    private static void CheckLines(Case c, IReadOnlyCollection<string> known, CaseReader r)
    {
        foreach (var line in c.Lines.Keys.Where(l => !known.Contains(l)))
            r.Problem($"lines.{line}", $"no such kernel line (kernel-lines/ has {string.Join(", ", known)})");
    }

    private static CaseFix? ReadFix(JsonElement e, CaseReader r)
    {
        if (!r.Object(e, "fix", "subject", "commit", "fixes", "release", "link")) return null;
        var subject = r.String(e, "fix", "subject", required: true);
        var (commit, fixes) = (r.String(e, "fix", "commit"), r.String(e, "fix", "fixes"));
        var (release, link) = (r.String(e, "fix", "release"), r.String(e, "fix", "link"));
        if (commit is not null && !CommitPattern().IsMatch(commit)) r.Problem("fix.commit", $"\"{commit}\" is not a commit id (7 to 40 hex digits)");
        return subject is null ? null : new CaseFix(subject, commit, fixes, release, link);
    }

    private static IReadOnlyDictionary<string, CaseLine>? ReadLines(JsonElement e, string folder, CaseReader r)
    {
        if (!r.Object(e, "lines", e.ValueKind == JsonValueKind.Object ? e.EnumerateObject().Select(p => p.Name).ToArray() : [])) return null;
        var lines = new Dictionary<string, CaseLine>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject())
        {
            var path = $"lines.{p.Name}";
            if (!LinePattern().IsMatch(p.Name)) r.Problem(path, "a kernel line is a name like 6.1, 6.12 or latest");
            if (!r.Object(p.Value, path, "patch", "code", "notApplicable")) continue;
            var notApplicable = r.String(p.Value, path, "notApplicable");
            var patch = r.String(p.Value, path, "patch", required: notApplicable is null);
            var code = r.String(p.Value, path, "code");
            // Both: the fix is ported to this line (and checked against its source) but the case's workload cannot show
            // the bug there; the suite skips the line with the reason, a run that names the case still builds and runs it.
            if (notApplicable is not null && patch is null) lines[p.Name] = new CaseLine(p.Name, null, code, notApplicable);
            if (patch is null) continue;
            if (Path.IsPathRooted(patch) || patch.Split('/', '\\').Contains(".."))
                r.Problem(path + ".patch", $"\"{patch}\": name a file inside the case's folder");
            else if (!File.Exists(Path.Combine(folder, patch)))
                r.Problem(path + ".patch", $"\"{patch}\": no such file in the case's folder");
            else lines[p.Name] = new CaseLine(p.Name, Path.Combine(folder, patch), code, notApplicable);
        }
        if (!lines.Values.Any(l => l.Patch is not null) && lines.Count == e.EnumerateObject().Count())
            r.Problem("lines", "no kernel line with a fix: the case needs its fix for at least one line");
        return lines.Count == e.EnumerateObject().Count() ? lines : null;
    }

    private static IReadOnlyList<string>? ReadConfig(JsonElement e, CaseReader r, string? fragments)
    {
        var config = r.Strings(e, "config");
        if (config is null) return null;
        var lines = new List<string>();
        var ok = true;
        for (var i = 0; i < config.Count; i++)
        {
            var c = config[i];
            if (SlugPattern().IsMatch(c) && Fragment(c, fragments, $"config[{i}]", r) is { } fragment) lines.AddRange(fragment);
            else if (ConfigPattern().IsMatch(c)) lines.Add(c);
            else
            {
                if (!SlugPattern().IsMatch(c))
                    r.Problem($"config[{i}]", $"\"{c}\" is not a config line (CONFIG_X=y, CONFIG_X=value or \"# CONFIG_X is not set\") nor a fragment's name");
                ok = false;
            }
        }
        return ok ? lines : null;
    }

    /// <summary>The config lines of fragment NAME (comments and blank lines dropped); a problem naming the fragments there are otherwise.</summary>
    private static IReadOnlyList<string>? Fragment(string name, string? folder, string path, CaseReader r)
    {
        var file = folder is null ? null : Path.Combine(folder, name + ".config");
        if (file is null || !File.Exists(file))
        {
            var known = folder is not null && Directory.Exists(folder)
                ? string.Join(", ", Directory.GetFiles(folder, "*.config").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal))
                : "none";
            r.Problem(path, $"no config fragment \"{name}\" (images/kernel/fragments/ has {known})");
            return null;
        }
        var lines = File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0 && (!l.StartsWith('#') || l.EndsWith(" is not set"))).ToList();
        foreach (var bad in lines.Where(l => !ConfigPattern().IsMatch(l))) r.Problem(path, $"fragment {name}: \"{bad}\" is not a config line");
        return lines.All(l => ConfigPattern().IsMatch(l)) ? lines : null;
    }

    private static WorkloadSpec? ReadWorkload(JsonElement e, CaseReader r)
    {
        if (!r.Object(e, "workload", "setup", "iteration", "iterations")) return null;
        var setup = r.Field(e, "workload", "setup", required: false) is { } s ? Commands(s, "workload.setup", r, allowEmpty: true) : ([], []);
        var iteration = r.Field(e, "workload", "iteration", required: true) is { } i ? Commands(i, "workload.iteration", r, allowEmpty: false) : null;
        var iterations = r.Int(e, "workload", "iterations", 1, ScenarioValidator.MaxIterations, required: true);
        if (setup is null || iteration is null || iterations is null) return null;
        return new WorkloadSpec
        {
            Setup = setup.Value.Argv, Iteration = iteration.Value.Argv, Iterations = iterations.Value,
            SetupHosts = setup.Value.Hosts.Any(h => h is not null) ? setup.Value.Hosts : null,
            IterationHosts = iteration.Value.Hosts.Any(h => h is not null) ? iteration.Value.Hosts : null,
        };
    }

    /// <summary>The host steps in the order they run (setup, then one iteration), each with its field path.</summary>
    private static IEnumerable<(string Path, HostStep? Host)> HostSteps(WorkloadSpec w) =>
        (w.SetupHosts ?? []).Select((h, j) => ($"workload.setup[{j}]", h)).Concat((w.IterationHosts ?? []).Select((h, j) => ($"workload.iteration[{j}]", h)));

    /// <summary>
    /// An array of steps: argv arrays (a command and its arguments, run over SSH without a shell) or host steps
    /// (<see cref="CaseSteps"/>); each position's host step, null for a guest command.
    /// </summary>
    private static (IReadOnlyList<IReadOnlyList<string>> Argv, IReadOnlyList<HostStep?> Hosts)? Commands(JsonElement e, string path, CaseReader r, bool allowEmpty)
    {
        if (e.ValueKind != JsonValueKind.Array)
        {
            r.Problem(path, $"must be an array of commands ([\"ndctl\", \"...\"]), not {CaseReader.Kind(e)}");
            return null;
        }
        var commands = new List<IReadOnlyList<string>>();
        var hosts = new List<HostStep?>();
        var n = 0;
        foreach (var item in e.EnumerateArray())
        {
            if (CaseSteps.Read(item, $"{path}[{n}]", r) is { } step)
            {
                commands.Add(step.Argv);
                hosts.Add(step.Host);
            }
            n++;
        }
        if (n == 0 && !allowEmpty) r.Problem(path, "needs at least one command");
        return commands.Count == n && (n > 0 || allowEmpty) ? (commands, hosts) : null;
    }

    /// <summary>The base scenario (the seed's values where absent), named after the case, with the case's workload steps.</summary>
    private static Scenario? ReadScenario(JsonElement root, string name, WorkloadSpec? workload, CaseReader r, string display)
    {
        var scenario = Scenario.Seed;
        if (r.Field(root, "", "scenario", required: false) is { } s)
        {
            if (s.ValueKind != JsonValueKind.Object)
            {
                r.Problem("scenario", $"must be an object, not {CaseReader.Kind(s)}");
                return null;
            }
            try
            {
                scenario = ScenarioJson.Parse(s.GetRawText(), $"{display}: scenario");
            }
            catch (BadInputException e)
            {
                foreach (var p in e.Problems) r.Problem("", p.ToString()[(display.Length + 2)..]);
                return null;
            }
        }
        scenario = scenario.WithName(name);
        if (workload is not null)
            scenario = scenario with
            {
                Workload = scenario.Workload with
                {
                    Setup = workload.Setup, Iteration = workload.Iteration, Iterations = workload.Iterations,
                    SetupHosts = workload.SetupHosts, IterationHosts = workload.IterationHosts,
                },
            };
        var problems = ScenarioValidator.Validate(scenario);
        foreach (var p in problems)
            r.Problem("scenario", p.Input is { } input ? $"{JsonNamingPolicy.CamelCase.ConvertName(input.ToString())} {p.Value}: {p.Reason}" : p.Reason);
        return problems.Count == 0 ? scenario : null;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]*$")]
    internal static partial Regex SlugPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]*$")]
    internal static partial Regex CellNamePattern();

    [GeneratedRegex("^[0-9a-f]{7,40}$")]
    private static partial Regex CommitPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex LinePattern();

    [GeneratedRegex("^(CONFIG_[A-Za-z0-9_]+=\\S.*|# CONFIG_[A-Za-z0-9_]+ is not set)$")]
    private static partial Regex ConfigPattern();
}
