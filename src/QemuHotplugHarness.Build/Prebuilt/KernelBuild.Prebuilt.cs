namespace QemuHotplugHarness.Build;

public sealed partial record KernelBuild
{
    /// <summary>The modules the guest loads at boot (a prebuilt kernel with modular drivers); null when all is built in.</summary>
    public GuestModules? Modules { get; init; }

    /// <summary>The kernel's config file when known (a package's config-RELEASE, one beside the image); null = unknown.</summary>
    public string? Config { get; init; }

    /// <summary>Registered by the user (an image or a package), not built by the harness.</summary>
    public bool IsPrebuilt { get; init; }

    /// <summary>
    /// Whether the kernel has a virtio-net NIC driver built in (<c>CONFIG_VIRTIO_PCI=y</c> and <c>CONFIG_VIRTIO_NET=y</c>
    /// in its config): the harness's own builds do. A kernel without it, or with an unknown config, gets e1000.
    /// </summary>
    public bool HasBuiltInVirtioNet() =>
        ConfigOptions() is { } options
        && options.GetValueOrDefault("CONFIG_VIRTIO_PCI") == "y" && options.GetValueOrDefault("CONFIG_VIRTIO_NET") == "y";

    /// <summary>
    /// What QEMU boots with <c>-kernel</c>: the harness's own vmlinux through its PVH entry when its config has
    /// <c>CONFIG_PVH=y</c> (the fragment sets it), which under TCG skips the bzImage's decompression and real-mode
    /// setup; the bzImage otherwise (a registered image or package, a build without PVH).
    /// </summary>
    public string BootImage() =>
        !IsPrebuilt && Vmlinux is { } vmlinux && File.Exists(vmlinux) && ConfigOptions()?.GetValueOrDefault("CONFIG_PVH") == "y" ? vmlinux : BzImage;

    private Dictionary<string, string>? ConfigOptions() =>
        Config is { } path && File.Exists(path) ? KernelConfig.Parse(File.ReadAllText(path)) : null;
}
