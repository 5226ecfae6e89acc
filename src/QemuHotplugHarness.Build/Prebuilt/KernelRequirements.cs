namespace QemuHotplugHarness.Build;

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
        new("CONFIG_E1000", "the guest's NIC (SSH)", "e1000"),
    ];

    /// <summary>The modules the guest loads when drivers are modular, in no particular order (dependencies come from the tree).</summary>
    public static IEnumerable<string> DriverModules => Drivers.Select(d => d.Module!);

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
        if (modular.Count > 0 && !modulesSupported)
            problems.Add($"{string.Join(", ", modular.Select(r => r.Option + "=m"))} but CONFIG_MODULES is not set");
        else if (modular.Count > 0 && !hasModules)
            problems.Add($"the guest's drivers are modules ({string.Join(", ", modular.Select(r => r.Option + "=m"))}) and no modules were given");
        return problems;
    }

    /// <summary>The driver modules a kernel with <paramref name="config"/> needs loaded (its =m drivers).</summary>
    public static IReadOnlyList<string> ModularDrivers(IReadOnlyDictionary<string, string> config) =>
        Drivers.Where(d => config.GetValueOrDefault(d.Option, "n") == "m").Select(d => d.Module!).ToList();

    private static string NotSet(KernelRequirement r, IReadOnlyDictionary<string, string> config) =>
        config.TryGetValue(r.Option, out var v) && v != "n" ? $"{r.Option}={v} (needed =y: {r.Why})" : $"{r.Option} is not set (needed: {r.Why})";
}
