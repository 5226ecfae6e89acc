using System.Diagnostics;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

/// <summary>A QEMU to run guests with: the binary and its firmware search path (-L, in order).</summary>
public sealed record QemuBuild(QemuFlavour Flavour, string Binary, IReadOnlyList<string> FirmwareDirs, string Source, string Key)
{
    /// <summary>The qboot firmware image when it is on <see cref="FirmwareDirs"/> (its name: QEMU looks it up there).</summary>
    public string? FastFirmware => FirmwareDirs.Any(d => File.Exists(Path.Combine(d, QemuBuilder.Qboot))) ? QemuBuilder.Qboot : null;
}

/// <summary>Builds Debian's QEMU source package (or a user's tree) with qemu-patches/ applied; the stock one is Debian's package.</summary>
public sealed class QemuBuilder(BuildContext ctx)
{
    /// <summary>
    /// One target, TCG and KVM, slirp; no tools, docs, firmware blobs or debug info (the build's largest costs after
    /// the TCG core itself). Devices: only <see cref="Devices"/>, when the tree has configs/devices (QEMU 6.0 on).
    /// </summary>
    public static readonly string[] ConfigureFlags =
    [
        "--target-list=x86_64-softmmu", "--without-default-features", "--enable-kvm", "--enable-slirp", "--enable-tcg",
        "--enable-fdt=system", "--disable-tools", "--disable-docs", "--disable-install-blobs", "--with-git-submodules=ignore",
        "--disable-debug-info", "--meson=/usr/bin/meson",
    ];

    /// <summary>
    /// The device set written to configs/devices/x86_64-softmmu/qhh.mak and built with --without-default-devices:
    /// the pc and q35 machines (which select their chipsets, the ISA serial port and ACPI), the NVDIMM, the e1000
    /// and virtio-net NICs, and virtio-serial for a host↔guest channel. -nodefaults keeps QEMU from asking for anything else.
    /// </summary>
    public static readonly string[] Devices =
    [
        "CONFIG_I440FX=y", "CONFIG_Q35=y", "CONFIG_NVDIMM=y", "CONFIG_E1000_PCI=y", "CONFIG_VIRTIO_PCI=y", "CONFIG_VIRTIO_NET=y", "CONFIG_VIRTIO_SERIAL=y",
    ];

    private const string DeviceConfigName = "qhh";

    /// <summary>Firmware from Debian's qemu-system-data and seabios packages; NIC option ROMs are disabled with romfile=.</summary>
    public static readonly string[] FirmwareDirs = ["/usr/share/qemu", "/usr/share/seabios"];

    /// <summary>qboot, a minimal firmware for -kernel boots (qemu-system-data); guests on the pc machine use it when present.</summary>
    public const string Qboot = "qboot.rom";

    public Task<QemuBuild> GetAsync(QemuFlavour flavour, string? userSource, CancellationToken ct) =>
        flavour == QemuFlavour.Stock ? StockAsync(ct) : PatchedAsync(userSource, ct);

    private async Task<QemuBuild> StockAsync(CancellationToken ct)
    {
        var version = await DebianPackages.RequireInstalledAsync(ctx.Runner("qemu"), "qemu-system-x86", ct);
        return new QemuBuild(QemuFlavour.Stock, "/usr/bin/qemu-system-x86_64", FirmwareDirs, $"debian qemu-system-x86 {version}", "debian-" + version);
    }

    private QemuBuild? Cached(string key, string sourceId)
    {
        if (ctx.Cache.TryGet("qemu", key) is not { } hit) return null;
        ctx.Log.Information("build qemu: cached {Key} ({Source})", key, sourceId);
        return new QemuBuild(QemuFlavour.Patched, Path.Combine(hit, "qemu-system-x86_64"), FirmwareDirs, sourceId, key);
    }

