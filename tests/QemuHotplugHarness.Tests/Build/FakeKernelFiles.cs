using System.Buffers.Binary;
using System.Text;

namespace QemuHotplugHarness.Tests.Build;

/// <summary>Small stand-ins for a kernel's files, made byte by byte: a bzImage header, a module object, a modules tree.</summary>
public static class FakeKernelFiles
{
    /// <summary>A file with the x86 boot header: "HdrS" at 0x202, protocol 2.15, the version string at 0x200 + kernel_version.</summary>
    public static byte[] BzImage(string version)
    {
        var image = new byte[0x4000];
        "HdrS"u8.CopyTo(image.AsSpan(0x202));
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x206), 0x020F);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x20E), 0x3000 - 0x200);
        Encoding.ASCII.GetBytes(version + "\0").CopyTo(image.AsSpan(0x3000));
        return image;
    }

    /// <summary>An ELF64 relocatable object with one .modinfo section of NUL-separated key=value strings, as a .ko has.</summary>
    public static byte[] ModuleWithInfo(params string[] modinfo)
    {
        var info = Encoding.ASCII.GetBytes(string.Concat(modinfo.Select(m => m + "\0")));
        var names = "\0.modinfo\0.shstrtab\0"u8.ToArray();
        var infoAt = 64;
        var namesAt = infoAt + info.Length;
        var headersAt = (namesAt + names.Length + 7) & ~7;
        var elf = new byte[headersAt + 3 * 64];
        "\x7f"u8.CopyTo(elf);
        "ELF"u8.CopyTo(elf.AsSpan(1));
        elf[4] = 2; // 64-bit
        elf[5] = 1; // little endian
        elf[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(16), 1); // ET_REL
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(18), 0x3E); // x86-64
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(40), (ulong)headersAt);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(52), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(58), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(60), 3);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(62), 2);
        info.CopyTo(elf, infoAt);
        names.CopyTo(elf, namesAt);
        Section(elf.AsSpan(headersAt + 64), name: 1, type: 1, offset: infoAt, size: info.Length);
        Section(elf.AsSpan(headersAt + 128), name: 10, type: 3, offset: namesAt, size: names.Length);
        return elf;
    }

    private static void Section(Span<byte> header, uint name, uint type, int offset, int size)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(header, name);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], type);
        BinaryPrimitives.WriteUInt64LittleEndian(header[24..], (ulong)offset);
        BinaryPrimitives.WriteUInt64LittleEndian(header[32..], (ulong)size);
        BinaryPrimitives.WriteUInt64LittleEndian(header[48..], 1);
    }

    /// <summary>A module built for <paramref name="release"/> that depends on <paramref name="depends"/>.</summary>
    public static byte[] Module(string release, params string[] depends) =>
        ModuleWithInfo($"vermagic={release} SMP preempt mod_unload modversions ", "license=GPL", $"depends={string.Join(',', depends)}");

    /// <summary>A config that has everything the harness needs, with the guest's drivers as <paramref name="drivers"/> (y or m).</summary>
    public static string Config(string drivers, params string[] without)
    {
        var lines = QemuHotplugHarness.Build.KernelRequirements.BuiltIn.Select(r => $"{r.Option}=y")
            .Concat(QemuHotplugHarness.Build.KernelRequirements.Drivers.Select(r => $"{r.Option}={drivers}"))
            .Append($"CONFIG_E1000={drivers}") // the NIC Debian's generic kernels are run with
            .Append("CONFIG_MODULES=y")
            .Where(l => !without.Any(w => l.StartsWith(w + "=", StringComparison.Ordinal)))
            .Concat(without.Select(w => $"# {w} is not set"));
        return string.Join('\n', lines) + "\n";
    }

    /// <summary>
    /// A Debian-like modules tree (no modules.dep): the guest's drivers as modules with the dependencies of 6.1
    /// (nfit, nd_pmem, nd_btt, dax_pmem on libnvdimm; dax_pmem on device_dax), plus one unrelated module.
    /// </summary>
    public static string ModulesTree(string parent, string release)
    {
        var root = Path.Combine(parent, release);
        void Put(string rel, byte[] bytes)
        {
            var path = Path.Combine(root, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
        }
        Put("kernel/drivers/nvdimm/libnvdimm.ko", Module(release));
        Put("kernel/drivers/acpi/nfit/nfit.ko", Module(release, "libnvdimm"));
        Put("kernel/drivers/nvdimm/nd_pmem.ko", Module(release, "nd_btt", "libnvdimm"));
        Put("kernel/drivers/nvdimm/nd_btt.ko", Module(release, "libnvdimm"));
        Put("kernel/drivers/dax/device_dax.ko", Module(release));
        Put("kernel/drivers/dax/dax_pmem.ko", Module(release, "device_dax", "libnvdimm"));
        Put("kernel/drivers/net/ethernet/intel/e1000/e1000.ko", Module(release));
        Put("kernel/fs/unrelated.ko", Module(release));
        File.WriteAllText(Path.Combine(root, "modules.builtin"), "kernel/drivers/dax/dax.ko\n");
        return root;
    }
}
