namespace QemuHotplugHarness.Build;

public sealed partial record KernelBuild
{
    /// <summary>The modules the guest loads at boot (a prebuilt kernel with modular drivers); null when all is built in.</summary>
    public GuestModules? Modules { get; init; }

    /// <summary>The kernel's config file when known (a package's config-RELEASE, one beside the image); null = unknown.</summary>
    public string? Config { get; init; }

    /// <summary>Registered by the user (an image or a package), not built by the harness.</summary>
    public bool IsPrebuilt { get; init; }
}
