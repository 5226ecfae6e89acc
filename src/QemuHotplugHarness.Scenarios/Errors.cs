namespace QemuHotplugHarness.Scenarios;

/// <summary>Process exit codes shared by every command.</summary>
public enum ExitCode
{
    Success = 0,
    /// <summary>A check failed: a mismatch, a regression, a precondition, a verdict other than patch-fixes.</summary>
    CheckFailed = 1,
    /// <summary>Bad input or usage: one line on stderr naming the input.</summary>
    BadInput = 2,
    /// <summary>Infrastructure failure: a build, QEMU, SSH, a missing tool.</summary>
    Infrastructure = 3,
}

/// <summary>Base of the harness's own errors: the message is the one line shown to the user.</summary>
public abstract class HarnessException(string message, Exception? inner = null) : Exception(message, inner)
{
    public abstract ExitCode ExitCode { get; }
}

/// <summary>The user gave something the harness cannot use (exit 2).</summary>
public sealed class BadInputException(string message, Exception? inner = null) : HarnessException(message, inner)
{
    public override ExitCode ExitCode => ExitCode.BadInput;
}

/// <summary>Something outside the user's input failed (exit 3).</summary>
public sealed class InfrastructureException(string message, Exception? inner = null) : HarnessException(message, inner)
{
    public override ExitCode ExitCode => ExitCode.Infrastructure;
}

/// <summary>A check the user asked for failed (exit 1).</summary>
public sealed class CheckFailedException(string message) : HarnessException(message)
{
    public override ExitCode ExitCode => ExitCode.CheckFailed;
}
