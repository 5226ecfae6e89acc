using System.Diagnostics;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Orchestration;
using QemuHotplugHarness.Scenarios;
using Serilog;

namespace QemuHotplugHarness.Tests.Reliability;

/// <summary>
/// A /dev/kvm that exists and hangs (seen on a 16-core machine: a KVM guest printed nothing in 180 s). This machine
/// has no KVM, so the device is a stand-in file that exists and the "QEMU" a program that prints nothing and never
/// exits, as a hung KVM guest does; every path that can choose KVM (auto with and without a cached probe) must
/// decide TCG within the probe's bound and say why.
/// </summary>
public class AccelProbeHangTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("qhh-kvmhang-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private (string Device, string Qemu) HangingKvm()
    {
        var device = Path.Combine(_dir, "kvm");
        File.WriteAllText(device, "");
        var qemu = Path.Combine(_dir, "qemu-system-x86_64");
        File.WriteAllText(qemu, "#!/bin/sh\nexec sleep 600\n");
        File.SetUnixFileMode(qemu, (UnixFileMode)0b111_101_101);
        return (device, qemu);
    }

    [Test]
    public async Task Auto_decides_tcg_within_the_probe_bound_and_says_why_then_keeps_that_answer()
    {
        var (device, qemu) = HangingKvm();
        var bound = TimeSpan.FromSeconds(2);
        var timeouts = new GuestTimeouts { KvmProbe = bound, Teardown = TimeSpan.FromSeconds(2) };
        var chooser = new AccelChooser(new HarnessCache(Path.Combine(_dir, "cache")), Log.Logger) { KvmDevice = device, Timeouts = timeouts };
        var inputs = new GuestInputs(new QemuBuild(QemuFlavour.Patched, qemu, [], "test", "hang"),
            new KernelBuild("k", Path.Combine(_dir, "bzImage"), null, null, null, "r", "test", "hang-" + Guid.NewGuid().ToString("N")),
            new GuestImage(Path.Combine(_dir, "initrd"), "ssh-ed25519 AAAA x", "img"));
        var watch = Stopwatch.StartNew();
        var first = await chooser.ChooseAsync(AccelChoice.Auto, inputs, CancellationToken.None);
        var took = watch.Elapsed;
        Assert.That(first.Accel, Is.EqualTo(Accel.Tcg));
        Assert.That(first.Reason, Does.Contain("did not boot within 2 s under KVM"));
        Assert.That(took, Is.LessThan(bound + timeouts.Teardown * 2 + TimeSpan.FromSeconds(5)), "bounded: the probe, then SIGINT and SIGKILL steps");
        Assert.That(Procs.Descendants(Environment.ProcessId).Where(p => Procs.CommandLine(p).Contains(qemu, StringComparison.Ordinal)), Is.Empty, "the hung probe is gone");
        var second = await chooser.ChooseAsync(AccelChoice.Auto, inputs, CancellationToken.None);
        Assert.That(second.Accel, Is.EqualTo(Accel.Tcg));
        Assert.That(second.Reason, Does.StartWith(first.Reason).And.Contain("(probed "), "the cached answer says what the probe found");
    }

    [Test]
    public async Task Without_the_device_nothing_is_probed()
    {
        var (_, qemu) = HangingKvm();
        var watch = Stopwatch.StartNew();
        var (accel, reason) = await AccelProbe.ProbeAsync(qemu, [], "bzImage", "initrd", Log.Logger, CancellationToken.None, device: Path.Combine(_dir, "no-kvm"));
        Assert.That(accel, Is.EqualTo(Accel.Tcg));
        Assert.That(reason, Is.EqualTo($"no {Path.Combine(_dir, "no-kvm")}"));
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)), "no QEMU was started");
    }
}
