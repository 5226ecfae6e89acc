using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Simulator;
using Serilog;

namespace QemuHotplugHarness.Guest;

/// <summary>What a run boots: the QEMU, the kernel, the image (from the builders).</summary>
public sealed record GuestInputs(QemuBuild Qemu, KernelBuild Kernel, GuestImage Image);

/// <summary>Run options with timeouts for everything that can hang.</summary>
public sealed record RunOptions
{
    public string Accel { get; init; } = "auto";
    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromSeconds(120);
    public TimeSpan SshTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public int? SshPort { get; init; }
    /// <summary>Called with progress words ("booting", "iteration 2") for live views.</summary>
    public Action<string>? Progress { get; init; }
}

/// <summary>
/// Boots one scenario on a real QEMU guest, checks the layout against the simulator, runs the ndctl workload
/// over SSH while the console is scanned live, and writes the artifacts and observation.json into a folder.
/// </summary>
public sealed class GuestRunner(HarnessCache cache, ILogger log)
{
    public const string ReadyMarker = "QHH-READY";

    public async Task<Observation> RunAsync(Scenario scenario, GuestInputs inputs, string artifacts, RunOptions options, CancellationToken ct)
    {
        Directory.CreateDirectory(artifacts);
        var total = Stopwatch.StartNew();
        var prediction = Predictor.Predict(scenario);
        // Sockets, keys and the run's initrd in a private (0700) folder; unix socket paths must stay short.
        var priv = Directory.CreateTempSubdirectory("qhh-run-");
        File.SetUnixFileMode(priv.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var keyPath = Path.Combine(priv.FullName, "id_ed25519");
            using var keygenTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            keygenTimeout.CancelAfter(TimeSpan.FromSeconds(30));
            var keygen = await Cli.Wrap("ssh-keygen").WithArguments(["-q", "-t", "ed25519", "-N", "", "-C", "qhh-run", "-f", keyPath])
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(keygenTimeout.Token);
            if (keygen.ExitCode != 0) throw new InfrastructureException("ssh-keygen failed: " + keygen.StandardError.Trim());
            var initrd = Path.Combine(priv.FullName, "initrd");
            ImageBuilder.WriteRunInitrd(inputs.Image, File.ReadAllText(keyPath + ".pub"), initrd);

            var (accel, reason) = await AccelProbe.ChooseAsync(options.Accel, cache, inputs.Qemu, inputs.Kernel.BzImage, initrd, log, ct);
            log.Information("accel: {Accel} ({Reason})", accel, reason);
            var port = options.SshPort ?? FreePort();
            if (options.SshPort is { } wanted && !PortFree(wanted)) throw new BadInputException($"--ssh-port {wanted}: port is busy on 127.0.0.1");
            var qmpSocket = Path.Combine(priv.FullName, "qmp.sock");
            var args = QemuCommandLine.Build(scenario, inputs.Qemu, inputs.Kernel.BzImage, initrd, accel, port, qmpSocket);
            await File.WriteAllTextAsync(Path.Combine(artifacts, "qemu-cmdline.txt"), QemuCommandLine.Render(inputs.Qemu.Binary, args) + "\n", ct);
            await File.WriteAllTextAsync(Path.Combine(artifacts, "prediction.json"), HarnessJson.Serialize(prediction), ct);

            var observation = await BootAndRunAsync(scenario, inputs, prediction, args, accel, reason, port, keyPath, qmpSocket, artifacts, options, ct);
            observation = observation with { Seconds = Math.Round(total.Elapsed.TotalSeconds, 2), KernelRelease = inputs.Kernel.Release };
            await File.WriteAllTextAsync(Path.Combine(artifacts, "observation.json"), HarnessJson.Serialize(observation), CancellationToken.None);
            return observation;
        }
        finally
        {
            try { priv.Delete(recursive: true); } catch (IOException) { }
        }
    }

