namespace QemuHotplugHarness.Build;

/// <summary>The NIC QEMU gives the guest (its sshd is reached through it): whichever driver the kernel has.</summary>
public enum NicDriver { VirtioNet, E1000 }

/// <summary>A NIC and the drivers it needs, built in or as modules.</summary>
public sealed record NicRequirement(NicDriver Nic, IReadOnlyList<KernelRequirement> Drivers);

/// <summary>
/// One thing the harness needs from a guest kernel: a config option, why, and — for a driver that may be a
/// module — the module that provides it (loaded from the run's initramfs at boot).
/// </summary>
public sealed record KernelRequirement(string Option, string Why, string? Module = null, bool Required = true);

/// <summary>
/// What a guest kernel must have for the scenario (the harness's own kernels get it from images/kernel/hotplug.config),
/// checked against a prebuilt kernel's config file, and the modules to load when drivers are modular.
/// </summary>
public static class KernelRequirements
{
    /// <summary>Options that must be built in (=y).</summary>
    public static IReadOnlyList<KernelRequirement> BuiltIn { get; } =
    [
        new("CONFIG_MEMORY_HOTPLUG", "namespaces are added as hotplugged memory"),
        new("CONFIG_MEMORY_HOTREMOVE", "reconfiguring a namespace removes its memory"),
        new("CONFIG_ZONE_DEVICE", "devdax/fsdax namespaces are ZONE_DEVICE memory"),
        new("CONFIG_SPARSEMEM_VMEMMAP", "the bug is in the vmemmap of a section"),
        new("CONFIG_PROC_KCORE", "the harness reads VMCOREINFO from /proc/kcore"),
        new("CONFIG_NVDIMM_DAX", "devdax namespaces"),
        new("CONFIG_NVDIMM_PFN", "namespaces with a struct page map"),
        new("CONFIG_BLK_DEV_INITRD", "the guest runs from the harness's initramfs"),
        new("CONFIG_RD_GZIP", "the harness's initramfs is gzip-compressed"),
        new("CONFIG_SERIAL_8250_CONSOLE", "the harness reads the console on ttyS0"),
        new("CONFIG_DEVTMPFS", "the guest's init mounts devtmpfs"),
    ];

    /// <summary>Drivers the guest needs, built in or as modules: the NVDIMM stack and the NIC QEMU gives the guest.</summary>
    public static IReadOnlyList<KernelRequirement> Drivers { get; } =
    [
        new("CONFIG_LIBNVDIMM", "the NVDIMM core", "libnvdimm"),
        new("CONFIG_ACPI_NFIT", "QEMU describes the NVDIMM in the ACPI NFIT", "nfit"),
        new("CONFIG_BLK_DEV_PMEM", "pmem namespaces (fsdax)", "nd_pmem"),
        new("CONFIG_ND_BTT", "ndctl probes sector namespaces", "nd_btt", Required: false),
        new("CONFIG_DEV_DAX", "devdax namespaces", "device_dax"),
        new("CONFIG_DEV_DAX_PMEM", "devdax namespaces on pmem", "dax_pmem"),
    ];

    /// <summary>
    /// The NICs the guest can have, in the order they are chosen when a kernel has both: a built-in one before a modular
    /// one; virtio-net before e1000 when built in (e1000's probe alone takes ~0.47 s under TCG), e1000 before virtio-net
    /// when modular (Debian's generic kernels have both as modules: the NIC they were always run with).
    /// </summary>
    public static IReadOnlyList<NicRequirement> Nics { get; } =
    [
        new(NicDriver.VirtioNet,
            [new("CONFIG_VIRTIO_PCI", "virtio-net's PCI transport", "virtio_pci"), new("CONFIG_VIRTIO_NET", "the guest's NIC (SSH)", "virtio_net")]),
        new(NicDriver.E1000, [new("CONFIG_E1000", "the guest's NIC (SSH)", "e1000")]),
    ];

    /// <summary>The modules the guest may load (drivers and every NIC's), in no particular order (dependencies come from the tree).</summary>
    public static IEnumerable<string> DriverModules => Drivers.Concat(Nics.SelectMany(n => n.Drivers)).Select(d => d.Module!);

    /// <summary>
    /// The NIC for a kernel with <paramref name="config"/>: one whose drivers are all built in, else (when modules can be
    /// loaded) one whose drivers are built in or modules; null when the kernel has no NIC driver the harness can use.
    /// </summary>
    public static NicRequirement? ChooseNic(IReadOnlyDictionary<string, string> config, bool modulesUsable)
    {
        bool All(NicRequirement n, params string[] values) => n.Drivers.All(d => values.Contains(config.GetValueOrDefault(d.Option, "n")));
        return Nics.FirstOrDefault(n => All(n, "y"))
            ?? (modulesUsable ? Nics.Reverse().FirstOrDefault(n => All(n, "y", "m")) : null);
    }

    /// <summary>
    /// What a kernel with <paramref name="config"/> lacks, one line per option ("CONFIG_X is not set (needed: why)").
    /// <paramref name="hasModules"/> says whether a modules tree came with it: a modular driver without one is a problem.
    /// </summary>
    public static IReadOnlyList<string> Missing(IReadOnlyDictionary<string, string> config, bool hasModules, bool modulesSupported)
    {
        var problems = new List<string>();
        foreach (var r in BuiltIn)
            if (config.GetValueOrDefault(r.Option, "n") != "y") problems.Add(NotSet(r, config));
        var modular = new List<KernelRequirement>();
        foreach (var r in Drivers)
        {
            var value = config.GetValueOrDefault(r.Option, "n");
            if (value == "y" || value == "n" && !r.Required) continue;
            if (value != "m") problems.Add(NotSet(r, config));
            else if (r.Required) modular.Add(r);
        }
        var nic = ChooseNic(config, modulesUsable: true);
        if (nic is null)
            problems.Add("no NIC driver: neither CONFIG_VIRTIO_NET with CONFIG_VIRTIO_PCI nor CONFIG_E1000 is set (needed: the guest's NIC, SSH)");
        else modular.AddRange(nic.Drivers.Where(d => config.GetValueOrDefault(d.Option, "n") == "m"));
        if (modular.Count > 0 && !modulesSupported)
            problems.Add($"{string.Join(", ", modular.Select(r => r.Option + "=m"))} but CONFIG_MODULES is not set");
        else if (modular.Count > 0 && !hasModules)
            problems.Add($"the guest's drivers are modules ({string.Join(", ", modular.Select(r => r.Option + "=m"))}) and no modules were given");
        return problems;
    }

    /// <summary>The driver modules a kernel with <paramref name="config"/> needs loaded (its =m drivers).</summary>
    public static IReadOnlyList<string> ModularDrivers(IReadOnlyDictionary<string, string> config) =>
        Drivers.Concat(ChooseNic(config, modulesUsable: true)?.Drivers ?? [])
            .Where(d => config.GetValueOrDefault(d.Option, "n") == "m").Select(d => d.Module!).ToList();

    private static string NotSet(KernelRequirement r, IReadOnlyDictionary<string, string> config) =>
        config.TryGetValue(r.Option, out var v) && v != "n" ? $"{r.Option}={v} (needed =y: {r.Why})" : $"{r.Option} is not set (needed: {r.Why})";
}
