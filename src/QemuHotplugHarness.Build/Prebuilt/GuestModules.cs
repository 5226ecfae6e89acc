using System.Text;

namespace QemuHotplugHarness.Build;

/// <summary>
/// The modules a prebuilt kernel's guest loads at boot: a cpio archive (appended to the run's initramfs) holding
/// the decompressed .ko files and <see cref="ListPath"/>, which names them in load order for the guest's init.
/// </summary>
public sealed record GuestModules(string Release, IReadOnlyList<string> LoadOrder, string Archive)
{
    /// <summary>The list the guest's init reads: one absolute path per line, dependencies first.</summary>
    public const string ListPath = "etc/qhh/modules";
    public const string Folder = "lib/modules/qhh";

    /// <summary>The archive of <paramref name="modules"/> (name, plain ELF object) in load order; deterministic for equal input.</summary>
    public static byte[] Pack(IReadOnlyList<(string Name, byte[] Object)> modules)
    {
        using var bytes = new MemoryStream();
        using (var archive = new NewcArchive(bytes))
        {
            archive.AddDirectory("lib");
            archive.AddDirectory("lib/modules");
            archive.AddDirectory(Folder);
            foreach (var (name, obj) in modules) archive.AddFile($"{Folder}/{name}.ko", obj, 0b110_100_100);
            archive.AddDirectory("etc");
            archive.AddDirectory("etc/qhh");
            var list = string.Concat(modules.Select(m => $"/{Folder}/{m.Name}.ko\n"));
            archive.AddFile(ListPath, Encoding.ASCII.GetBytes(list), 0b110_100_100);
        }
        return bytes.ToArray();
    }
}
