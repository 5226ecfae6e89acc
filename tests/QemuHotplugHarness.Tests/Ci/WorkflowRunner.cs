using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using CliWrap;
using YamlDotNet.RepresentationModel;

namespace QemuHotplugHarness.Tests.Ci;

/// <summary>What one step of one job did.</summary>
public sealed record StepResult(string Job, string Step, bool Ran, bool Succeeded, string Log);

/// <summary>
/// Runs a GitHub Actions workflow's jobs here, in the order their <c>needs</c> give, one matrix entry after another:
/// each job in its own workspace under <paramref name="scratch"/> (kept between runs, as on a persistent runner), the
/// <c>run:</c> steps with bash as the workflow's default shell, <c>${{ … }}</c> replaced by their values, the
/// <c>uses:</c> steps by <see cref="WorkflowActions"/>. The jobs' containers are not started: the steps run on this
/// machine (Debian 12, root, as the debian:12 container is). <c>$QHH_CACHE</c> is the shared harness cache.
/// </summary>
public sealed class WorkflowRunner(string workflowFile, string repo, IReadOnlyList<string> repoFiles, string scratch, string sharedCache)
{
    private readonly YamlMappingNode _workflow = Load(workflowFile);
    private readonly Dictionary<string, Dictionary<string, string>> _jobOutputs = [];
    private readonly Dictionary<string, bool> _jobSucceeded = [];

    public string Artifacts => Path.Combine(scratch, "artifacts");
    public string CacheStore => Path.Combine(scratch, "cache-store");

    /// <summary>The workflow's inputs (workflow_dispatch and workflow_call defaults) as the run sees them.</summary>
    public Dictionary<string, string> Inputs { get; } = [];

    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromMinutes(60);

    private WorkflowActions Actions() => new(repo, repoFiles, sharedCache, CacheStore, Artifacts);

    private static YamlMappingNode Load(string file)
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(file);
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    /// <summary>Runs every job once, as one workflow run with this run id; returns every step's result.</summary>
    public async Task<List<StepResult>> RunAsync(string runId)
    {
        Directory.CreateDirectory(Artifacts);
        foreach (var dir in Directory.GetDirectories(Artifacts)) Directory.Delete(dir, recursive: true); // artifacts belong to one run
        foreach (var summary in Directory.GetFiles(scratch, "*.step-summary.md")) File.Delete(summary);
        _jobOutputs.Clear();
        _jobSucceeded.Clear();
        DefaultInputs();
        var results = new List<StepResult>();
        foreach (var (name, job) in JobsInOrder())
            foreach (var (matrix, index) in MatrixOf(job).Select((m, i) => (m, i)))
                results.AddRange(await RunJobAsync(runId, name, job, matrix, index));
        return results;
    }

    private void DefaultInputs()
    {
        var on = Map(_workflow, "on");
        foreach (var trigger in new[] { "workflow_dispatch", "workflow_call" })
            if (on is not null && Map(on, trigger) is { } t && Map(t, "inputs") is { } inputs)
                foreach (var (key, value) in inputs.Children)
                    Inputs.TryAdd(key.ToString(), Scalar(value, "default") ?? "");
    }

    private List<(string Name, YamlMappingNode Job)> JobsInOrder()
    {
        var jobs = Map(_workflow, "jobs")!.Children.ToDictionary(j => j.Key.ToString(), j => (YamlMappingNode)j.Value);
        var ordered = new List<(string, YamlMappingNode)>();
        void Visit(string name)
        {
            if (ordered.Any(o => o.Item1 == name)) return;
            foreach (var need in Needs(jobs[name])) Visit(need);
            ordered.Add((name, jobs[name]));
        }
        foreach (var name in jobs.Keys) Visit(name);
        return ordered;
    }

    private static List<string> Needs(YamlMappingNode job) => job.Children.TryGetValue(new YamlScalarNode("needs"), out var needs)
        ? needs is YamlSequenceNode list ? list.Select(n => n.ToString()).ToList() : [needs.ToString()]
        : [];

    /// <summary>The matrix's combinations (one empty one without a matrix).</summary>
    private static List<Dictionary<string, string>> MatrixOf(YamlMappingNode job)
    {
        var combos = new List<Dictionary<string, string>> { new() };
        if (Map(job, "strategy") is not { } strategy || Map(strategy, "matrix") is not { } matrix) return combos;
        foreach (var (key, values) in matrix.Children)
            combos = combos.SelectMany(c => ((YamlSequenceNode)values).Select(v => new Dictionary<string, string>(c) { [key.ToString()] = v.ToString() }))
                .ToList();
        return combos;
    }

