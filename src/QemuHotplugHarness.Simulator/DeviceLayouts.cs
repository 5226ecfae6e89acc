using System.Text.Json.Nodes;
using QemuHotplugHarness.Scenarios;
using static QemuHotplugHarness.Scenarios.Units;

namespace QemuHotplugHarness.Simulator;

/// <summary>One layout of a case's memory devices: a pc-dimm's address and size, or a virtio-mem's block-size and requested-size.</summary>
public sealed record DeviceLayout(ulong? DimmOffset, ulong DimmSize, ulong BlockSize, ulong Requested)
{
    /// <summary>"dimm +64M 1G", "virtio-mem block 2M requested 132M": for sweeps, draws and their features.</summary>
    public string Label { get; init; } = "";
}

/// <summary>
/// The layout space of a case's own memory devices, read from its scenario (no case is known by name): for the first
/// pc-dimm (cold-plugged, or added by a device_add step) its address moved past the case's own (or left to QEMU) and its
/// backend's size; for the first virtio-mem device its block-size and the requested-size its qom-set step asks (the
/// size its wait expects follows). A scenario without memory devices has none.
/// </summary>
public static class DeviceLayouts
{
    private static readonly (ulong? Offset, ulong Size)[] Dimms =
        [(0, GiB), (64 * MiB, GiB), (128 * MiB, 128 * MiB), (null, GiB), (0, 192 * MiB), (GiB, 256 * MiB)];

    private static readonly (ulong Block, ulong Requested)[] VirtioMems =
        [(2 * MiB, 132 * MiB), (2 * MiB, 128 * MiB), (2 * MiB, 4 * MiB), (2 * MiB, 130 * MiB), (128 * MiB, 256 * MiB), (4 * MiB, 260 * MiB)];

    public static IReadOnlyList<DeviceLayout> Of(Scenario s)
    {
        if (HasDimm(s))
            return Dimms.Select(d => new DeviceLayout(d.Offset, d.Size, 0, 0) { Label = $"dimm {(d.Offset is { } o ? "+" + new ByteSize(o) : "auto")} {new ByteSize(d.Size)}" }).ToList();
        if (s.Devices.VirtioMem.Count > 0)
            return VirtioMems.Select(v => new DeviceLayout(0, 0, v.Block, v.Requested) { Label = $"virtio-mem block {new ByteSize(v.Block)} requested {new ByteSize(v.Requested)}" }).ToList();
        return [];
    }

    /// <summary>What the scenario's first memory device is laid out as ("dimm 0x380000000 1G", "virtio-mem block 2M requested 132M"); null without one.</summary>
    public static string? Describe(Scenario s)
    {
        if (s.Devices.Dimms.FirstOrDefault() is { } cold)
            return $"dimm {(cold.Address is { } a ? Scenarios.Hex.Format(a) : "auto")} {s.Devices.Backends.First(b => b.Id == cold.Memdev).Size}";
        if ((s.Workload.IterationHosts ?? []).FirstOrDefault(IsDimmAdd) is { } add)
        {
            var memdev = Args(add)["memdev"]?.GetValue<string>();
            var size = (s.Workload.IterationHosts ?? []).Where(h => h is { Kind: HostStepKind.Qmp, Command: QmpCommand.ObjectAdd } && Args(h)["id"]?.GetValue<string>() == memdev)
                .Select(h => Args(h!)["size"]?.GetValue<ulong>()).FirstOrDefault();
            return $"dimm {(Args(add)["addr"]?.GetValue<ulong>() is { } a ? Scenarios.Hex.Format(a) : "auto")} {(size is { } b ? new ByteSize(b).ToString() : "?")}";
        }
        if (s.Devices.VirtioMem.FirstOrDefault() is { } vm)
        {
            var requested = (s.Workload.IterationHosts ?? []).Where(h => h is { Kind: HostStepKind.Qmp, Command: QmpCommand.QomSet } && Args(h)["path"]?.GetValue<string>() == vm.Id)
                .Select(h => Args(h!)["value"]?.GetValue<ulong>()).FirstOrDefault();
            return $"virtio-mem block {vm.BlockSize} requested {(requested is { } r ? new ByteSize(r) : vm.RequestedSize)}";
        }
        return null;
    }

