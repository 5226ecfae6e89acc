using System.Text.Json.Serialization;

namespace QemuHotplugHarness.Scenarios;

/// <summary>A RAM backend for a pc-dimm or a virtio-mem device: <c>-object memory-backend-ram,id=ID,size=SIZE</c>.</summary>
public sealed record MemoryBackendSpec(string Id, ByteSize Size);

/// <summary>A cold-plugged ACPI DIMM: <c>-device pc-dimm,id=ID,memdev=BACKEND[,addr=ADDR][,node=N]</c>.</summary>
public sealed record PcDimmSpec(string Id, string Memdev)
{
    [JsonConverter(typeof(AddressJsonConverter))]
    public ulong? Address { get; init; }
    public int? Node { get; init; }
}

/// <summary>A virtio-mem device: <c>-device virtio-mem-pci,id=ID,memdev=BACKEND,node=N,block-size=B,requested-size=R</c>.</summary>
public sealed record VirtioMemSpec(string Id, string Memdev, ByteSize BlockSize, ByteSize RequestedSize, int Node);

/// <summary>
/// The memory devices a scenario boots with beside the NVDIMM: RAM backends, pc-dimms and virtio-mem devices. Part of
/// the QEMU command line, so of every snapshot's key.
/// </summary>
public sealed record MemoryDeviceSet
{
    public IReadOnlyList<MemoryBackendSpec> Backends { get; init; } = [];
    public IReadOnlyList<PcDimmSpec> Dimms { get; init; } = [];
    public IReadOnlyList<VirtioMemSpec> VirtioMem { get; init; } = [];

    public static MemoryDeviceSet None { get; } = new();

    [JsonIgnore]
    public bool IsEmpty => Backends.Count == 0 && Dimms.Count == 0 && VirtioMem.Count == 0;

    /// <summary>The ids QMP knows at boot: backends and devices (the NVDIMM's are the harness's own).</summary>
    public IEnumerable<string> Ids() => Backends.Select(b => b.Id).Concat(Dimms.Select(d => d.Id)).Concat(VirtioMem.Select(v => v.Id));

    /// <summary>"pc-dimm dimm1 (mem1, 1G, at 0x380000000); virtio-mem vm0 (vmem0, 4G, block 2M, requested 0, node 0)".</summary>
    public string Describe()
    {
        string Size(string memdev) => Backends.FirstOrDefault(b => b.Id == memdev)?.Size.ToString() ?? "?";
        return string.Join("; ", Dimms.Select(d => $"pc-dimm {d.Id} ({d.Memdev}, {Size(d.Memdev)}{(d.Address is { } a ? ", at " + Hex.Format(a) : "")}{(d.Node is { } n ? $", node {n}" : "")})")
            .Concat(VirtioMem.Select(v => $"virtio-mem {v.Id} ({v.Memdev}, {Size(v.Memdev)}, block {v.BlockSize}, requested {v.RequestedSize}, node {v.Node})"))
            .Concat(Backends.Where(b => !Dimms.Any(d => d.Memdev == b.Id) && !VirtioMem.Any(v => v.Memdev == b.Id)).Select(b => $"backend {b.Id} ({b.Size})")));
    }

    public bool Equals(MemoryDeviceSet? other) =>
        other is not null && Backends.SequenceEqual(other.Backends) && Dimms.SequenceEqual(other.Dimms) && VirtioMem.SequenceEqual(other.VirtioMem);

    public override int GetHashCode() => HashCode.Combine(Backends.Count, Dimms.Count, VirtioMem.Count);
}