    private async Task<QemuBuild> PatchedAsync(string? userSource, CancellationToken ct)
    {
        var runner = ctx.Runner("qemu");
        var patches = PatchSeries.Read(ctx.Repo.QemuPatches);
        string sourceId;
        if (userSource is null)
            sourceId = "debian qemu " + await DebianPackages.RequireInstalledAsync(runner, "qemu-system-x86", ct);
        else if (Directory.Exists(userSource) || File.Exists(userSource))
            sourceId = "user " + Path.GetFullPath(userSource) + " " + (File.Exists(userSource) ? HarnessCache.FileKey(userSource) : Directory.GetLastWriteTimeUtc(userSource).Ticks.ToString());
        else
            throw new BadInputException(InputKind.QemuSource, userSource, "no such directory or tarball");
        var key = HarnessCache.Key(new[] { "qemu", sourceId, string.Join(' ', ConfigureFlags), string.Join(' ', Devices) }.Concat(patches.Select(p => Path.GetFileName(p) + File.ReadAllText(p))));
        if (Cached(key, sourceId) is { } cached) return cached;
        // Two runs wanting the same QEMU build it once: the second waits, then takes the first one's entry.
        using var buildLock = await ctx.Cache.LockAsync("qemu-" + key, TimeSpan.FromMinutes(60), ct);
        if (Cached(key, sourceId) is { } built) return built;

        var watch = Stopwatch.StartNew();
        ctx.Log.Information("build qemu: building {Source} with {Count} patch(es) into {Key}", sourceId, patches.Count, key);
        var work = ctx.Cache.NewTempDir("qemu");
        try
        {
            var src = Path.Combine(work, "src");
            if (userSource is null)
            {
                // The binary package may be a binNMU (…+b3) of the source version.
                var version = System.Text.RegularExpressions.Regex.Replace(sourceId["debian qemu ".Length..], @"\+b\d+$", "");
                await runner.RunAsync(new ToolCall("fetch qemu source", "apt-get", ["source", "--download-only", $"qemu={version}"], work, TimeSpan.FromMinutes(10)), ct);
                var dsc = Directory.GetFiles(work, "qemu_*.dsc").Single();
                await runner.RunAsync(new ToolCall("unpack qemu source", "dpkg-source", ["-x", dsc, src], work, TimeSpan.FromMinutes(10)), ct);
            }
            else if (Directory.Exists(userSource))
            {
                await runner.RunAsync(new ToolCall("copy qemu source", "cp", ["-a", Path.GetFullPath(userSource), src], work, TimeSpan.FromMinutes(10)), ct);
            }
            else
            {
                Directory.CreateDirectory(src);
                await runner.RunAsync(new ToolCall("unpack qemu tarball", "tar", ["-xf", Path.GetFullPath(userSource), "-C", src, "--strip-components=1"], work, TimeSpan.FromMinutes(10)), ct);
            }
            await PatchSeries.ApplySeriesAsync(runner, src, patches, ct);
            var build = Path.Combine(src, "build-qhh");
            Directory.CreateDirectory(build);
            var configure = ConfigureArgs(src);
            await runner.RunAsync(new ToolCall("configure qemu", Path.Combine(src, "configure"), configure, build, TimeSpan.FromMinutes(15)), ct);
            await runner.RunAsync(new ToolCall("ninja qemu-system-x86_64", "ninja", ["-j", ctx.Jobs.ToString(), "qemu-system-x86_64"], build, TimeSpan.FromMinutes(60)), ct);
            var output = Path.Combine(work, "out");
            Directory.CreateDirectory(output);
            File.Copy(Path.Combine(build, "qemu-system-x86_64"), Path.Combine(output, "qemu-system-x86_64"));
            File.SetUnixFileMode(Path.Combine(output, "qemu-system-x86_64"), (UnixFileMode)0b111_101_101);
            Manifest.Write(output, new { kind = "qemu", key, source = sourceId, patches = patches.Select(Path.GetFileName), configure, builtAt = DateTimeOffset.UtcNow, seconds = watch.Elapsed.TotalSeconds });
            var final = ctx.Cache.Commit("qemu", key, output);
            ctx.Log.Information("build qemu: done in {Seconds:F0} s", watch.Elapsed.TotalSeconds);
            return new QemuBuild(QemuFlavour.Patched, Path.Combine(final, "qemu-system-x86_64"), FirmwareDirs, sourceId, key);
        }
        finally
        {
            TryDelete(work);
        }
    }

    /// <summary>The configure arguments for a tree: with only <see cref="Devices"/> where the tree can take a device list.</summary>
    public static IReadOnlyList<string> ConfigureArgs(string src)
    {
        var devices = Path.Combine(src, "configs", "devices", "x86_64-softmmu");
        if (!Directory.Exists(devices)) return ConfigureFlags;
        File.WriteAllLines(Path.Combine(devices, DeviceConfigName + ".mak"), ["# QemuHotplugHarness: only what its guests use", .. Devices]);
        return [.. ConfigureFlags, "--without-default-devices", "--with-devices-x86_64=" + DeviceConfigName];
    }

    internal static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
