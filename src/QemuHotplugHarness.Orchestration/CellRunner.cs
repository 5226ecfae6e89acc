using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using Serilog;

namespace QemuHotplugHarness.Orchestration;

/// <summary>One cell to run: the scenario, its one prediction, what it boots, where its files go.</summary>
public sealed record CellPlan(Scenario Scenario, Prediction Prediction, GuestInputs Inputs, CellArtifacts Artifacts);

/// <summary>
/// Runs one cell on a real guest and writes its observation: boots it, reads its boot facts, judges the
/// preconditions, runs the workload, keeps dmesg and the oopses. Every way it can end leaves observation.json.
/// </summary>
public sealed class CellRunner(AccelChooser accel, RunOptions options, ILogger log, SnapshotStore? snapshots = null)
{
    public async Task<Observation> RunAsync(CellPlan plan, CancellationToken ct)
    {
        var files = plan.Artifacts.Create();
        await ArtifactFiles.WriteAsync(files.Prediction, HarnessJson.Serialize(plan.Prediction), ct);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var observation = await ObserveAsync(plan, ct);
        observation = observation with { Seconds = Math.Round(started.Elapsed.TotalSeconds, 2), KernelRelease = plan.Inputs.Kernel.Release,
            KernelLine = plan.Inputs.Kernel.Line };
        await ArtifactFiles.WriteAsync(files.Observation, HarnessJson.Serialize(observation), CancellationToken.None);
        return observation;
    }

