using QemuHotplugHarness.Guest;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Scenarios.Cases;

namespace QemuHotplugHarness.Tests.Scenarios;

/// <summary>A case's memory devices, kernel arguments and host steps: how they load, render and key snapshots, and each bad input's one line.</summary>
public class CaseDeviceTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("qhh-devices-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private const string Valid = """
        { "name": "t", "summary": "s", "fix": { "subject": "mm: fix" }, "lines": { "6.1": { "patch": "fix.patch" } },
          "scenario": { "machine": { "slots": 4 } },
          "devices": { "backends": [ { "id": "mem1", "size": "1G" }, { "id": "vmem0", "size": "4G" } ],
                       "dimms": [ { "id": "dimm1", "memdev": "mem1" } ],
                       "virtioMem": [ { "id": "vm0", "memdev": "vmem0", "blockSize": "2M", "requestedSize": "0", "node": 0 } ] },
          "kernelArgs": ["memhp_default_state=offline", "memory_hotplug.memmap_on_memory=1"],
          "workload": { "setup": [],
            "iteration": [
              { "qmp": "object-add", "arguments": { "qom-type": "memory-backend-ram", "id": "mem2", "size": 1073741824 } },
              { "qmp": "device_add", "arguments": { "driver": "pc-dimm", "id": "dimm2", "memdev": "mem2" }, "timeout": "10s" },
              { "memoryBlocks": "dimm2", "expect": "offline" },
              { "read": "/proc/meminfo", "key": "MemTotal", "expect": "4194304" },
              { "qmp": "device_del", "arguments": { "id": "dimm2" } },
              { "waitEvent": "DEVICE_DELETED", "device": "dimm2", "timeout": "30s" },
              { "qmp": "qom-set", "arguments": { "path": "vm0", "property": "requested-size", "value": 136314880 } },
              { "waitQom": "vm0", "property": "size", "equals": 136314880, "timeout": "60s" },
              ["cat", "/proc/kpagecount"] ],
            "iterations": 1 },
          "cells": [ { "name": "u", "kernel": "unpatched", "expect": { "outcome": "oops" } } ],
          "modelled": false, "notModelledReason": "r" }
        """;

    private Case Load(string json)
    {
        var folder = Path.Combine(_dir, "t");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "fix.patch"), "Subject: [PATCH] mm: fix\n");
        File.WriteAllText(Path.Combine(folder, "case.json"), json);
        return CaseLoader.Load(folder, "cases/t/case.json");
    }

    [Test]
    public void Devices_kernel_arguments_and_host_steps_load_into_the_scenario()
    {
        var s = Load(Valid).Scenario;
        var steps = s.Workload.Steps();
        Assert.Multiple(() =>
        {
            Assert.That(s.Devices.Backends, Is.EqualTo(new[] { new MemoryBackendSpec("mem1", ByteSize.FromGiB(1)), new MemoryBackendSpec("vmem0", ByteSize.FromGiB(4)) }));
            Assert.That(s.Devices.Dimms, Is.EqualTo(new[] { new PcDimmSpec("dimm1", "mem1") }));
            Assert.That(s.Devices.VirtioMem, Is.EqualTo(new[] { new VirtioMemSpec("vm0", "vmem0", ByteSize.FromMiB(2), new ByteSize(0), 0) }));
            Assert.That(s.KernelArgs, Is.EqualTo("memhp_default_state=offline memory_hotplug.memmap_on_memory=1"));
            Assert.That(steps.Select(x => x.Host?.Kind), Is.EqualTo(new HostStepKind?[]
            {
                HostStepKind.Qmp, HostStepKind.Qmp, HostStepKind.MemoryBlocks, HostStepKind.Read, HostStepKind.Qmp, HostStepKind.WaitEvent,
                HostStepKind.Qmp, HostStepKind.WaitQom, null,
            }));
            Assert.That(steps[1].Host, Is.EqualTo(new HostStep(HostStepKind.Qmp)
            {
                Command = QmpCommand.DeviceAdd, Arguments = """{"driver":"pc-dimm","id":"dimm2","memdev":"mem2"}""", Timeout = TimeSpan.FromSeconds(10),
            }));
            Assert.That(string.Join(' ', steps[5].Arguments), Is.EqualTo("wait-event DEVICE_DELETED dimm2"));
            Assert.That(steps[5].Host!.Timeout, Is.EqualTo(TimeSpan.FromSeconds(30)));
            Assert.That(steps[7].Host!.Value, Is.EqualTo("136314880"));
            Assert.That(steps[8].Arguments, Is.EqualTo(new[] { "cat", "/proc/kpagecount" }));
        });
    }

    [Test]
    public void The_qemu_command_line_has_the_devices_after_the_nvdimm_and_the_kernel_arguments()
    {
        var config = GuestBuilder.For(Load(Valid).Scenario, "/x/qemu", "/k/vmlinux", "ssh-ed25519 AAAA", _ => { }).Build();
        var args = config.Arguments(GuestWiring.Placeholders);
        var text = string.Join(' ', args);
        Assert.Multiple(() =>
        {
            Assert.That(text, Does.Contain("-m 4160M,maxmem=20480M,slots=4"));
            Assert.That(text, Does.Contain("-device nvdimm,id=nv0,memdev=mem0,addr=0x144000000,label-size=128k " +
                "-object memory-backend-ram,id=mem1,size=1024M -object memory-backend-ram,id=vmem0,size=4096M " +
                "-device pc-dimm,id=dimm1,memdev=mem1 " +
                "-device virtio-mem-pci,id=vm0,memdev=vmem0,node=0,block-size=2M,requested-size=0M"));
            Assert.That(args[args.ToList().IndexOf("-append") + 1], Does.EndWith("loglevel=5 memhp_default_state=offline memory_hotplug.memmap_on_memory=1"));
        });
    }

    [Test]
    public void A_snapshot_is_keyed_by_the_device_set_and_kernel_arguments()
    {
        var s = Load(Valid).Scenario;
        var qemu = Path.Combine(_dir, "qemu");
        File.WriteAllText(qemu, "qemu");
        string Key(Scenario x) => SnapshotStore.KeyOf(GuestBuilder.For(x, qemu, "/k/vmlinux", "ssh-ed25519 AAAA", _ => { }).Build(), []);
        var other = s with { Devices = s.Devices with { Backends = [new MemoryBackendSpec("mem1", ByteSize.FromGiB(2)), s.Devices.Backends[1]] } };
        Assert.Multiple(() =>
        {
            Assert.That(Key(s with { }), Is.EqualTo(Key(s)));
            Assert.That(Key(other), Is.Not.EqualTo(Key(s)), "another backend size");
            Assert.That(Key(s with { KernelArgs = null }), Is.Not.EqualTo(Key(s)), "other kernel arguments");
            Assert.That(Key(s with { Devices = MemoryDeviceSet.None }), Is.EqualTo(Key(Scenario.Seed with { Name = s.Name, Machine = s.Machine, KernelArgs = s.KernelArgs })),
                "no devices: the seed's machine");
        });
    }

    [Test]
    public void Only_a_setup_with_host_steps_keeps_the_case_from_snapshots()
    {
        Assert.That(Load(Valid).Scenario.Workload.HasHostSetup, Is.False, "host steps in the iteration run after the restore");
        var hostSetup = Load(Valid.Replace("\"setup\": []", "\"setup\": [ { \"qmp\": \"qom-set\", \"arguments\": { \"path\": \"vm0\", \"property\": \"requested-size\", \"value\": 0 } } ]"));
        Assert.That(hostSetup.Scenario.Workload.HasHostSetup, Is.True);
        Assert.That(CellRunnerPrologue(hostSetup).Single().Host?.Command, Is.EqualTo(QmpCommand.QomSet));
    }

    private static IReadOnlyList<WorkloadStep> CellRunnerPrologue(Case c) => QemuHotplugHarness.Orchestration.CellRunner.Prologue(c.Scenario);

    [Test]
    public void A_case_without_devices_keeps_the_seed_command_line()
    {
        var seed = GuestBuilder.For(Scenario.Seed, "/x/qemu", "/k/vmlinux", "ssh-ed25519 AAAA", _ => { }).Build().Arguments(GuestWiring.Placeholders);
        Assert.That(string.Join(' ', seed), Does.Not.Contain("pc-dimm").And.Not.Contain("virtio-mem").And.EndsWith("-serial chardev:keys"));
    }

    [TestCase("\"qmp\": \"device_del\"", "\"qmp\": \"device_delete\"",
        "workload.iteration[4].qmp: unknown QMP command \"device_delete\" (use object-add, object-del, device_add, device_del, qom-set, qom-get)")]
    [TestCase("{ \"id\": \"dimm1\", \"memdev\": \"mem1\" }", "{ \"id\": \"dimm1\", \"memdev\": \"nomem\" }",
        "devices.dimms[0].memdev: \"nomem\" is not a backend of devices.backends (a device needs its backend)")]
    [TestCase("\"id\": \"dimm2\", \"memdev\": \"mem2\"", "\"id\": \"dimm2\"",
        "workload.iteration[1].arguments.memdev: missing (a pc-dimm needs its backend)")]
    [TestCase("\"device\": \"dimm2\", \"timeout\": \"30s\"", "\"device\": \"dimm2\"", "workload.iteration[5].timeout: missing")]
    [TestCase("\"equals\": 136314880, \"timeout\": \"60s\"", "\"equals\": 136314880", "workload.iteration[7].timeout: missing")]
    [TestCase("\"arguments\": { \"id\": \"dimm2\" }", "\"arguments\": { \"id\": \"dimm9\" }",
        "workload.iteration[4].arguments.id: \"dimm9\" is no device or backend (declare it in devices or add it in an earlier step)")]
    [TestCase("{ \"memoryBlocks\": \"dimm2\"", "{ \"memoryBlocks\": \"dimm7\"",
        "workload.iteration[2].memoryBlocks: \"dimm7\" is no device or backend (declare it in devices or add it in an earlier step)")]
    [TestCase("\"waitQom\": \"vm0\"", "\"waitQom\": \"vm1\"",
        "workload.iteration[7].waitQom: \"vm1\" is no device or backend (declare it in devices or add it in an earlier step)")]
    [TestCase("\"waitEvent\": \"DEVICE_DELETED\"", "\"waitEvent\": \"DEVICE_GONE\"",
        "workload.iteration[5].waitEvent: unknown QMP event \"DEVICE_GONE\" (use DEVICE_DELETED, ACPI_DEVICE_OST, MEMORY_DEVICE_SIZE_CHANGE)")]
    [TestCase("\"expect\": \"offline\"", "\"expect\": \"asleep\"",
        "workload.iteration[2].expect: unknown memory block state \"asleep\" (use online, offline, online_movable, online_kernel)")]
    [TestCase("\"timeout\": \"10s\"", "\"timeout\": \"ten\"", "workload.iteration[1].timeout: \"ten\" is not a duration (30s, 2m, 500ms)")]
    [TestCase("\"memory_hotplug.memmap_on_memory=1\"", "\"a b\"",
        "kernelArgs[1]: \"a b\" is not one kernel argument (name or name=value, no spaces or quotes)")]
    [TestCase("\"read\": \"/proc/meminfo\"", "\"read\": \"/etc/passwd\"", "workload.iteration[3].read: \"/etc/passwd\": a file under /proc or /sys")]
    [TestCase("{ \"id\": \"vmem0\", \"size\": \"4G\" }", "{ \"id\": \"vmem0\" }", "devices.backends[1].size: missing")]
    [TestCase("\"requestedSize\": \"0\"", "\"requestedSize\": \"3M\"", "devices.virtioMem[0].requestedSize: 3M is not a multiple of the block size 2M")]
    [TestCase("\"device_del\", \"arguments\": { \"id\": \"dimm2\" }", "\"device_del\"", "workload.iteration[4].arguments.id: missing (device_del needs it)")]
    [TestCase("\"memdev\": \"vmem0\", \"blockSize\"", "\"memdev\": \"vmem9\", \"blockSize\"",
        "devices.virtioMem[0].memdev: \"vmem9\" is not a backend of devices.backends (a device needs its backend)")]
    [TestCase("{ \"id\": \"dimm1\", \"memdev\": \"mem1\" }", "{ \"id\": \"dimm1\" }", "devices.dimms[0].memdev: missing")]
    [TestCase("\"driver\": \"pc-dimm\", \"id\": \"dimm2\", \"memdev\": \"mem2\"", "\"driver\": \"virtio-mem-pci\", \"id\": \"dimm2\"",
        "workload.iteration[1].arguments.memdev: missing (a virtio-mem-pci needs its backend)")]
    [TestCase("\"id\": \"dimm2\", \"memdev\": \"mem2\"", "\"id\": \"dimm2\", \"memdev\": \"mem9\"",
        "workload.iteration[1].arguments.memdev: \"mem9\" is no backend (add it with object-add first)")]
    [TestCase("\"device\": \"dimm2\", \"timeout\": \"30s\"", "\"device\": \"dimm8\", \"timeout\": \"30s\"",
        "workload.iteration[5].device: \"dimm8\" is no device or backend (declare it in devices or add it in an earlier step)")]
    [TestCase("\"path\": \"vm0\", \"property\": \"requested-size\"", "\"path\": \"vm1\", \"property\": \"requested-size\"",
        "workload.iteration[6].arguments.path: \"vm1\" is no device or backend (declare it in devices or add it in an earlier step)")]
    [TestCase("\"device_del\", \"arguments\": { \"id\": \"dimm2\" }", "\"object-del\", \"arguments\": { \"id\": \"mem7\" }",
        "workload.iteration[4].arguments.id: \"mem7\" is no device or backend (declare it in devices or add it in an earlier step)")]
    [TestCase("\"iteration\": [", "\"iteration\": [ { \"memoryBlocks\": \"dimm2\", \"expect\": \"offline\" },",
        "workload.iteration[0].memoryBlocks: \"dimm2\" is no device or backend (declare it in devices or add it in an earlier step)")]
    public void Each_bad_input_in_the_new_fields_is_one_line_naming_the_field(string from, string to, string problem)
    {
        Assert.That(Valid, Does.Contain(from), "the mutation must change the valid case");
        Assert.That(Load(Valid).Name, Is.EqualTo("t"), "the unmutated case is valid");
        var e = Assert.Throws<BadInputException>(() => Load(Valid.Replace(from, to)))!;
        Assert.That(e.Problems.Select(p => p.ToString()), Is.EqualTo(new[] { "cases/t/case.json: " + problem }));
    }
}