    private async Task<Observation> BootAndRunAsync(Scenario scenario, GuestInputs inputs, Prediction prediction, IReadOnlyList<string> args,
        Accel accel, string reason, int port, string keyPath, string qmpSocket, string artifacts, RunOptions options, CancellationToken ct)
    {
        var accelName = accel.ToString().ToLowerInvariant();
        var baseObservation = new Observation { Outcome = Outcomes.InfraError, Accel = accelName, AccelReason = reason };
        options.Progress?.Invoke("booting");
        await using var qemu = new QemuProcess(inputs.Qemu.Binary, args, Path.Combine(artifacts, "console.log"), log);
        qemu.Start();
        double bootSeconds;
        try
        {
            await new ConsoleMarkerWait(ReadyMarker).UntilReadyAsync(qemu, options.BootTimeout, ct);
            bootSeconds = qemu.Clock.Elapsed.TotalSeconds;
        }
        catch (GuestFailedException e) when (qemu.HasExited && qemu.Oopses.Count == 0)
        {
            await qemu.WaitForExitAsync(TimeSpan.FromSeconds(2));
            var message = QemuError(qemu.Stderr);
            // A port taken between our probe and QEMU's bind is the harness's problem, not a rejection of the machine.
            if (qemu.Stderr.Contains("host forwarding", StringComparison.OrdinalIgnoreCase))
                throw new InfrastructureException($"qemu could not forward 127.0.0.1:{port} to the guest's sshd: {message}");
            log.Information("qemu refused to start: {Message}", message);
            return baseObservation with { Outcome = Outcomes.Rejected, Rejection = message, Error = e.Message };
        }

        // QMP: where did the NVDIMM land?
        string? qmpAddress = null;
        using (var qmpTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
        await using (var qmp = await QmpClient.ConnectAsync(qmpSocket, TimeSpan.FromSeconds(10), ct))
        {
            qmpTimeout.CancelAfter(TimeSpan.FromSeconds(15));
            var devices = await qmp.MemoryDevicesAsync(qmpTimeout.Token);
            if (devices.FirstOrDefault() is { Id: not null } dev) qmpAddress = Units.Hex(dev.Address);
        }

        using var ssh = await SshSession.ConnectAsync(port, keyPath, inputs.Image.HostPublicKey, options.SshTimeout, log, ct);
        log.Information("guest ready in {Seconds:F1} s ({Accel}); ssh on 127.0.0.1:{Port}", bootSeconds, accelName, port);

        // Preconditions: the layout the simulator predicted, the CPU flag asked for.
        var iomem = (await ssh.RunShellAsync("cat /proc/iomem", TimeSpan.FromSeconds(15), ct)).Stdout;
        await File.WriteAllTextAsync(Path.Combine(artifacts, "iomem-boot.txt"), iomem, ct);
        var ram = IomemLine(iomem, "System RAM", above4G: true);
        var pmem = IomemLine(iomem, "Persistent Memory", above4G: true);
        var layout = new ObservedLayout(ram?.ToString(), pmem?.ToString(), qmpAddress);
        var failures = new List<string>();
        if (layout.SystemRamAbove4G != prediction.Layout.SystemRamAbove4G && !(ram is null && prediction.Layout.SystemRamAbove4G == "none"))
            failures.Add($"System RAM above 4G is {layout.SystemRamAbove4G ?? "absent"}, predicted {prediction.Layout.SystemRamAbove4G}");
        if (layout.PersistentMemory != prediction.Layout.PersistentMemory)
            failures.Add($"Persistent Memory is {layout.PersistentMemory ?? "absent"}, predicted {prediction.Layout.PersistentMemory}");
        if (scenario.Nvdimm.Address is { } want && qmpAddress != Units.Hex(want))
            failures.Add($"QMP puts the NVDIMM at {qmpAddress ?? "nowhere"}, asked for {Units.Hex(want)}");
        var cpuinfo = (await ssh.RunShellAsync("grep -m1 '^flags' /proc/cpuinfo", TimeSpan.FromSeconds(15), ct)).Stdout;
        var hasPse = (" " + cpuinfo + " ").Contains(" pse ", StringComparison.Ordinal);
        if (hasPse != scenario.Cpu.Pse) failures.Add($"/proc/cpuinfo {(hasPse ? "has" : "lacks")} pse, asked for pse {(scenario.Cpu.Pse ? "on" : "off")}");
        var facts = await LearnKernelFactsAsync(ssh, ct);
        baseObservation = baseObservation with
        {
            BootSeconds = Math.Round(bootSeconds, 2), Layout = layout, PreconditionFailures = failures,
            StructPageSize = facts?.StructPageSize, VmemmapBase = facts is null ? null : Units.Hex(facts.VmemmapBase), KernelFactsSource = facts?.Source,
        };
        if (failures.Count > 0)
        {
            log.Warning("precondition failed: {Failures}", string.Join("; ", failures));
            return baseObservation with { Outcome = "precondition-failed", Error = "precondition failed: " + string.Join("; ", failures) };
        }

        // The workload: label steps, then the reconfigurations, stopping at the first oops.
        var iterations = new List<ObservedIteration>();
        await using var ndctlLog = new StreamWriter(Path.Combine(artifacts, "ndctl.log")) { AutoFlush = true };
        int? oopsIteration = null;
        string outcome = Outcomes.Clean;
        string? error = null;
        var reconfigureIndex = 0;
        foreach (var step in scenario.Workload.Steps())
        {
            if (step.IsReconfigure) reconfigureIndex++;
            options.Progress?.Invoke(step.IsReconfigure ? $"iteration {reconfigureIndex}" : step.Name);
            var result = await ssh.RunAsync(step.Arguments, options.CommandTimeout, ct);
            await ndctlLog.WriteLineAsync($"### {step.Name}: {result.Command}\n# exit {result.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? (result.TimedOut ? "timeout" : "none")} after {result.Seconds:F2} s\n{result.Stdout}{result.Stderr}");
            await WaitForReportAsync(qemu, ct);
            if (!step.IsReconfigure)
            {
                if (qemu.Oopses.Count > 0) { outcome = Outcomes.Oops; break; }
                if (result.ExitCode != 0) { outcome = result.TimedOut ? Outcomes.Hung : Outcomes.WorkloadFailed; error = $"{step.Name} failed: {result.Stderr.Trim()}"; break; }
                continue;
            }
            string? ns = null, dax = null;
            if (qemu.Oopses.Count == 0 && !result.TimedOut)
            {
                var after = (await ssh.RunShellAsync("cat /proc/iomem", TimeSpan.FromSeconds(15), ct)).Stdout;
                await File.WriteAllTextAsync(Path.Combine(artifacts, $"iomem-{reconfigureIndex}.txt"), after, ct);
                ns = IomemLine(after, "namespace0.0", above4G: true)?.ToIomem();
                dax = (IomemLine(after, "dax0.0", above4G: true) ?? IomemLine(after, "pmem0", above4G: true))?.ToIomem();
            }
            iterations.Add(new ObservedIteration(reconfigureIndex, result.Command, result.ExitCode, Math.Round(result.Seconds, 3), result.TimedOut, ns, dax, result.Stderr.Trim()));
            if (qemu.Oopses.Count > 0) { outcome = Outcomes.Oops; oopsIteration = reconfigureIndex; break; }
            if (result.TimedOut) { outcome = Outcomes.Hung; error = $"iteration {reconfigureIndex} did not finish within {options.CommandTimeout.TotalSeconds:F0} s"; break; }
            if (result.ExitCode != 0) { outcome = Outcomes.WorkloadFailed; error = $"iteration {reconfigureIndex}: ndctl exit {result.ExitCode}: {result.Stderr.Trim()}"; break; }
        }
        var dmesg = await ssh.RunShellAsync("dmesg", TimeSpan.FromSeconds(10), ct);
        if (!dmesg.TimedOut) await File.WriteAllTextAsync(Path.Combine(artifacts, "dmesg.txt"), dmesg.Stdout, ct);
        if (outcome == Outcomes.Oops && oopsIteration is null && iterations.Count == 0) oopsIteration = 0;

        var groups = OopsDedup.Group(qemu.Oopses);
        var oopses = groups.Select(g => new ObservedOops(g.Title, g.First.Function, g.First.FaultAddress, FaultPfn(g.First, facts), g.First.StartLine, g.First.Corrupted, g.Count)).ToList();
        var n = 0;
        foreach (var g in groups)
        {
            var symbolized = await Symbolizer.SymbolizeAsync(g.First.Text, inputs.Kernel.Vmlinux, inputs.Kernel.SystemMap, ct);
            await File.WriteAllTextAsync(Path.Combine(artifacts, $"oops-{++n}.txt"), g.Title + "\n\n" + g.First.Text + (symbolized is null ? "" : "\n" + symbolized), ct);
        }
        return baseObservation with
        {
            Outcome = outcome, Error = error, Iterations = iterations, Oopses = oopses, OopsIteration = oopsIteration,
            FaultPfn = oopses.FirstOrDefault()?.FaultPfn,
        };
    }

    /// <summary>An oops is being printed: give it a few seconds to finish so the report is whole.</summary>
    private static async Task WaitForReportAsync(QemuProcess qemu, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (qemu.OopsInProgress && DateTime.UtcNow < deadline) await Task.Delay(100, ct);
        if (qemu.OopsInProgress) qemu.FlushDetector();
    }

    /// <summary>VMCOREINFO from the ELF notes at the head of /proc/kcore: struct page size and vmemmap base of this kernel.</summary>
    private async Task<KernelFacts?> LearnKernelFactsAsync(SshSession ssh, CancellationToken ct)
    {
        var r = await ssh.RunShellAsync("head -c 65536 /proc/kcore | base64", TimeSpan.FromSeconds(20), ct);
        try
        {
            var text = KernelFacts.VmcoreinfoFromKcore(Convert.FromBase64String(string.Concat(r.Stdout.Where(c => !char.IsWhiteSpace(c)))));
            if (text is not null) return KernelFacts.FromVmcoreinfo(text);
        }
        catch (FormatException) { }
        log.Warning("could not read VMCOREINFO from /proc/kcore: fault pfns will not be computed");
        return null;
    }

    public static string? FaultPfn(OopsReport report, KernelFacts? facts)
    {
        if (facts is null || report.FaultAddress is null) return null;
        var address = ulong.Parse(report.FaultAddress.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        if (address < facts.VmemmapBase) return null;
        var pfn = (address - facts.VmemmapBase) / (ulong)facts.StructPageSize;
        return pfn < (1UL << 40) ? Units.Hex(pfn) : null; // outside vmemmap: not a struct page
    }

    /// <summary>The first top-level /proc/iomem range named <paramref name="name"/> (above 4 GiB when asked).</summary>
    public static AddressRange? IomemLine(string iomem, string name, bool above4G)
    {
        foreach (var raw in iomem.Split('\n'))
        {
            var parts = raw.Split(" : ", 2);
            if (parts.Length != 2 || parts[1].Trim() != name) continue;
            if (!AddressRange.TryParseIomem(parts[0], out var range)) continue;
            if (above4G && range.Start < 0x1_0000_0000UL) continue;
            return range;
        }
        return null;
    }

    private static string QemuError(string stderr) =>
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .LastOrDefault(l => l.StartsWith("qemu-system", StringComparison.Ordinal)) ?? stderr.Trim();

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static bool PortFree(int port)
    {
        try
        {
            using var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