    private async Task<Observation> ObserveAsync(CellPlan plan, CancellationToken ct)
    {
        var start = new Observation { Outcome = Outcome.InfraError };
        try
        {
            var decision = await accel.ChooseAsync(options.Accel, plan.Inputs, ct);
            log.Information("accel: {Accel} ({Reason})", decision.Accel.Kebab(), decision.Reason);
            start = start with { Accel = decision.Accel, AccelReason = decision.Reason };
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    return await BootAndObserveAsync(plan, decision.Accel, start, ct);
                }
                catch (GuestNotReadyException e) when (e.Reason == NotReadyReason.HostForwardFailed && options.SshPort is null && attempt < PortAttempts)
                {
                    // The free port was taken between the probe and QEMU's bind: QEMU exited, nothing reached any guest.
                    log.Warning("{Message}; trying another port (attempt {Next} of {Max})", e.Message, attempt + 1, PortAttempts);
                }
            }
        }
        catch (Exception e) when (IsInfrastructure(e, ct))
        {
            log.Error("infrastructure error: {Message}", e.Message);
            return start with { Outcome = Outcome.InfraError, Error = e.Message };
        }
    }

    private string _step = "starting";

    /// <summary>The step the cell is at: told to the progress line, and named by an infrastructure error.</summary>
    private void Step(string step)
    {
        _step = step;
        options.Progress?.Invoke(step);
    }

    /// <summary>Boots with a free port at most this often when the port is taken between the probe and QEMU's bind.</summary>
    public const int PortAttempts = 3;

    private async Task<Observation> BootAndObserveAsync(CellPlan plan, Accel accelerator, Observation start, CancellationToken ct)
    {
        await using var guest = await StartGuestAsync(plan, Configure(plan, accelerator), ct);
        await ArtifactFiles.WriteAsync(plan.Artifacts.QemuCommandLine, guest.CommandLine + "\n", ct);
        Observation observation;
        try
        {
            observation = await ObserveGuestAsync(guest, plan, start with { Snapshot = guest.RestoredFrom?.Key }, ct);
        }
        catch (Exception e) when (IsInfrastructure(e, ct) && e is not (GuestNotReadyException or InfrastructureException))
        {
            // The connection broke under a step: say the step, and how QEMU ended when it did.
            await guest.Qemu.WaitForExitAsync(TimeSpan.FromSeconds(1));
            var end = guest.Qemu.HasExited ? $"; qemu ended: {await QemuEndAsync(guest)}" : "";
            throw new InfrastructureException($"{_step}: {e.Message}{end}", e);
        }
        if (guest.Qemu.ConsoleUnsaved is { } unsaved) throw new InfrastructureException(unsaved);
        return observation;
    }

    /// <summary>Faults of the harness's world (not the kernel's): the cell is infra-error, the rest of the matrix goes on.</summary>
    public static bool IsInfrastructure(Exception e, CancellationToken ct) =>
        e is InfrastructureException or GuestNotReadyException or IOException or TimeoutException or UnauthorizedAccessException
            or Renci.SshNet.Common.SshException or System.Net.Sockets.SocketException
        || e is OperationCanceledException && !ct.IsCancellationRequested;

    /// <summary>The workload steps a snapshot runs before it is saved (label initialisation), so restored cells skip them.</summary>
    public static IReadOnlyList<WorkloadStep> Prologue(Scenario s) => s.Workload.Steps().Where(step => step.IsSetup).ToList();

    /// <summary>Restored from this guest's snapshot (made first if missing) unless snapshots are off; cold when there is none.</summary>
    private async Task<QemuGuest> StartGuestAsync(CellPlan plan, GuestConfiguration config, CancellationToken ct)
    {
        if (snapshots is not null && options.Snapshots && !plan.Scenario.Workload.HasHostSetup)
        {
            Step("snapshot");
            if (await snapshots.GetOrMakeAsync(config, Prologue(plan.Scenario), ct) is { } snapshot)
            {
                Step("restoring");
                try
                {
                    return await QemuGuest.RestoreAsync(config, snapshot, log, ct);
                }
                catch (GuestNotReadyException e) when (e.Reason == NotReadyReason.RestoreFailed)
                {
                    log.Warning("{Message}: booting cold", e.Message);
                }
            }
        }
        Step("booting");
        return await QemuGuest.StartAsync(config, log, ct);
    }

    private GuestConfiguration Configure(CellPlan plan, Accel accelerator) => Configure(plan.Inputs, plan.Scenario, accelerator, plan.Artifacts.Console, options);

    /// <summary>The guest a cell boots: its builds, scenario and accelerator, the console where asked, the run's timeouts and port.</summary>
    public static GuestConfiguration Configure(GuestInputs inputs, Scenario scenario, Accel accelerator, string consoleLog, RunOptions options) =>
        Builder(inputs, scenario, accelerator, consoleLog, options).Build();

    /// <summary>The one factory of guests: production's cells and the fault and reliability tests boot what it makes (PVH, the kernel's NIC, qboot).</summary>
    public static GuestBuilder Builder(GuestInputs inputs, Scenario scenario, Accel accelerator, string consoleLog, RunOptions options)
    {
        var (qemu, kernel, image) = inputs;
        return GuestBuilder.For(scenario, qemu.Binary, kernel.BootImage(), image.HostPublicKey, path => ImageBuilder.WriteRunInitrd(image, path, kernel.Modules?.Archive))
            .WithInputsKey($"qemu {qemu.Key}; kernel {kernel.Key}; image {image.Key}").WithFirmware(qemu.FirmwareDirs).WithFastFirmware(qemu.FastFirmware)
            .WithNic(kernel.Nic() == NicDriver.VirtioNet ? GuestNic.VirtioNet : GuestNic.E1000)
            .WithAccel(accelerator).WithConsoleLog(consoleLog).WithSshPort(options.SshPort).WithTimeouts(options.Timeouts);
    }

    private async Task<Observation> ObserveGuestAsync(QemuGuest guest, CellPlan plan, Observation start, CancellationToken ct)
    {
        try
        {
            await guest.WaitReadyAsync(ct);
        }
        catch (GuestNotReadyException e) when (e.Reason is NotReadyReason.QemuExited or NotReadyReason.CrashedWhileBooting)
        {
            return await NotReadyAsync(guest, plan, start, e, ct);
        }
        Step("reading boot facts");
        var facts = await BootFactsReader.ReadAsync(guest, log, ct);
        await ArtifactFiles.WriteAsync(plan.Artifacts.IomemAtBoot, facts.Iomem, ct);
        var seen = start with
        {
            BootSeconds = Seconds(guest.ReadyTime), MarkerSeconds = Seconds(guest.MarkerTime), Layout = facts.Layout,
            StructPageSize = facts.Kernel?.StructPageSize, VmemmapBase = facts.Kernel?.VmemmapBase, KernelFactsSource = facts.Kernel?.Source,
            SectionSizeBits = facts.Kernel?.SectionSizeBits, MemoryBlockSize = facts.MemoryBlockSize,
            MemoryBlockSizeSource = facts.MemoryBlockSize is null ? null : "guest " + BootFactsReader.MemoryBlockSizeFile,
        };
        var failures = Preconditions.Check(plan.Scenario, plan.Prediction, facts);
        if (plan.Inputs.Kernel.IsPrebuilt && plan.Inputs.Kernel.Config is null)
            failures = [.. await KernelProbe.MissingAsync(guest, guest.Configuration.Timeouts.Probe, ct), .. failures];
        if (failures.Count > 0) await EnsureAliveAsync(guest, "reading the boot facts", ct); // a dead guest's facts are empty, not failed
        if (failures.Count > 0)
        {
            log.Warning("precondition failed: {Failures}", string.Join("; ", failures));
            return seen with { Outcome = Outcome.PreconditionFailed, PreconditionFailures = failures, Error = "precondition failed: " + string.Join("; ", failures) };
        }
        return await RunWorkloadAsync(guest, plan, seen, facts.Kernel, ct);
    }

    private async Task<Observation> NotReadyAsync(QemuGuest guest, CellPlan plan, Observation start, GuestNotReadyException e, CancellationToken ct)
    {
        if (e.Reason == NotReadyReason.QemuExited && guest.Qemu.ExitDescription is { } end && !end.StartsWith("exit code", StringComparison.Ordinal))
            throw new InfrastructureException($"booting: qemu ended: {end}"); // killed or crashed: not QEMU refusing the layout
        if (e.Reason == NotReadyReason.QemuExited)
        {
            log.Information("qemu refused to start: {Message}", e.Message);
            return start with { Outcome = Outcome.Rejected, Rejection = e.Message, Error = "qemu exited before the guest was ready" };
        }
        var oopses = await KeepOopsesAsync(guest, plan, null, ct);
        return start with { Outcome = Outcome.Oops, OopsIteration = 0, Oopses = oopses, Error = e.Message, MarkerSeconds = Seconds(guest.MarkerTime) };
    }

    private async Task<Observation> RunWorkloadAsync(QemuGuest guest, CellPlan plan, Observation seen, KernelFacts? kernel, CancellationToken ct)
    {
        WorkloadResult result;
        var steps = plan.Scenario.Workload.Steps();
        await using (var recorder = new ArtifactRecorder(plan.Artifacts))
        {
            if (guest.RestoredFrom is { } snapshot)
            {
                steps = steps.Where(s => !s.IsSetup).ToList();
                await recorder.NoteAsync($"# the prologue ran before snapshot {snapshot.Key} was saved:\n" +
                    (File.Exists(snapshot.PrologueLog) ? await File.ReadAllTextAsync(snapshot.PrologueLog, ct) : "# (none)\n"), ct);
            }
            result = await new WorkloadRunner(guest, guest, recorder, guest.Configuration.Timeouts, guest).RunAsync(steps, Step, ct);
        }
        if (!guest.Qemu.HasExited)
        {
            Step("collecting");
            var dmesg = await guest.RunShellAsync("dmesg", guest.Configuration.Timeouts.Probe, ct);
            if (dmesg.ExitCode == 0) await ArtifactFiles.WriteAsync(plan.Artifacts.Dmesg, dmesg.Stdout, ct);
            else await guest.Qemu.WaitForExitAsync(TimeSpan.FromSeconds(1)); // a guest gone while collecting: let its end be seen
        }
        // A lost connection is often QEMU going away: give its exit a moment to be seen, so the error can say how it ended.
        if (result.Outcome == Outcome.InfraError) await guest.Qemu.WaitForExitAsync(TimeSpan.FromSeconds(1));
        await guest.SettleAsync(ct);
        // The console is the first witness: an oops it showed after the step was judged still decides the outcome.
        result = result.WithConsoleOopses(guest.Oopses.Select(o => o.StartLine).ToList());
        if (result.Superseded is { } was) log.Warning("the console shows an oops: outcome oops, not {Was}", was);
        var oopses = await KeepOopsesAsync(guest, plan, kernel, ct);
        var (outcome, error) = (result.Outcome, result.Error);
        if (guest.Qemu.HasExited && outcome != Outcome.Oops)
        {
            var end = await QemuEndAsync(guest);
            // Killed or crashed after the workload (while collecting): the run cannot stand as clean or failed.
            if (!end.StartsWith("exit code", StringComparison.Ordinal)) outcome = Outcome.InfraError;
            error = $"{error ?? "collecting"}; qemu ended: {end}";
        }
        return seen with
        {
            Outcome = outcome, Error = error, Superseded = result.Superseded, Iterations = result.Iterations, Oopses = oopses,
            OopsIteration = result.OopsIteration, FaultPfn = oopses.FirstOrDefault()?.FaultPfn,
        };
    }

    /// <summary>
    /// A guest that died or stopped answering during <paramref name="step"/> is an infrastructure error naming the step
    /// and how QEMU ended, never a finding about the layout or the kernel.
    /// </summary>
    private static async Task EnsureAliveAsync(QemuGuest guest, string step, CancellationToken ct)
    {
        if (!guest.Qemu.HasExited)
        {
            var probe = await guest.RunShellAsync("true", guest.Configuration.Timeouts.Probe, ct);
            if (probe.ExitCode == 0) return;
            await guest.Qemu.WaitForExitAsync(TimeSpan.FromSeconds(1));
        }
        var how = guest.Qemu.HasExited ? $"qemu ended: {await QemuEndAsync(guest)}" : "the guest stopped answering over SSH";
        throw new InfrastructureException($"{step}: {how}");
    }

    /// <summary>QEMU went away under the workload (killed from outside, crashed): how, for the cell's error.</summary>
    private static async Task<string> QemuEndAsync(QemuGuest guest)
    {
        await guest.Qemu.WaitForExitAsync(guest.Configuration.Timeouts.Teardown);
        return guest.Qemu.ExitDescription ?? "gone";
    }

    /// <summary>One file per distinct oops (title, report, frames symbolized against the build's vmlinux).</summary>
    private static async Task<IReadOnlyList<ObservedOops>> KeepOopsesAsync(QemuGuest guest, CellPlan plan, KernelFacts? kernel, CancellationToken ct)
    {
        // The console so far (every byte is saved as it arrives) completes a report the settle window cut short.
        var live = guest.Oopses;
        var reports = live.Any(r => r.Corrupted) && File.Exists(plan.Artifacts.Console)
            ? OopsCompletion.Complete(live, await ReadWhileWrittenAsync(plan.Artifacts.Console, ct))
            : live;
        var groups = OopsDedup.Group(reports);
        var n = 0;
        foreach (var g in groups)
        {
            var symbolized = await Symbolizer.SymbolizeAsync(g.First.Text, plan.Inputs.Kernel.Vmlinux, plan.Inputs.Kernel.SystemMap, ct);
            await ArtifactFiles.WriteAsync(plan.Artifacts.Oops(++n), g.Title + "\n\n" + g.First.Text + (symbolized is null ? "" : "\n" + symbolized), ct);
        }
        return groups.Select(g => Observed(g, kernel)).ToList();
    }

    /// <summary>A file QEMU's console still writes (it shares reading only with a reader that shares writing).</summary>
    private static async Task<string> ReadWhileWrittenAsync(string path, CancellationToken ct)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync(ct);
    }

    private static ObservedOops Observed(OopsGroup g, KernelFacts? kernel)
    {
        ulong? address = Hex.TryParse(g.First.FaultAddress, out var a) ? a : null;
        var pfn = address is { } at ? kernel?.PfnOfStructPage(at) : null;
        return new ObservedOops(g.Title, g.First.Function, address, pfn, g.First.StartLine, g.First.Corrupted, g.Count);
    }

    private static double? Seconds(TimeSpan? t) => t is { } v ? Math.Round(v.TotalSeconds, 2) : null;
}