    private async Task<List<StepResult>> RunJobAsync(string runId, string name, YamlMappingNode job, Dictionary<string, string> matrix, int index)
    {
        var run = new JobRun(this, runId, name, matrix, index, Path.Combine(scratch, $"{name}-{index}"));
        Directory.CreateDirectory(run.Workspace);
        var results = new List<StepResult>();
        var needsOk = Needs(job).All(n => _jobSucceeded.GetValueOrDefault(n));
        if (!run.Condition(Scalar(job, "if"), needsOk))
        {
            _jobSucceeded[name] = false;
            return [new StepResult(name, "(job skipped)", false, false, "")];
        }
        run.Env = Env(run, Map(_workflow, "env"), new Dictionary<string, string>());
        run.Env = Env(run, Map(job, "env"), run.Env);
        foreach (var step in ((YamlSequenceNode)job.Children[new YamlScalarNode("steps")]).Cast<YamlMappingNode>())
            results.Add(await run.StepAsync(step));
        _jobSucceeded[name] = _jobSucceeded.GetValueOrDefault(name, true) && !run.Failed;
        var outputs = _jobOutputs.GetValueOrDefault(name) ?? [];
        if (Map(job, "outputs") is { } declared)
            foreach (var (key, value) in declared.Children) outputs[key.ToString()] = run.Expressions.Substitute(value.ToString());
        _jobOutputs[name] = outputs;
        return results;
    }

    /// <summary>An env mapping evaluated on top of <paramref name="inherited"/>; $QHH_CACHE is always the shared cache.</summary>
    private Dictionary<string, string> Env(JobRun job, YamlMappingNode? env, Dictionary<string, string> inherited)
    {
        var result = new Dictionary<string, string>(inherited);
        if (env is not null)
            foreach (var (key, value) in env.Children) result[key.ToString()] = job.Expressions.Substitute(value.ToString());
        result["QHH_CACHE"] = sharedCache;
        return result;
    }

