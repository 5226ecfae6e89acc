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
        Config is { } path && File.Exists(path) && KernelConfig.Parse(File.ReadAllText(path)) is var options
        && options.GetValueOrDefault("CONFIG_VIRTIO_PCI") == "y" && options.GetValueOrDefault("CONFIG_VIRTIO_NET") == "y";
}
