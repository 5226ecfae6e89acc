using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Orchestration;

/// <summary>
/// The baseline of <c>bench guest</c>: the same guest and workload driven the simplest way a person would script it
/// — the same QEMU command line, kernel, initramfs and a fresh key; wait for the marker on the console, write the key
/// to the key port, then one OpenSSH <c>ssh</c> per step (retried until the first one connects). No QMP, no boot
/// facts, no oops scanning, no artifacts. Returns seconds from QEMU start to the last step done and QEMU gone.
/// </summary>
public sealed class PlainBaseline(GuestConfiguration config, ILogger log)
{
    public async Task<double> RunAsync(IReadOnlyList<WorkloadStep> steps, string consoleLog, CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("qhh-base-");
        File.SetUnixFileMode(dir.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var key = Path.Combine(dir.FullName, "id_ed25519");
            await Cli.Wrap("ssh-keygen").WithArguments(["-q", "-t", "ed25519", "-N", "", "-f", key]).ExecuteBufferedAsync(ct);
            var initrd = Path.Combine(dir.FullName, "initrd");
            config.WriteInitrd(initrd);
            var port = FreePort();
            var knownHosts = Path.Combine(dir.FullName, "known_hosts");
            await File.WriteAllTextAsync(knownHosts, $"[127.0.0.1]:{port} {config.PinnedHostKey}\n", ct);
            var args = config.Arguments(new GuestWiring(initrd, port, Path.Combine(dir.FullName, "qmp.sock"), Path.Combine(dir.FullName, "keys.sock")));
            var watch = Stopwatch.StartNew();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var marker = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var console = new StreamWriter(consoleLog) { AutoFlush = true };
            var (exe, wrapped) = LifetimeBound.Wrap(config.QemuBinary, args);
            var qemu = LifetimeBound.Start(() => Cli.Wrap(exe).WithArguments(wrapped).WithValidation(CommandResultValidation.None)
                .WithStandardOutputPipe(PipeTarget.ToDelegate(line =>
                {
                    lock (console) console.WriteLine(line);
                    if (line.Contains(config.ReadyMarker, StringComparison.Ordinal)) marker.TrySetResult();
                }))
                .ExecuteAsync(stop.Token));
            try
            {
                await marker.Task.WaitAsync(config.Timeouts.Boot, ct);
                await using (var keys = await KeyPort.ConnectAsync(Path.Combine(dir.FullName, "keys.sock"), Deadline.In(config.Timeouts.Key), ct))
                    await keys.DeliverAsync(await File.ReadAllTextAsync(key + ".pub", ct), Deadline.In(config.Timeouts.Key), ct);
                var first = true;
                foreach (var step in steps)
                {
                    await SshAsync(key, knownHosts, port, step.Arguments, retry: first, ct);
                    first = false;
                }
            }
            finally
            {
                await stop.CancelAsync();
                try { await qemu; } catch (OperationCanceledException) { }
            }
            return watch.Elapsed.TotalSeconds;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private async Task SshAsync(string key, string knownHosts, int port, IReadOnlyList<string> argv, bool retry, CancellationToken ct)
    {
        var deadline = Deadline.In(config.Timeouts.Ssh);
        while (true)
        {
            var r = await Cli.Wrap("ssh").WithArguments(
                [
                    "-i", key, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-o", "BatchMode=yes",
                    "-o", "UserKnownHostsFile=" + knownHosts, "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
                    "root@127.0.0.1", string.Join(' ', argv.Select(SshSession.Quote)),
                ]).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(ct);
            if (r.ExitCode == 0) return;
            if (r.ExitCode != 255 || !retry || deadline.Expired)
                throw new InfrastructureException($"baseline: ssh {string.Join(' ', argv)}: exit {r.ExitCode}: {r.StandardError.Trim()}");
            log.Debug("baseline: ssh not yet: {Error}", r.StandardError.Trim());
            await Task.Delay(200, ct);
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
