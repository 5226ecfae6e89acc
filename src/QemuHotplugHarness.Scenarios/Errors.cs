namespace QemuHotplugHarness.Scenarios;

/// <summary>
/// Base of the harness's own errors: the message is meant for the user. Which exit code an error means is the
/// front end's business (the CLI maps these types in one place).
/// </summary>
public abstract class HarnessException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The inputs a user can give, named neutrally: lower layers say which input was wrong, the CLI renders it as the
/// flag the user typed (<c>--ssh-port 22</c>), another front end as its own field name.
/// </summary>
public enum InputKind
{
    Scenario, Machine, Ram, MaxMem, Slots, Smp, Qemu, NvdimmSize, NvdimmAddress, LabelSize, Pse, Kernel,
    NamespaceSize, Mode, Iterations, Accel, Artifacts, KernelSource, Patch, QemuSource, KernelImage, Modules,
    BootTimeout, CommandTimeout, SshPort, Matrix, Repeat, Shard, Jobs, Variant, ShardFolder,
    Sample, Seed, KernelDeb, KernelLine, Case, CasesDir, CompareInput, MarkdownFile, KnownIssues, KcidbOrigin, ArtifactsUrl, Out,
}

/// <summary>
/// One thing wrong with the user's input: which input (null when the problem is not about one input, then
/// <see cref="Reason"/> is the whole message), the value as the user gave it, and why it cannot be used.
/// The reason names other inputs in plain words (maxmem, RAM), never as a front end's flag.
/// </summary>
public sealed record InputProblem(InputKind? Input, string Value, string Reason)
{
    public static InputProblem General(string message) => new(null, "", message);

    public override string ToString() => Input is { } input ? $"{input} {Value}: {Reason}" : Reason;
}

/// <summary>The user gave something the harness cannot use: one or more <see cref="Problems"/>, all reported at once.</summary>
public sealed class BadInputException : HarnessException
{
    /// <summary>A problem with a named input: <paramref name="value"/> as the user gave it, and why it cannot be used.</summary>
    public BadInputException(InputKind input, string value, string reason, Exception? inner = null)
        : this([new InputProblem(input, value, reason)], null, inner)
    {
    }

    /// <summary>A problem that is not about one input (the message is complete).</summary>
    public BadInputException(string message, Exception? inner = null) : this([InputProblem.General(message)], null, inner)
    {
    }

    /// <summary>
    /// Several problems found at once. <paramref name="origin"/> names where the values came from when that is not
    /// the front end's own inputs (a matrix file's cell), and is shown before each problem.
    /// </summary>
    public BadInputException(IReadOnlyList<InputProblem> problems, string? origin = null, Exception? inner = null)
        : base(Describe(problems, origin), inner)
    {
        if (problems.Count == 0) throw new ArgumentException("a bad input needs at least one problem", nameof(problems));
        Problems = problems;
        Origin = origin;
    }

    public IReadOnlyList<InputProblem> Problems { get; }
    public string? Origin { get; }

    /// <summary>The first (usually the only) problem's input, value and reason.</summary>
    public InputKind? Input => Problems[0].Input;
    public string Value => Problems[0].Value;
    public string Reason => Problems[0].Reason;

    private static string Describe(IReadOnlyList<InputProblem> problems, string? origin) =>
        string.Join(Environment.NewLine, problems.Select(p => origin is null ? p.ToString() : $"{origin}: {p}"));
}

/// <summary>Something outside the user's input failed: a build, QEMU, SSH, a missing tool.</summary>
public sealed class InfrastructureException(string message, Exception? inner = null) : HarnessException(message, inner);

/// <summary>A check the user asked for failed.</summary>
public sealed class CheckFailedException(string message) : HarnessException(message);
