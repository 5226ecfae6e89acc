using System.Text.Json;

namespace QemuHotplugHarness.Scenarios;

/// <summary>What a host-side step does: a QMP command, a wait, or a guest memory-block or file step with an expectation.</summary>
public enum HostStepKind { Qmp, WaitEvent, WaitQom, MemoryBlocks, Read }

/// <summary>The QMP commands a case may send.</summary>
public enum QmpCommand { ObjectAdd, ObjectDel, DeviceAdd, DeviceDel, QomSet, QomGet }

/// <summary>The QMP events a case may wait for.</summary>
public enum QmpEvent { DeviceDeleted, AcpiDeviceOst, MemoryDeviceSizeChange }

/// <summary>A memory block's state as <c>/sys/devices/system/memory/memoryN/state</c> reads and takes it.</summary>
public enum MemoryBlockState { Online, Offline, OnlineMovable, OnlineKernel }

/// <summary>The wire names of the vocabularies: QMP's own spelling, sysfs's own spelling.</summary>
public static class HostVocabulary
{
    public static string Name(this QmpCommand c) => c switch
    {
        QmpCommand.DeviceAdd => "device_add",
        QmpCommand.DeviceDel => "device_del",
        _ => JsonNamingPolicy.KebabCaseLower.ConvertName(c.ToString()),
    };

    public static string Name(this QmpEvent e) => JsonNamingPolicy.SnakeCaseUpper.ConvertName(e.ToString());

    public static string Name(this MemoryBlockState s) => JsonNamingPolicy.SnakeCaseLower.ConvertName(s.ToString());

    public static bool TryParse<T>(string text, Func<T, string> name, out T value) where T : struct, Enum
    {
        value = Enum.GetValues<T>().FirstOrDefault(v => name(v) == text);
        return Enum.GetValues<T>().Any(v => name(v) == text);
    }

    public static string List<T>(Func<T, string> name) where T : struct, Enum => string.Join(", ", Enum.GetValues<T>().Select(name));
}

/// <summary>
/// A step the harness runs beside the guest's commands: a QMP command (<see cref="Arguments"/> as JSON text), a wait
/// for a QMP event (of <see cref="Device"/> when given) or for a <c>qom-get</c> value (<see cref="Path"/>.<see
/// cref="Property"/> equal to <see cref="Value"/>, or unchanged when no value is given), the memory blocks of a device
/// set to or expected in a state, or a guest file (a <see cref="Key"/>'s value in it) expected to read
/// <see cref="Value"/>. <see cref="Timeout"/> null = the run's command timeout.
/// </summary>
public sealed record HostStep(HostStepKind Kind)
{
    public TimeSpan? Timeout { get; init; }
    public QmpCommand? Command { get; init; }
    public string? Arguments { get; init; }
    public QmpEvent? Event { get; init; }
    public string? Device { get; init; }
    public string? Path { get; init; }
    public string? Property { get; init; }
    public string? Key { get; init; }
    public string? Value { get; init; }
    public MemoryBlockState? Set { get; init; }
    public MemoryBlockState? Expect { get; init; }

    /// <summary>The step as the logs show it (and a snapshot key would): "qmp device_del {"id":"dimm1"}".</summary>
    public IReadOnlyList<string> Describe() => Kind switch
    {
        HostStepKind.Qmp => ["qmp", Command!.Value.Name(), Arguments ?? "{}"],
        HostStepKind.WaitEvent => ["wait-event", Event!.Value.Name(), .. Device is null ? Array.Empty<string>() : [Device]],
        HostStepKind.WaitQom => ["wait-qom", $"{Path}.{Property}", Value ?? "(settled)"],
        HostStepKind.MemoryBlocks => ["memory-blocks", Device!, Set is { } s ? "set " + s.Name() : "expect " + Expect!.Value.Name()],
        _ => ["read", Path!, .. Key is null ? Array.Empty<string>() : [Key], "expect " + Value],
    };
}
