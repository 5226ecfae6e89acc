using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace QemuHotplugHarness.Build;

/// <summary>
/// Writes cpio "newc" archives (the initramfs format) without root: every entry is owned by 0:0. The kernel
/// unpacks concatenated archives, so a per-run overlay can follow the image.
/// </summary>
public sealed class NewcArchive : IDisposable
{
    private readonly Stream _out;
    private int _ino = 1;
    private long _written;

    public NewcArchive(Stream output) => _out = output;

    public void AddDirectory(string path, int mode = 0b111_101_101) => Add(path, 0x4000 | mode, []);
    public void AddFile(string path, byte[] data, int mode) => Add(path, 0x8000 | mode, data);
    public void AddSymlink(string path, string target) => Add(path, 0xA000 | 0b111_111_111, Encoding.UTF8.GetBytes(target));

    /// <summary>Adds a directory tree: files with their modes, symlinks as links, directories in order.</summary>
    public void AddTree(string root)
    {
        foreach (var entry in Walk(root))
        {
            var rel = Path.GetRelativePath(root, entry.FullName).Replace('\\', '/');
            if (entry.LinkTarget is { } target)
            {
                AddSymlink(rel, target);
                continue;
            }
            var mode = (int)File.GetUnixFileMode(entry.FullName) & 0xFFF;
            if (entry is DirectoryInfo) AddDirectory(rel, mode);
            else AddFile(rel, File.ReadAllBytes(entry.FullName), mode);
        }
    }

    private static IEnumerable<FileSystemInfo> Walk(string dir)
    {
        foreach (var e in new DirectoryInfo(dir).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            yield return e;
            if (e is DirectoryInfo d && d.LinkTarget is null)
                foreach (var child in Walk(d.FullName)) yield return child;
        }
    }

    private void Add(string path, int mode, byte[] data)
    {
        var name = Encoding.UTF8.GetBytes(path.TrimStart('/') + "\0");
        var header = new StringBuilder("070701");
        foreach (var v in new long[] { _ino++, mode, 0, 0, 1, 0, data.Length, 0, 0, 0, 0, name.Length, 0 })
            header.Append(v.ToString("x8", CultureInfo.InvariantCulture));
        Write(Encoding.ASCII.GetBytes(header.ToString()));
        Write(name);
        Pad();
        Write(data);
        Pad();
    }

    private void Write(byte[] bytes)
    {
        _out.Write(bytes);
        _written += bytes.Length;
    }

    private void Pad()
    {
        while (_written % 4 != 0) Write([0]);
    }

    public void Dispose()
    {
        Add("TRAILER!!!", 0, []);
        while (_written % 512 != 0) Write([0]);
        _out.Flush();
    }

    /// <summary>A gzip-compressed archive of a whole tree.</summary>
    public static void WriteTreeGz(string root, string outputPath)
    {
        using var file = File.Create(outputPath);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        using var archive = new NewcArchive(gz);
        archive.AddTree(root);
    }
}
