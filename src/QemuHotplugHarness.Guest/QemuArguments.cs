using System.Globalization;
using QemuHotplugHarness.Scenarios;
using AccelMode = QemuHotplugHarness.Guest.Accel;

namespace QemuHotplugHarness.Guest;

/// <summary>
/// Builds QEMU's argument array (never a shell string), CliWrap-style: each call adds one option. Every QEMU
/// the harness starts (guests and the KVM probe) is described with this builder.
/// </summary>
public sealed class QemuArguments
{
    private readonly List<string> _args = [];

    /// <summary>The id of the harness's NVDIMM (its backend is mem0).</summary>
    public const string NvdimmId = "nv0";

    public QemuArguments Firmware(IEnumerable<string> dirs)
    {
        foreach (var dir in dirs) Add("-L", dir);
        return this;
    }

    /// <summary>The firmware image (<c>-bios</c>, found on the <see cref="Firmware"/> path); null keeps QEMU's SeaBIOS.</summary>
    public QemuArguments Bios(string? image) => image is null ? this : Add("-bios", image);

    public QemuArguments Machine(MachineType type, bool nvdimm, GuestMemoryFiles? files = null) =>
        Add("-machine", type.ToString().ToLowerInvariant() + (nvdimm ? ",nvdimm=on" : "") + (files is null ? "" : ",memory-backend=ram0"));

    /// <summary>Guest RAM in a file (a snapshot's): <c>share=on</c> while a snapshot is made, <c>share=off</c> (private copy-on-write) when restored.</summary>
    public QemuArguments RamFile(GuestMemoryFiles? files, ByteSize ram) =>
        files is null ? this : Add("-object", $"memory-backend-file,id=ram0,size={Mib(ram)}M,mem-path={Escape(files.Ram)},share={OnOff(files.Shared)}");

    public QemuArguments Accel(Accel accel) => Add("-accel", accel == AccelMode.Kvm ? "kvm" : "tcg");

    public QemuArguments Memory(MachineSpec m) =>
        Add("-m", $"{Mib(m.Ram)}M,maxmem={Mib(m.MaxMem)}M,slots={m.Slots.ToString(CultureInfo.InvariantCulture)}");

    public QemuArguments Memory(ByteSize ram) => Add("-m", $"{Mib(ram)}M");

    public QemuArguments Smp(int cpus) => Add("-smp", cpus.ToString(CultureInfo.InvariantCulture));

    /// <summary><c>host</c> under KVM, <c>max</c> under TCG; <c>pse=off</c> makes the guest map vmemmap with 4 KiB pages.</summary>
    public QemuArguments Cpu(Accel accel, bool pse)
    {
        var model = accel == AccelMode.Kvm ? "host" : "max";
        return Add("-cpu", pse ? model : model + ",pse=off");
    }

    /// <summary>
    /// The NVDIMM on anonymous memory, or in a file. QEMU aligns the NVDIMM's size below its label area down to the
    /// backend's alignment (2 MiB for anonymous memory, the page size for a file): <c>align=2M</c> keeps a file-backed
    /// NVDIMM the same size, so a snapshot's guest is the machine a cold boot makes.
    /// </summary>
    public QemuArguments Nvdimm(NvdimmSpec nv, GuestMemoryFiles? files = null)
    {
        Add("-object", files is null
            ? $"memory-backend-ram,id=mem0,size={Mib(nv.Size)}M"
            : $"memory-backend-file,id=mem0,size={Mib(nv.Size)}M,mem-path={Escape(files.Nvdimm)},share={OnOff(files.Shared)},align=2M");
        var addr = nv.Address is { } a ? ",addr=" + Hex.Format(a) : "";
        return Add("-device", $"nvdimm,id={NvdimmId},memdev=mem0{addr},label-size={nv.LabelSize.Bytes / ByteSize.KiB}k");
    }

    /// <summary>The scenario's RAM backends, pc-dimms and virtio-mem devices, after the NVDIMM (whose slot comes first).</summary>
    public QemuArguments MemoryDevices(MemoryDeviceSet devices)
    {
        foreach (var b in devices.Backends) Add("-object", $"memory-backend-ram,id={b.Id},size={Mib(b.Size)}M");
        foreach (var d in devices.Dimms)
            Add("-device", $"pc-dimm,id={d.Id},memdev={d.Memdev}" + (d.Address is { } a ? ",addr=" + Hex.Format(a) : "") +
                (d.Node is { } n ? ",node=" + n.ToString(CultureInfo.InvariantCulture) : ""));
        foreach (var v in devices.VirtioMem)
            Add("-device", $"virtio-mem-pci,id={v.Id},memdev={v.Memdev},node={v.Node.ToString(CultureInfo.InvariantCulture)}," +
                $"block-size={Mib(v.BlockSize)}M,requested-size={Mib(v.RequestedSize)}M");
        return this;
    }

    public QemuArguments Kernel(string image, string initrd, string append) =>
        Add("-kernel", image).Add("-initrd", initrd).Add("-append", append);

    /// <summary>User networking with the guest's sshd forwarded to 127.0.0.1 only, on the given NIC.</summary>
    public QemuArguments UserNetWithSsh(int hostPort, GuestNic nic) =>
        Add("-netdev", $"user,id=n0,hostfwd=tcp:127.0.0.1:{hostPort.ToString(CultureInfo.InvariantCulture)}-:22")
            .Add("-device", nic switch
            {
                GuestNic.VirtioNet => "virtio-net-pci,netdev=n0,romfile=",
                _ => "e1000,netdev=n0,romfile=,autonegotiation=off", // carrier up at once, not after the driver's 2 s watchdog
            });

    public QemuArguments Qmp(string unixSocket) => Add("-qmp", $"unix:{unixSocket},server=on,wait=off");

    /// <summary>No display, no default devices, no reboot on panic, the serial console on stdio.</summary>
    public QemuArguments HeadlessSerialConsole() =>
        Add("-display", "none").Add("-nodefaults").Add("-no-reboot").Add("-serial", "stdio").Add("-monitor", "none");

    /// <summary>
    /// A second serial port (the guest's ttyS1) on a unix socket: the channel the run's key reaches the guest by.
    /// Comes after <see cref="HeadlessSerialConsole"/>, whose console is ttyS0.
    /// </summary>
    public QemuArguments KeyPort(string unixSocket) =>
        Add("-chardev", $"socket,id=keys,path={Escape(unixSocket)},server=on,wait=off").Add("-serial", "chardev:keys");

    /// <summary>Waits for a saved state (QMP migrate-incoming) instead of booting.</summary>
    public QemuArguments Incoming() => Add("-incoming", "defer");

    public IReadOnlyList<string> Build() => _args.ToList();

    /// <summary>A copy-pasteable rendering for qemu-cmdline.txt (quoting is for people; the harness passes the array).</summary>
    public static string Render(string binary, IEnumerable<string> args) =>
        string.Join(" \\\n  ", new[] { binary }.Concat(args.Select(Quote)));

    private QemuArguments Add(params string[] parts)
    {
        _args.AddRange(parts);
        return this;
    }

    private static string OnOff(bool on) => on ? "on" : "off";

    /// <summary>A path inside a QEMU option list: a comma is doubled.</summary>
    private static string Escape(string path) => path.Replace(",", ",,");

    private static string Mib(ByteSize size) => (size.Bytes / ByteSize.MiB).ToString(CultureInfo.InvariantCulture);

    private static string Quote(string a) =>
        a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_=,.:/+@".Contains(c)) ? a : "'" + a.Replace("'", "'\\''") + "'";
}
