namespace QemuHotplugHarness.Build;

public sealed partial record KernelBuild
{
    /// <summary>The modules the guest loads at boot (a prebuilt kernel with modular drivers); null when all is built in.</summary>
    public GuestModules? Modules { get; init; }

    /// <summary>The kernel's config file when known (a package's config-RELEASE, one beside the image); null = unknown.</summary>
    public string? Config { get; init; }

    /// <summary>The kernel line the build belongs to (kernel-lines/NAME.json); null for a prebuilt kernel.</summary>
    public string? Line { get; init; }

    /// <summary>Registered by the user (an image or a package), not built by the harness.</summary>
    public bool IsPrebuilt { get; init; }

    /// <summary>
    /// The NIC the guest gets: the one the kernel has a driver for (<see cref="KernelRequirements.ChooseNic"/>; the
    /// harness's own builds have virtio-net built in). Without a config: virtio-net when its module is all the packed
    /// modules give, e1000 otherwise.
    /// </summary>
    public NicDriver Nic()
    {
        if (ConfigOptions() is { } options)
            return KernelRequirements.ChooseNic(options, modulesUsable: Modules is not null)?.Nic ?? NicDriver.E1000;
        var loaded = Modules?.LoadOrder ?? [];
        return loaded.Contains("virtio_net") && !loaded.Contains("e1000") ? NicDriver.VirtioNet : NicDriver.E1000;
    }

    /// <summary>
    /// What QEMU boots with <c>-kernel</c>: the harness's own vmlinux through its PVH entry when its config has
    /// <c>CONFIG_PVH=y</c> (the fragment sets it), which under TCG skips the bzImage's decompression and real-mode
    /// setup; the bzImage otherwise (a registered image or package, a build without PVH).
    /// </summary>
    public string BootImage() =>
        !IsPrebuilt && Vmlinux is { } vmlinux && File.Exists(vmlinux) && ConfigOptions()?.GetValueOrDefault("CONFIG_PVH") == "y" ? vmlinux : BzImage;

    /// <summary>The kernel's options (CONFIG_X → value) when its config is known; null otherwise.</summary>
    public Dictionary<string, string>? ConfigOptions() =>
        Config is { } path && File.Exists(path) ? KernelConfig.Parse(File.ReadAllText(path)) : null;
}
