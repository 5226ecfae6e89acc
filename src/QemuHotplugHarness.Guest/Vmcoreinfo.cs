using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Guest;

/// <summary>What the harness learns from the guest kernel's VMCOREINFO note (in /proc/kcore's ELF notes).</summary>
public sealed record KernelFacts(int StructPageSize, ulong VmemmapBase, string Source)
{
    /// <summary>NUMBER(SECTION_SIZE_BITS): the kernel's memory section size (27, 128 MiB, on x86-64); null when not exported.</summary>
    public int? SectionSizeBits { get; init; }

    /// <summary>Parses VMCOREINFO text: SIZE(page), NUMBER(pgtable_l5_enabled), NUMBER(vmemmap_base) when KASLR exports it.</summary>
    public static KernelFacts FromVmcoreinfo(string text)
    {
        var values = text.Split('\n').Select(l => l.Split('=', 2)).Where(p => p.Length == 2).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1].Trim());
        var size = values.TryGetValue("SIZE(page)", out var s) ? int.Parse(s, CultureInfo.InvariantCulture) : 64;
        var l5 = values.TryGetValue("NUMBER(pgtable_l5_enabled)", out var l) && l == "1";
        var baseAddr = values.TryGetValue("NUMBER(vmemmap_base)", out var b)
            ? ulong.Parse(b, CultureInfo.InvariantCulture)
            : l5 ? KernelSpec.VmemmapBase5Level : KernelSpec.VmemmapBase4Level;
        var sectionBits = values.TryGetValue("NUMBER(SECTION_SIZE_BITS)", out var bits) && int.TryParse(bits, CultureInfo.InvariantCulture, out var n) ? n : (int?)null;
        return new KernelFacts(size, baseAddr, "vmcoreinfo") { SectionSizeBits = sectionBits };
    }

    /// <summary>The pfn whose struct page holds <paramref name="address"/>; null outside vmemmap.</summary>
    public ulong? PfnOfStructPage(ulong address)
    {
        if (address < VmemmapBase) return null;
        var pfn = (address - VmemmapBase) / (ulong)StructPageSize;
        return pfn < MaxPfn ? pfn : null;
    }

    /// <summary>x86-64's physical address space (52 bits) in 4 KiB pages: past it, an address is not in vmemmap.</summary>
    private const ulong MaxPfn = 1UL << 40;

    /// <summary>Finds the VMCOREINFO note in the head of /proc/kcore (an ELF64 core file).</summary>
    public static string? VmcoreinfoFromKcore(byte[] head)
    {
        if (head.Length < 64 || head[0] != 0x7f || head[1] != (byte)'E' || head[4] != 2) return null;
        var phoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(head.AsSpan(0x20));
        var phentsize = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(0x36));
        var phnum = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(0x38));
        for (var i = 0; i < phnum; i++)
        {
            var ph = head.AsSpan((int)(phoff + i * phentsize));
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != 4) continue; // PT_NOTE
            var offset = (int)BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]);
            var size = (int)BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]);
            var end = Math.Min(head.Length, offset + size);
            for (var p = offset; p + 12 <= end;)
            {
                var namesz = (int)BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(p));
                var descsz = (int)BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(p + 4));
                var nameStart = p + 12;
                var descStart = nameStart + ((namesz + 3) & ~3);
                if (descStart + descsz > head.Length) return null;
                var name = Encoding.ASCII.GetString(head, nameStart, Math.Max(0, namesz - 1));
                if (name == "VMCOREINFO") return Encoding.ASCII.GetString(head, descStart, descsz);
                p = descStart + ((descsz + 3) & ~3);
            }
        }
        return null;
    }
}
