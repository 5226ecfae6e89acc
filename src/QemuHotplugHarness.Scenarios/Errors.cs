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
}

/// <summary>The user gave something the harness cannot use.</summary>
public sealed class BadInputException : HarnessException
{
    /// <summary>A problem with a named input: <paramref name="value"/> as the user gave it, and why it cannot be used.</summary>
    public BadInputException(InputKind input, string value, string reason, Exception? inner = null)
        : base($"{input} {value}: {reason}", inner)
    {
        Input = input;
        Value = value;
        Reason = reason;
    }

    /// <summary>A problem that is not about one input (the message is complete).</summary>
    public BadInputException(string message, Exception? inner = null) : base(message, inner) => Reason = message;

    public InputKind? Input { get; }
    public string? Value { get; }
    public string Reason { get; }
}

/// <summary>Something outside the user's input failed: a build, QEMU, SSH, a missing tool.</summary>
public sealed class InfrastructureException(string message, Exception? inner = null) : HarnessException(message, inner);

/// <summary>A check the user asked for failed.</summary>
public sealed class CheckFailedException(string message) : HarnessException(message);
