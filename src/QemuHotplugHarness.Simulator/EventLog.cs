using System.Runtime.CompilerServices;

namespace QemuHotplugHarness.Simulator;

/// <summary>
/// What the kernel did in an iteration, line by line, for predict and the report. A sweep asks only for outcomes
/// (<see cref="PredictionDetail.Outcome"/>): its log is off and an interpolated line is never even formatted.
/// </summary>
public sealed class EventLog : List<string>
{
    public EventLog(PredictionDetail detail = PredictionDetail.Full) => Enabled = detail == PredictionDetail.Full;

    public bool Enabled { get; }

    /// <summary>An interpolated line, formatted only when the log is on.</summary>
    public void Add([InterpolatedStringHandlerArgument("")] ref EventLine line)
    {
        if (Enabled) base.Add(line.ToStringAndClear());
    }

    /// <summary>A line already made (kept when the log is on).</summary>
    public new void Add(string line)
    {
        if (Enabled) base.Add(line);
    }
}

/// <summary>The interpolated-string handler of <see cref="EventLog.Add(ref EventLine)"/>: formats nothing for a log that is off.</summary>
[InterpolatedStringHandler]
public ref struct EventLine
{
    private DefaultInterpolatedStringHandler _text;

    public EventLine(int literalLength, int formattedCount, EventLog log, out bool enabled)
    {
        enabled = log.Enabled;
        _text = enabled ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
    }

    public void AppendLiteral(string value) => _text.AppendLiteral(value);
    public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);
    public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);
    public void AppendFormatted<T>(T value, int alignment) => _text.AppendFormatted(value, alignment);
    public void AppendFormatted(string? value) => _text.AppendFormatted(value);
    public string ToStringAndClear() => _text.ToStringAndClear();
}
