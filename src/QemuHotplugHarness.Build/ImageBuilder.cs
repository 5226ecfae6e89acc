using System.Diagnostics;

namespace QemuHotplugHarness.Build;

/// <summary>The guest initramfs and the public host key the runner pins.</summary>
public sealed record GuestImage(string Initramfs, string HostPublicKey, string Key);

/// <summary>
/// Builds the guest initramfs without root from Debian packages (apt-get download, dpkg-deb -x), checks every
/// ELF's libraries, adds images/initramfs/init and a dropbear host key made at build time.
/// </summary>
public sealed class ImageBuilder(BuildContext ctx)
{
    private static readonly string[] Pruned = ["usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/lintian", "usr/share/info", "usr/share/bug", "usr/share/bash-completion", "usr/lib/x86_64-linux-gnu/gconv"];

    public async Task<GuestImage> GetAsync(CancellationToken ct)
    {
        var runner = ctx.Runner("image");
        var recipe = ctx.Repo.InitramfsDir;
        var packages = File.ReadAllLines(Path.Combine(recipe, "packages.txt")).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var init = File.ReadAllText(Path.Combine(recipe, "init"));
        var versions = await DebianPackages.CandidateVersionsAsync(runner, packages, ct, ctx.Cache);
        var key = HarnessCache.Key(new[] { "image", init }.Concat(versions));
        if (ctx.Cache.TryGet("image", key) is { } hit) return Load(hit, key);

        var watch = Stopwatch.StartNew();
        ctx.Log.Information("build image: {Count} Debian packages into {Key}", packages.Count, key);
        var work = ctx.Cache.NewTempDir("image");
        try
        {
            var debs = Path.Combine(work, "debs");
            var root = Path.Combine(work, "root");
            Directory.CreateDirectory(debs);
            Directory.CreateDirectory(root);
            await runner.RunAsync(new ToolCall("apt-get download", "apt-get", new[] { "download" }.Concat(packages), debs, TimeSpan.FromMinutes(10)), ct);
            foreach (var deb in Directory.GetFiles(debs, "*.deb").OrderBy(d => d, StringComparer.Ordinal))
                await runner.RunAsync(new ToolCall("dpkg-deb -x", "dpkg-deb", ["-x", deb, root], debs, TimeSpan.FromMinutes(5)).Quietly(), ct);
            foreach (var p in Pruned) QemuBuilder.TryDelete(Path.Combine(root, p));
            await ElfDependencies.EnsureCompleteAsync(runner, root, ct);

            foreach (var d in new[] { "bin", "sbin", "etc/dropbear", "etc/qhh", "root/.ssh", "proc", "sys", "dev", "tmp", "run", "var/log" })
                Directory.CreateDirectory(Path.Combine(root, d));
            File.WriteAllText(Path.Combine(root, "init"), init);
            File.SetUnixFileMode(Path.Combine(root, "init"), (UnixFileMode)0b111_101_101);
            File.WriteAllText(Path.Combine(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
            File.WriteAllText(Path.Combine(root, "etc/group"), "root:x:0:\n");
            File.WriteAllText(Path.Combine(root, "etc/shells"), "/bin/sh\n");
            if (!File.Exists(Path.Combine(root, "bin/sh"))) File.CreateSymbolicLink(Path.Combine(root, "bin/sh"), "busybox");

            // The host key, made with the image's own dropbearkey through the image's loader and libraries.
            var hostKey = Path.Combine(root, "etc/dropbear/dropbear_ed25519_host_key");
            var loader = Path.Combine(root, "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
            var libPath = string.Join(':', ElfDependencies.LibraryDirs.Select(d => Path.Combine(root, d)));
            await runner.RunAsync(new ToolCall("dropbearkey", loader, ["--library-path", libPath, Path.Combine(root, "usr/bin/dropbearkey"), "-t", "ed25519", "-f", hostKey], work, TimeSpan.FromMinutes(1)), ct);
            var pub = await runner.RunAsync(new ToolCall("dropbearkey -y", loader, ["--library-path", libPath, Path.Combine(root, "usr/bin/dropbearkey"), "-y", "-f", hostKey], work, TimeSpan.FromMinutes(1)).Quietly(), ct);
            var pubLine = pub.Split('\n').FirstOrDefault(l => l.StartsWith("ssh-ed25519 ", StringComparison.Ordinal))
                ?? throw new Scenarios.InfrastructureException("dropbearkey -y printed no ssh-ed25519 key");

            var output = Path.Combine(work, "out");
            Directory.CreateDirectory(output);
            NewcArchive.WriteTreeGz(root, Path.Combine(output, "initramfs.cpio.gz"));
            File.WriteAllText(Path.Combine(output, "host_key.pub"), pubLine.Trim() + "\n");
            Manifest.Write(output, new { kind = "image", key, packages = versions, builtAt = DateTimeOffset.UtcNow, seconds = watch.Elapsed.TotalSeconds, bytes = new FileInfo(Path.Combine(output, "initramfs.cpio.gz")).Length });
            var final = ctx.Cache.Commit("image", key, output);
            ctx.Log.Information("build image: done in {Seconds:F0} s", watch.Elapsed.TotalSeconds);
            return Load(final, key);
        }
        finally
        {
            QemuBuilder.TryDelete(work);
        }
    }

    private static GuestImage Load(string dir, string key) =>
        new(Path.Combine(dir, "initramfs.cpio.gz"), File.ReadAllText(Path.Combine(dir, "host_key.pub")).Trim(), key);

    /// <summary>
    /// The run's initrd: the image as built, then the prebuilt kernel's modules archive when there is one. It holds
    /// no key: the run's key reaches the guest through its key port after the boot (or the restore), so a cold boot
    /// and a restored snapshot take the same path.
    /// </summary>
    public static void WriteRunInitrd(GuestImage image, string outputPath, string? modulesArchive = null)
    {
        using var file = File.Create(outputPath);
        using (var baseImage = File.OpenRead(image.Initramfs)) baseImage.CopyTo(file);
        if (modulesArchive is null) return;
        // The kernel looks for the next archive's magic at 4-byte aligned offsets and skips zeros; padding to a
        // whole 512-byte block satisfies that and keeps the overlay easy to find with a hex dump.
        while (file.Length % 512 != 0) file.WriteByte(0);
        using var modules = File.OpenRead(modulesArchive);
        modules.CopyTo(file);
    }
}
