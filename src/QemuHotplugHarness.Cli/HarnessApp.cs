using System.Runtime.InteropServices;
using QemuHotplugHarness.Cli.Commands;
using QemuHotplugHarness.Scenarios;
using Spectre.Console;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli;

/// <summary>The qhh command line: one place that maps every failure to an exit code and its lines on stderr.</summary>
public static class HarnessApp
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        args = args.Select(a => a == "-" ? ScanCommand.StdinArgument : a).ToArray();
        // qhh --version on stdout, as every artifact names it (Spectre's own would print through its cached console).
        if (args is ["--version"] or ["-v"])
        {
            await Console.Out.WriteLineAsync(Orchestration.HarnessVersion.Current.ToString());
            return (int)ExitCode.Success;
        }
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var terminated = false;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true; // let the commands tear their guests down
            cts.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        // SIGTERM (systemd, CI runners, kill) is a cancellation too: guests are torn down, partial results written, exit 143.
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            terminated = true;
            cts.Cancel();
        });
        try
        {
            // The environment is input too: a bad value is refused before anything is built or booted.
            foreach (var bound in CacheBounds.All) bound.FromEnvironment();
            var app = new CommandApp();
            app.Configure(Configure);
            return await app.RunAsync(args, cts.Token);
        }
        catch (Exception e)
        {
            var (code, lines) = Failure(Unconvertible(e, args) ?? CliSuggestions.Unknown(e, args) ?? e);
            foreach (var line in lines) await Console.Error.WriteLineAsync("qhh: " + line);
            if (IsInternal(e)) await Console.Error.WriteLineAsync(InternalTrace(e, Environment.GetEnvironmentVariable("QHH_DEBUG")));
            return code == ExitCode.Interrupted && terminated ? (int)ExitCode.Terminated : (int)code;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>
    /// The parser's "Failed to convert 'abc' to Int32" names neither the flag nor what it wants: the flag is the
    /// argument before the value (or <c>--flag=abc</c>).
    /// </summary>
    private static BadInputException? Unconvertible(Exception e, string[] args)
    {
        if (e is not CommandAppException) return null;
        var match = System.Text.RegularExpressions.Regex.Match(e.Message, "^Failed to convert '(?<value>.*)' to ");
        if (!match.Success) return null;
        var value = match.Groups["value"].Value;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == value && i > 0 && args[i - 1].StartsWith("--", StringComparison.Ordinal)) return NotANumber(args[i - 1], value);
            if (args[i].StartsWith("--", StringComparison.Ordinal) && args[i].EndsWith("=" + value, StringComparison.Ordinal))
                return NotANumber(args[i][..args[i].IndexOf('=')], value);
        }
        return null;
    }

    private static BadInputException NotANumber(string flag, string value) =>
        new($"{flag} {(value.Length == 0 || value.Any(char.IsWhiteSpace) ? $"'{value}'" : value)}: not a whole number");

    public static void Configure(IConfigurator config)
    {
        config.SetApplicationName("qhh");
        // qhh --version: "qemu-hotplug-harness 0.9.0 (commit 1a2b3c4d5e6f)", as every summary, junit and kcidb file names it.
        config.SetApplicationVersion(Orchestration.HarnessVersion.Current.ToString());
        config.PropagateExceptions();
        config.Settings.StrictParsing = true;
        config.AddCommand<PredictCommand>("predict")
            .WithDescription("Predict a scenario's outcome with the sparsemem/vmemmap simulator (no guest).");
        config.AddCommand<ScanCommand>("scan")
            .WithDescription("Find kernel crash reports (oopses) in console logs or dmesg files.");
        config.AddBranch("build", build =>
        {
            build.SetDescription("Build (or take from the cache) the patched QEMU, kernels and the guest image.");
            build.AddCommand<BuildCommand.All>("all").WithDescription("Everything reproduce needs.");
            build.AddCommand<BuildCommand.Qemu>("qemu").WithDescription("Debian's QEMU source with qemu-patches/ applied.");
            build.AddCommand<BuildCommand.Kernel>("kernel").WithDescription("The unpatched and patched guest kernels.");
            build.AddCommand<BuildCommand.Image>("image").WithDescription("The guest initramfs (busybox, ndctl, dropbear).");
        });
        config.AddCommand<RunCommand>("run")
            .WithDescription("Run one scenario on a real QEMU guest and write its observation.");
        config.AddCommand<ReproduceCommand>("reproduce")
            .WithDescription("The unpatched-vs-patched matrix on real guests: verdict, artifacts, reports.");
        config.AddCommand<ValidateCommand>("validate")
            .WithDescription("Check the simulator against real guests on a deterministic, stratified sample of the layout space.");
        config.AddCommand<BenchCommand>("bench")
            .WithDescription("Benchmarks: scan (scanner throughput), predict (simulator speed), build (kernel and QEMU builds), guest (boot, restore, cell, matrix vs a plain baseline), all.");
        config.AddCommand<SoakCommand>("soak")
            .WithDescription("N full default matrices back to back: wrong verdicts, orphaned QEMUs, reproduction rates, time, memory.");
        config.AddCommand<MergeCommand>("merge")
            .WithDescription("Merge the artifact folders of several shards into one summary.");
        config.AddCommand<CompareCommand>("compare")
            .WithDescription("What changed between two runs (summary.json or artifact folders); exit 1 when something regressed.");
    }

    /// <summary>
    /// The one place that maps a failure to its exit code (see <see cref="ExitCode"/>) and its lines on stderr, each
    /// shown after <c>qhh: </c>: bad input one line per problem, naming the flag; anything the harness did not
    /// expect is an internal error.
    /// </summary>
    public static (ExitCode Code, IReadOnlyList<string> Lines) Failure(Exception e) => e switch
    {
        BadInputException bad => (ExitCode.BadInput, CliInputs.Lines(bad).SelectMany(Lines).ToList()),
        CommandAppException usage => (ExitCode.BadInput, [OneLine(usage.Message) + " (see --help)"]),
        CheckFailedException => (ExitCode.CheckFailed, Lines(e.Message)),
        InfrastructureException => (ExitCode.Infrastructure, Lines(e.Message)),
        // A build or apt step of the run's own inputs (QEMU, a kernel, the image) failed before anything was judged.
        QemuHotplugHarness.Build.ToolFailedException => (ExitCode.SetupFailed, Lines(e.Message)),
        // reproduce says where its partial summary is; a plain cancellation says only that it was interrupted.
        OperationCanceledException c => (ExitCode.Interrupted, [c.Message.StartsWith("interrupted", StringComparison.Ordinal) ? c.Message : "interrupted"]),
        HarnessException => (ExitCode.Infrastructure, Lines(e.Message)), // the harness's own, e.g. a build tool that failed
        _ => (ExitCode.Infrastructure, [$"internal error: {e.GetType().Name}: {OneLine(e.Message)}"]),
    };

    /// <summary>A failure <see cref="Failure"/> has no name for: a bug of the harness.</summary>
    public static bool IsInternal(Exception e) => e is not (BadInputException or CommandAppException or HarnessException
        or OperationCanceledException or QemuHotplugHarness.Build.ToolFailedException);

    /// <summary>An internal error's stack trace when QHH_DEBUG is 1 (<paramref name="debug"/>), else how to get it: a bug report needs it.</summary>
    public static string InternalTrace(Exception e, string? debug) => debug == "1"
        ? e.ToString()
        : "qhh: this is a bug of the harness; run again with QHH_DEBUG=1 for its stack trace";

    private static IReadOnlyList<string> Lines(string message) =>
        message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string OneLine(string s)
    {
        var line = s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? s;
        return Markup.Remove(line);
    }
}