    /// <summary>The scenario with its first pc-dimm or virtio-mem device laid out as <paramref name="layout"/>.</summary>
    public static Scenario Apply(Scenario s, DeviceLayout layout) => HasDimm(s) ? WithDimm(s, layout) : WithVirtioMem(s, layout);

    private static bool HasDimm(Scenario s) =>
        s.Devices.Dimms.Count > 0 || (s.Workload.IterationHosts ?? []).Any(h => IsDimmAdd(h));

    private static bool IsDimmAdd(HostStep? h) =>
        h is { Kind: HostStepKind.Qmp, Command: QmpCommand.DeviceAdd } && Args(h)["driver"]?.GetValue<string>() == "pc-dimm";

    /// <summary>The address the case gives its first pc-dimm (null: none given).</summary>
    private static ulong? DimmAddress(Scenario s) =>
        s.Devices.Dimms.FirstOrDefault()?.Address ?? (s.Workload.IterationHosts ?? []).Where(IsDimmAdd).Select(h => Args(h!)["addr"]?.GetValue<ulong>()).FirstOrDefault();

    private static Scenario WithDimm(Scenario s, DeviceLayout l)
    {
        ulong? address = l.DimmOffset is { } o && DimmAddress(s) is { } a ? a + o : null;
        if (s.Devices.Dimms.FirstOrDefault() is { } cold)
        {
            var dimms = s.Devices.Dimms.Select((d, i) => i == 0 ? d with { Address = address } : d).ToList();
            var backends = s.Devices.Backends.Select(b => b.Id == cold.Memdev ? b with { Size = new ByteSize(l.DimmSize) } : b).ToList();
            return s with { Devices = s.Devices with { Dimms = dimms, Backends = backends } };
        }
        var add = (s.Workload.IterationHosts ?? []).First(IsDimmAdd)!;
        var memdev = Args(add)["memdev"]?.GetValue<string>();
        return WithHosts(s, h =>
            h == add ? WithArgs(h, a => { if (address is { } at) a["addr"] = at; else a.Remove("addr"); })
            : h is { Kind: HostStepKind.Qmp, Command: QmpCommand.ObjectAdd } && Args(h)["id"]?.GetValue<string>() == memdev ? WithArgs(h, a => a["size"] = l.DimmSize)
            : h);
    }

    private static Scenario WithVirtioMem(Scenario s, DeviceLayout l)
    {
        var vm = s.Devices.VirtioMem[0];
        var devices = s.Devices with { VirtioMem = s.Devices.VirtioMem.Select((v, i) => i == 0 ? v with { BlockSize = new ByteSize(l.BlockSize) } : v).ToList() };
        return WithHosts(s with { Devices = devices }, h =>
            h is { Kind: HostStepKind.Qmp, Command: QmpCommand.QomSet } && Args(h)["path"]?.GetValue<string>() == vm.Id ? WithArgs(h, a => a["value"] = l.Requested)
            : h is { Kind: HostStepKind.WaitQom, Property: "size" } && h.Path == vm.Id ? h with { Value = l.Requested.ToString(System.Globalization.CultureInfo.InvariantCulture) }
            : h);
    }

    /// <summary>Every host step mapped, the iteration's argument arrays (their rendering) following.</summary>
    private static Scenario WithHosts(Scenario s, Func<HostStep, HostStep> map)
    {
        var hosts = (s.Workload.IterationHosts ?? []).Select(h => h is null ? null : map(h)).ToList();
        var argv = s.Workload.Iteration!.Select((a, j) => j < hosts.Count && hosts[j] is { } h ? h.Describe() : a).ToList();
        return s with { Workload = s.Workload with { IterationHosts = hosts, Iteration = argv } };
    }

    private static JsonObject Args(HostStep h) => JsonNode.Parse(h.Arguments ?? "{}")!.AsObject();

    private static HostStep WithArgs(HostStep h, Action<JsonObject> change)
    {
        var args = Args(h);
        change(args);
        return h with { Arguments = args.ToJsonString() };
    }
}