/// <summary>Writes an artifact; a full disk or a folder that stopped taking writes is an infrastructure error naming the file.</summary>
public static class ArtifactFiles
{
    public static async Task WriteAsync(string path, string text, CancellationToken ct)
    {
        try
        {
            await File.WriteAllTextAsync(path, text, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InfrastructureException($"could not save {path}: {e.Message}", e);
        }
    }
}

/// <summary>The workload's record in the cell's folder: ndctl.log (every command, exit, time, output) and iomem-N.txt.</summary>
public sealed class ArtifactRecorder(CellArtifacts files) : IWorkloadRecorder, IAsyncDisposable
{
    private readonly StreamWriter _ndctl = new(files.NdctlLog) { AutoFlush = true };

    public async Task StepAsync(WorkloadStep step, GuestCommandResult r, CancellationToken ct)
    {
        var exit = r.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture)
                   ?? (r.Signal is { } signal ? $"none (killed by SIG{signal})" : r.TimedOut ? "timeout" : "none");
        try
        {
            await _ndctl.WriteLineAsync($"### {step.Name}: {r.Command}\n# exit {exit} after {r.Seconds:F2} s\n{r.Stdout}{r.Stderr}".AsMemory(), ct);
        }
        catch (IOException e)
        {
            throw new InfrastructureException($"could not save {files.NdctlLog}: {e.Message}", e);
        }
    }

    public Task IomemAsync(int iteration, string iomem, CancellationToken ct) => ArtifactFiles.WriteAsync(files.IomemAfter(iteration), iomem, ct);

    public Task NoteAsync(string text, CancellationToken ct) => _ndctl.WriteLineAsync(text.AsMemory(), ct);

    public async ValueTask DisposeAsync()
    {
        try { await _ndctl.DisposeAsync(); } catch (IOException) { } // a failed write already said so
    }
}
