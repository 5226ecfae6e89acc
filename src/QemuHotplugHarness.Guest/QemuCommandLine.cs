using System.Globalization;
using QemuHotplugHarness.Build;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Guest;

public enum Accel { Tcg, Kvm }

/// <summary>The QEMU argument array of a scenario (never a shell string).</summary>
public static class QemuCommandLine
{
    public static IReadOnlyList<string> Build(Scenario s, QemuBuild qemu, string kernel, string initrd, Accel accel,
        int sshPort, string qmpSocket, string appendExtra = "")
    {
        var args = new List<string>();
        foreach (var dir in qemu.FirmwareDirs) args.AddRange(["-L", dir]);
        var m = s.Machine;
        args.AddRange(["-machine", $"{m.Type.ToString().ToLowerInvariant()},nvdimm=on"]);
        args.AddRange(["-accel", accel == Accel.Kvm ? "kvm" : "tcg"]);
        args.AddRange(["-m", $"{m.Ram.Bytes / ByteSize.MiB}M,maxmem={m.MaxMem.Bytes / ByteSize.MiB}M,slots={m.Slots}"]);
        args.AddRange(["-smp", m.Smp.ToString(CultureInfo.InvariantCulture)]);
        var cpu = accel == Accel.Kvm ? "host" : "max";
        args.AddRange(["-cpu", s.Cpu.Pse ? cpu : cpu + ",pse=off"]);
        args.AddRange(["-object", $"memory-backend-ram,id=mem0,size={s.Nvdimm.Size.Bytes / ByteSize.MiB}M"]);
        var addr = s.Nvdimm.Address is { } a ? ",addr=0x" + a.ToString("x", CultureInfo.InvariantCulture) : "";
        args.AddRange(["-device", $"nvdimm,id=nv0,memdev=mem0{addr},label-size={s.Nvdimm.LabelSize.Bytes / ByteSize.KiB}k"]);
        args.AddRange(["-kernel", kernel, "-initrd", initrd]);
        args.AddRange(["-append", ("console=ttyS0 nokaslr panic=-1 " + appendExtra).Trim()]);
        args.AddRange(["-netdev", $"user,id=n0,hostfwd=tcp:127.0.0.1:{sshPort}-:22"]);
        args.AddRange(["-device", "e1000,netdev=n0,romfile="]);
        args.AddRange(["-qmp", $"unix:{qmpSocket},server=on,wait=off"]);
        args.AddRange(["-display", "none", "-nodefaults", "-no-reboot", "-serial", "stdio", "-monitor", "none"]);
        return args;
    }

    /// <summary>A copy-pasteable rendering for qemu-cmdline.txt (quoting is for people; the harness passes the array).</summary>
    public static string Render(string binary, IEnumerable<string> args) =>
        string.Join(" \\\n  ", new[] { binary }.Concat(args.Select(Quote)));

    private static string Quote(string a) => a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_=,.:/+@".Contains(c)) ? a : "'" + a.Replace("'", "'\\''") + "'";
}
