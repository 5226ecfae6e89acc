using System.IO.Compression;
using System.Text;
using ELFSharp.ELF;
using SharpCompress.Compressors.Xz;
using SharpCompress.Compressors.ZStandard;

namespace QemuHotplugHarness.Build;

/// <summary>One kernel module of a tree: its name (dashes as underscores, as the kernel names it) and its file.</summary>
public sealed record ModuleFile(string Name, string Path)
{
    private static readonly string[] Suffixes = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"];

    public static string? NameOf(string path)
    {
        var file = System.IO.Path.GetFileName(path);
        return Suffixes.FirstOrDefault(s => file.EndsWith(s, StringComparison.Ordinal)) is { } suffix
            ? Normalize(file[..^suffix.Length])
            : null;
    }

    public static string Normalize(string name) => name.Replace('-', '_');

    /// <summary>The module's ELF object, decompressed on the host (the guest's busybox insmod loads plain .ko only).</summary>
    public byte[] ReadObject()
    {
        using var file = File.OpenRead(Path);
        using Stream plain = Path.EndsWith(".xz", StringComparison.Ordinal) ? new XZStream(file)
            : Path.EndsWith(".zst", StringComparison.Ordinal) ? new DecompressionStream(file)
            : Path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress)
            : file;
        using var bytes = new MemoryStream();
        plain.CopyTo(bytes);
        return bytes.ToArray();
    }
}

/// <summary>The key=value strings of a module's .modinfo section (vermagic, depends, …).</summary>
public sealed record ModInfo(IReadOnlyDictionary<string, string> Values)
{
    /// <summary>The release the module was built for: the first word of vermagic.</summary>
    public string? Release => Values.TryGetValue("vermagic", out var v) ? v.Split(' ', 2)[0] : null;

    public IReadOnlyList<string> Depends => Values.TryGetValue("depends", out var d)
        ? d.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ModuleFile.Normalize).ToList()
        : [];

    /// <summary>Null when <paramref name="elf"/> is not a relocatable ELF with a .modinfo section.</summary>
    public static ModInfo? TryRead(byte[] elf)
    {
        using var stream = new MemoryStream(elf, writable: false);
        if (!ELFReader.TryLoad(stream, false, out var obj)) return null;
        using (obj)
        {
            if (!obj.TryGetSection(".modinfo", out var section)) return null;
            return Parse(section.GetContents());
        }
    }

    /// <summary>NUL-separated "key=value" strings; the first value of a key wins (the kernel's own modinfo does the same).</summary>
    public static ModInfo Parse(ReadOnlySpan<byte> section)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in Encoding.UTF8.GetString(section).Split('\0', StringSplitOptions.RemoveEmptyEntries))
            if (entry.IndexOf('=') is > 0 and var eq) values.TryAdd(entry[..eq], entry[(eq + 1)..]);
        return new ModInfo(values);
    }
}

/// <summary>
/// An installed modules tree (<c>/lib/modules/RELEASE</c>): every module file by name, what is built in
/// (modules.builtin), and each module's dependencies, from modules.dep when depmod wrote one, else from each
/// module's own .modinfo <c>depends=</c> (a tree unpacked from a package has no modules.dep).
/// </summary>
public sealed class ModuleTree
{
    private readonly Dictionary<string, ModuleFile> _files;
    private readonly Dictionary<string, IReadOnlyList<string>>? _dep;
    private readonly Dictionary<string, ModInfo> _info = new(StringComparer.Ordinal);

    private ModuleTree(string root, Dictionary<string, ModuleFile> files, Dictionary<string, IReadOnlyList<string>>? dep, IReadOnlySet<string>? builtin)
    {
        Root = root;
        _files = files;
        _dep = dep;
        Builtin = builtin;
    }

    public string Root { get; }

    /// <summary>Modules built into the kernel (modules.builtin); null when the tree has no such file.</summary>
    public IReadOnlySet<string>? Builtin { get; }

    public bool HasModulesDep => _dep is not null;

    public static ModuleTree Open(string root)
    {
        var files = new Dictionary<string, ModuleFile>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(root, "*.ko*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            if (ModuleFile.NameOf(path) is { } name) files.TryAdd(name, new ModuleFile(name, path));
        var depFile = Path.Combine(root, "modules.dep");
        var builtinFile = Path.Combine(root, "modules.builtin");
        var dep = File.Exists(depFile) ? ParseModulesDep(File.ReadAllText(depFile), root, files) : null;
        var builtin = File.Exists(builtinFile)
            ? File.ReadAllLines(builtinFile).Select(ModuleFile.NameOf).OfType<string>().ToHashSet(StringComparer.Ordinal)
            : null;
        return new ModuleTree(root, files, dep, builtin);
    }

    /// <summary>"kernel/drivers/acpi/nfit/nfit.ko: kernel/drivers/nvdimm/libnvdimm.ko" → nfit depends on libnvdimm.</summary>
    public static Dictionary<string, IReadOnlyList<string>> ParseModulesDep(string text, string root, Dictionary<string, ModuleFile> files)
    {
        var dep = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0 || ModuleFile.NameOf(line[..colon]) is not { } name) continue;
            var file = Path.Combine(root, line[..colon]);
            if (File.Exists(file)) files[name] = new ModuleFile(name, file); // modules.dep decides which file a name means
            dep[name] = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(ModuleFile.NameOf).OfType<string>().ToList();
        }
        return dep;
    }

    public ModuleFile? Find(string name) => _files.GetValueOrDefault(ModuleFile.Normalize(name));

    public ModInfo Info(ModuleFile module)
    {
        if (_info.TryGetValue(module.Name, out var known)) return known;
        var info = ModInfo.TryRead(module.ReadObject())
            ?? throw new ModuleTreeException($"{module.Path} is not a kernel module (no .modinfo section)");
        _info[module.Name] = info;
        return info;
    }

    public IReadOnlyList<string> DependenciesOf(ModuleFile module) =>
        _dep is not null && _dep.TryGetValue(module.Name, out var listed) ? listed : Info(module).Depends;

    /// <summary>
    /// <paramref name="wanted"/> and everything they need, dependencies before the modules that use them (the order
    /// insmod must follow). A dependency the tree lacks is an error.
    /// </summary>
    public IReadOnlyList<ModuleFile> LoadOrder(IEnumerable<string> wanted)
    {
        var order = new List<ModuleFile>();
        var state = new Dictionary<string, bool>(StringComparer.Ordinal); // false = visiting, true = done
        foreach (var name in wanted) Visit(ModuleFile.Normalize(name), null);
        return order;

        void Visit(string name, string? neededBy)
        {
            if (state.TryGetValue(name, out var done))
            {
                if (!done) throw new ModuleTreeException($"modules depend on each other in a circle through {name}");
                return;
            }
            var module = Find(name) ?? throw new ModuleTreeException(neededBy is null ? $"no module {name}" : $"no module {name} (needed by {neededBy})");
            state[name] = false;
            foreach (var dep in DependenciesOf(module)) Visit(dep, name);
            state[name] = true;
            order.Add(module);
        }
    }
}

/// <summary>A modules tree that cannot give what the guest needs; the caller names the input.</summary>
public sealed class ModuleTreeException(string message) : Exception(message);
