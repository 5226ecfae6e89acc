using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Guest;

/// <summary>Writes the run's initrd (the image; no key: the run's key reaches the guest through its key port).</summary>
public delegate void RunInitrdWriter(string outputPath);

/// <summary>Guest RAM and NVDIMM in files: shared while a snapshot is made, private (copy-on-write) when restored.</summary>
public sealed record GuestMemoryFiles(string Ram, string Nvdimm, bool Shared);

/// <summary>What one started QEMU is wired to: its run initrd, SSH port, QMP and key sockets, memory files, and whether it loads a saved state.</summary>
public sealed record GuestWiring(string Initrd, int SshPort, string QmpSocket, string KeySocket, GuestMemoryFiles? Memory = null, bool Incoming = false)
{
    /// <summary>Placeholders for everything that differs between runs: the arguments of a guest, as a snapshot's key sees them.</summary>
    public static GuestWiring Placeholders { get; } = new("{initrd}", 0, "{qmp}", "{keys}", new GuestMemoryFiles("{ram}", "{nvdimm}", Shared: false));
}

/// <summary>
/// Everything one guest is started from; immutable. Made with <see cref="GuestBuilder"/> (Testcontainers-style:
/// a builder produces the configuration, <see cref="QemuGuest.StartAsync"/> makes the one owner of what it starts).
/// </summary>
public sealed record GuestConfiguration
{
    public required string QemuBinary { get; init; }
    public IReadOnlyList<string> FirmwareDirs { get; init; } = [];
    /// <summary>
    /// qboot (Debian's qemu-system-data ships it) for the pc machine when it is on the firmware path: it boots
    /// -kernel with the same ACPI tables (NFIT included) about 0.25 s sooner than SeaBIOS under TCG. Null, or a q35
    /// machine: SeaBIOS.
    /// </summary>
    public string? FastFirmware { get; init; }
    /// <summary>
    /// The guest's NIC. virtio-net when the kernel has it built in: under TCG e1000's probe alone takes ~0.47 s
    /// (bit-banged EEPROM reads), and a virtio-net guest reached its ready marker ~0.3 s sooner (median of 6 each).
    /// e1000 for every other kernel (Debian's, whose modular e1000 the harness loads; a user's image).
    /// </summary>
    public GuestNic Nic { get; init; } = GuestNic.E1000;
    public required string KernelImage { get; init; }
    public required RunInitrdWriter WriteInitrd { get; init; }
    /// <summary>The image's public host key line ("ssh-ed25519 AAAA… comment"): the only key SSH accepts.</summary>
    public required string PinnedHostKey { get; init; }
    public required Scenario Scenario { get; init; }
    public Accel Accel { get; init; } = Accel.Tcg;
    /// <summary>
    /// random.trust_cpu=on: the emulated CPU's RDRAND seeds the crng at once, so sshd and ndctl never wait for entropy.
    /// no_timer_check: on a busy host a TCG guest's IRQ0 ticks too late for check_timer(), which then panics at boot
    /// ("IO-APIC + timer doesn't work!"): a fault of the host's load, not of the kernel under test.
    /// loglevel=5: while booting, only warnings and worse reach the console (an oops, its registers and stack
    /// included); each info line costs time on the emulated UART. The guest's init sets the console back to level 7
    /// before anything runs, and dmesg.txt keeps the whole boot log.
    /// </summary>
    public string KernelAppend { get; init; } = "console=ttyS0 nokaslr panic=-1 random.trust_cpu=on no_timer_check loglevel=5";
    /// <summary>Where the serial console is streamed as it arrives.</summary>
    public required string ConsoleLog { get; init; }
    /// <summary>Host port for the guest's sshd on 127.0.0.1; null = a free one.</summary>
    public int? SshPort { get; init; }
    public GuestTimeouts Timeouts { get; init; } = new();
    /// <summary>The console line the guest's init prints when sshd is started.</summary>
    public string ReadyMarker { get; init; } = "QHH-READY";
    /// <summary>Guest memory in these files (a snapshot being made); null = anonymous memory.</summary>
    public GuestMemoryFiles? MemoryFiles { get; init; }
    /// <summary>The cache keys of the QEMU, kernel and image builds: part of every snapshot's key.</summary>
    public string InputsKey { get; init; } = "";

    /// <summary>The QEMU arguments of this guest, given what this QEMU is wired to.</summary>
    public IReadOnlyList<string> Arguments(GuestWiring w)
    {
        var s = Scenario;
        var args = new QemuArguments()
            .Firmware(FirmwareDirs)
            .Bios(s.Machine.Type == MachineType.Pc ? FastFirmware : null)
            .Machine(s.Machine.Type, nvdimm: true, w.Memory)
            .Accel(Accel)
            .Memory(s.Machine)
            .RamFile(w.Memory, s.Machine.Ram)
            .Smp(s.Machine.Smp)
            .Cpu(Accel, s.Cpu.Pse)
            .Nvdimm(s.Nvdimm, w.Memory)
            .MemoryDevices(s.Devices)
            .Kernel(KernelImage, w.Initrd, s.KernelArgs is { } extra ? $"{KernelAppend} {extra}" : KernelAppend)
            .UserNetWithSsh(w.SshPort, Nic)
            .Qmp(w.QmpSocket)
            .HeadlessSerialConsole()
            .KeyPort(w.KeySocket);
        return (w.Incoming ? args.Incoming() : args).Build();
    }
}

/// <summary>Builds a <see cref="GuestConfiguration"/> with immutable <c>With…</c> copies.</summary>
public sealed record GuestBuilder(GuestConfiguration Configuration)
{
    public static GuestBuilder For(Scenario scenario, string qemuBinary, string kernelImage, string pinnedHostKey, RunInitrdWriter writeInitrd) =>
        new(new GuestConfiguration
        {
            Scenario = scenario, QemuBinary = qemuBinary, KernelImage = kernelImage, PinnedHostKey = pinnedHostKey,
            WriteInitrd = writeInitrd, ConsoleLog = Path.Combine(Path.GetTempPath(), "qhh-console.log"),
        });

    public GuestBuilder WithFirmware(IReadOnlyList<string> dirs) => new(Configuration with { FirmwareDirs = dirs });
    public GuestBuilder WithFastFirmware(string? image) => new(Configuration with { FastFirmware = image });
    public GuestBuilder WithNic(GuestNic nic) => new(Configuration with { Nic = nic });
    public GuestBuilder WithAccel(Accel accel) => new(Configuration with { Accel = accel });
    public GuestBuilder WithConsoleLog(string path) => new(Configuration with { ConsoleLog = path });
    public GuestBuilder WithSshPort(int? port) => new(Configuration with { SshPort = port });
    public GuestBuilder WithTimeouts(GuestTimeouts timeouts) => new(Configuration with { Timeouts = timeouts });
    public GuestBuilder WithKernelAppend(string append) => new(Configuration with { KernelAppend = append });
    public GuestBuilder WithInputsKey(string key) => new(Configuration with { InputsKey = key });

    public GuestConfiguration Build() => Configuration;
}
