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

    public QemuArguments Firmware(IEnumerable<string> dirs)
    {
        foreach (var dir in dirs) Add("-L", dir);
        return this;
    }

    public QemuArguments Machine(MachineType type, bool nvdimm) =>
        Add("-machine", type.ToString().ToLowerInvariant() + (nvdimm ? ",nvdimm=on" : ""));

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

    public QemuArguments Nvdimm(NvdimmSpec nv)
    {
        Add("-object", $"memory-backend-ram,id=mem0,size={Mib(nv.Size)}M");
        var addr = nv.Address is { } a ? ",addr=" + Hex.Format(a) : "";
        return Add("-device", $"nvdimm,id=nv0,memdev=mem0{addr},label-size={nv.LabelSize.Bytes / ByteSize.KiB}k");
    }

    public QemuArguments Kernel(string image, string initrd, string append) =>
        Add("-kernel", image).Add("-initrd", initrd).Add("-append", append);

    /// <summary>User networking with the guest's sshd forwarded to 127.0.0.1 only, and an e1000 NIC.</summary>
    public QemuArguments UserNetWithSsh(int hostPort) =>
        Add("-netdev", $"user,id=n0,hostfwd=tcp:127.0.0.1:{hostPort.ToString(CultureInfo.InvariantCulture)}-:22")
            .Add("-device", "e1000,netdev=n0,romfile=");

    public QemuArguments Qmp(string unixSocket) => Add("-qmp", $"unix:{unixSocket},server=on,wait=off");

    /// <summary>No display, no default devices, no reboot on panic, the serial console on stdio.</summary>
    public QemuArguments HeadlessSerialConsole() =>
        Add("-display", "none").Add("-nodefaults").Add("-no-reboot").Add("-serial", "stdio").Add("-monitor", "none");

    public IReadOnlyList<string> Build() => _args.ToList();

    /// <summary>A copy-pasteable rendering for qemu-cmdline.txt (quoting is for people; the harness passes the array).</summary>
    public static string Render(string binary, IEnumerable<string> args) =>
        string.Join(" \\\n  ", new[] { binary }.Concat(args.Select(Quote)));

    private QemuArguments Add(params string[] parts)
    {
        _args.AddRange(parts);
        return this;
    }

    private static string Mib(ByteSize size) => (size.Bytes / ByteSize.MiB).ToString(CultureInfo.InvariantCulture);

    private static string Quote(string a) =>
        a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_=,.:/+@".Contains(c)) ? a : "'" + a.Replace("'", "'\\''") + "'";
}