    private static YamlMappingNode? Map(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value as YamlMappingNode : null;

    private static string? Scalar(YamlNode node, string key) =>
        node is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode s ? s.Value : null;

    /// <summary>One job instance (a matrix entry): its workspace, contexts and steps.</summary>
    private sealed class JobRun
    {
        private readonly WorkflowRunner _runner;
        private readonly string _runId;
        private readonly string _name;
        private readonly Dictionary<string, string> _matrix;
        private readonly int _index;
        private readonly Dictionary<string, Dictionary<string, string>> _steps = [];
        private readonly WorkflowActions _actions;
        private int _stepNumber;

        public JobRun(WorkflowRunner runner, string runId, string name, Dictionary<string, string> matrix, int index, string workspace)
        {
            (_runner, _runId, _name, _matrix, _index, Workspace) = (runner, runId, name, matrix, index, workspace);
            Expressions = new WorkflowExpression(Lookup, Call);
            _actions = runner.Actions();
        }

        public string Workspace { get; }
        public WorkflowExpression Expressions { get; }
        public Dictionary<string, string> Env { get; set; } = [];
        public bool Failed { get; private set; }
        private string Temp => Path.Combine(Workspace, "..", $"{_name}-{_index}.temp");
        private string StepSummary => Path.Combine(Workspace, "..", $"{_name}-{_index}.step-summary.md");

        /// <summary>A job's or step's <c>if:</c> (absent: success()); a status function makes it stand alone.</summary>
        public bool Condition(string? condition, bool ok)
        {
            var text = (condition ?? "success()").Trim();
            if (text.StartsWith("${{", StringComparison.Ordinal)) text = text[3..^2];
            var explicitStatus = Regex.IsMatch(text, @"\b(always|success|failure|cancelled)\(");
            _ok = ok;
            return (explicitStatus || ok) && WorkflowExpression.Truthy(Expressions.Evaluate(text));
        }

        private bool _ok = true;

        public async Task<StepResult> StepAsync(YamlMappingNode step)
        {
            var label = Scalar(step, "name") ?? Scalar(step, "uses") ?? Scalar(step, "run")!.Split('\n')[0];
            label = Expressions.Substitute(label);
            if (!Condition(Scalar(step, "if"), !Failed)) return new StepResult(_name, label, false, false, "");
            _stepNumber++;
            try
            {
                var log = Scalar(step, "uses") is { } uses ? RunAction(step, uses) : await RunScriptAsync(step);
                return new StepResult(_name, label, true, true, log);
            }
            catch (StepFailedException e)
            {
                Failed = true;
                return new StepResult(_name, label, true, false, e.Message);
            }
        }

        private string RunAction(YamlMappingNode step, string uses)
        {
            var with = Map(step, "with")?.Children.ToDictionary(w => w.Key.ToString(), w => Expressions.Substitute(w.Value.ToString())) ?? [];
            var outputs = _actions.Run(uses, with, Workspace);
            if (Scalar(step, "id") is { } id) _steps[id] = outputs;
            return $"{uses} {string.Join(" ", with.Select(w => $"{w.Key}={w.Value.Replace('\n', ',')}"))}";
        }

        private async Task<string> RunScriptAsync(YamlMappingNode step)
        {
            Directory.CreateDirectory(Temp);
            var script = Path.Combine(Temp, $"step-{_stepNumber}.sh");
            var outputFile = Path.Combine(Temp, $"step-{_stepNumber}.output");
            File.WriteAllText(script, Expressions.Substitute(Scalar(step, "run")!));
            File.WriteAllText(outputFile, "");
            var env = _runner.Env(this, Map(step, "env"), Env);
            env["GITHUB_OUTPUT"] = outputFile;
            env["GITHUB_STEP_SUMMARY"] = Path.GetFullPath(StepSummary);
            env["GITHUB_WORKSPACE"] = Workspace;
            env["RUNNER_TEMP"] = Path.GetFullPath(Temp);
            env["CI"] = "true";
            var log = new StringBuilder();
            using var cts = new CancellationTokenSource(_runner.StepTimeout);
            var result = await CliWrap.Cli.Wrap("bash").WithArguments(["--noprofile", "--norc", "-eo", "pipefail", script]).WithWorkingDirectory(Workspace)
                .WithEnvironmentVariables(env.ToDictionary(e => e.Key, e => (string?)e.Value))
                .WithStandardOutputPipe(PipeTarget.ToStringBuilder(log)).WithStandardErrorPipe(PipeTarget.ToStringBuilder(log))
                .WithValidation(CommandResultValidation.None).ExecuteAsync(cts.Token);
            if (Scalar(step, "id") is { } id) _steps[id] = ReadOutputs(outputFile);
            File.WriteAllText(Path.Combine(Temp, $"step-{_stepNumber}.log"), log.ToString());
            if (result.ExitCode != 0) throw new StepFailedException($"exit {result.ExitCode}\n{Tail(log.ToString())}");
            return log.ToString();
        }

        private static string Tail(string log) => string.Join('\n', log.Split('\n').TakeLast(40));

        private static Dictionary<string, string> ReadOutputs(string file) =>
            File.ReadAllLines(file).Where(l => l.Contains('=')).ToDictionary(l => l[..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..]);

        private object? Lookup(string path)
        {
            var parts = path.Split('.');
            return parts[0] switch
            {
                "inputs" => _runner.Inputs.GetValueOrDefault(parts[1]) ?? "",
                "matrix" => _matrix[parts[1]],
                "strategy" when parts[1] == "job-index" => _index.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "env" => Env.GetValueOrDefault(parts[1]) ?? "",
                "steps" when parts[2] == "outputs" => _steps.GetValueOrDefault(parts[1])?.GetValueOrDefault(parts[3]) ?? "",
                "needs" when parts[2] == "outputs" => _runner._jobOutputs.GetValueOrDefault(parts[1])?.GetValueOrDefault(parts[3]) ?? "",
                "github" when parts[1] == "run_id" => _runId,
                "github" when parts[1] == "workspace" => Workspace,
                "runner" when parts[1] == "temp" => Path.GetFullPath(Temp),
                _ => throw new NotSupportedException($"WorkflowRunner knows no context {path}"),
            };
        }

        private object? Call(string function, IReadOnlyList<object?> args) => function switch
        {
            "always" => true,
            "success" => _ok,
            "failure" => !_ok,
            "cancelled" => false,
            "hashFiles" => HashFiles(args.Select(WorkflowExpression.Text).ToList()),
            _ => throw new NotSupportedException($"WorkflowRunner knows no function {function}()"),
        };

        /// <summary>As GitHub's: the SHA-256 over the SHA-256 of every matching file of the workspace, '' when none match.</summary>
        private string HashFiles(List<string> patterns)
        {
            var regexes = patterns.Select(Glob).ToList();
            var files = Directory.GetFiles(Workspace, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Workspace, f))
                .Where(f => !f.StartsWith(".git/", StringComparison.Ordinal) && regexes.Any(r => r.IsMatch(f))).Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) return "";
            var all = files.SelectMany(f => SHA256.HashData(File.ReadAllBytes(Path.Combine(Workspace, f)))).ToArray();
            return Convert.ToHexStringLower(SHA256.HashData(all));
        }

        private static Regex Glob(string pattern) =>
            new("^" + Regex.Escape(pattern).Replace(@"\*\*", "\u0001").Replace(@"\*", "[^/]*").Replace("\u0001", ".*").Replace(@"\?", "[^/]") + "$");
    }
}
