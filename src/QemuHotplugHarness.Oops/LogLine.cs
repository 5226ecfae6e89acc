namespace QemuHotplugHarness.Oops;

/// <summary>
/// A console or dmesg line with what is not the kernel's text taken off. <see cref="Context"/> says who printed it:
/// <see cref="LogLines.NoContext"/> (no printk timestamp), <see cref="LogLines.Console"/> (timestamp, no caller id),
/// a task (positive: T7 is 8) or a CPU (negative: C1 is -2). <see cref="Questionable"/>: a "? func+0x" frame the
/// unwinder was not sure of.
/// </summary>
public readonly record struct LogLine(int Number, string Text, bool HasTimestamp, bool IsKernel, int Context = LogLines.NoContext, bool Questionable = false)
{
    public bool IsCpuContext => Context < 0 && Context != LogLines.NoContext;
    /// <summary>Printed with a caller id (CONFIG_PRINTK_CALLER): lines of other callers are not this one's.</summary>
    public bool HasCaller => Context != LogLines.NoContext && Context != LogLines.Console;
}

public static class LogLines
{
    public const int NoContext = int.MinValue;
    public const int Console = 0;

    /// <summary>
    /// Strips CR, ANSI escapes, syslog prefixes ("Jun 24 10:00:00 host kernel: "), printk timestamps
    /// ("[   18.073813] "), and caller ids ("[ T1348] ", "[    C0] ").
    /// </summary>
    public static LogLine Normalize(int number, string raw)
    {
        var s = raw;
        if (s.Length > 0 && s[^1] == '\r') s = s[..^1];
        if (s.IndexOf('\x1b') >= 0) s = StripAnsi(s);
        var kernel = false;
        var k = s.IndexOf(" kernel: ", StringComparison.Ordinal);
        if (k >= 0 && k < 64)
        {
            s = s[(k + 9)..];
            kernel = true;
        }
        s = StripConsolePrefix(s);
        // "<4>" printk level from /dev/kmsg-like sources.
        if (s.Length >= 3 && s[0] == '<' && char.IsDigit(s[1]) && s[2] == '>') s = s[3..];
        var stamped = false;
        var context = NoContext;
        if (TryStripBracket(ref s, IsTimestamp))
        {
            stamped = true;
            context = Console;
            var before = s;
            if (TryStripBracket(ref s, IsCallerId)) context = CallerContext(before);
        }
        var questionable = context != NoContext && IsQuestionable(s);
        return new LogLine(number, s, stamped, kernel || stamped, context, questionable);
    }

    /// <summary>"** 5 printk messages dropped ** " and "host login: " glued before a timestamp.</summary>
    private static string StripConsolePrefix(string s)
    {
        if (s.StartsWith("** ", StringComparison.Ordinal))
        {
            var end = s.IndexOf(" printk messages dropped ** ", StringComparison.Ordinal);
            if (end > 0) s = s[(end + 28)..];
        }
        var login = s.IndexOf(" login: ", StringComparison.Ordinal);
        if (login > 0 && login + 8 < s.Length && s[login + 8] == '[') s = s[(login + 8)..];
        return s;
    }

    private static int CallerContext(string bracketed)
    {
        var open = bracketed.IndexOf('[');
        var i = open + 1;
        while (bracketed[i] == ' ') i++;
        var cpu = bracketed[i] == 'C';
        var n = 0;
        for (i++; i < bracketed.Length && char.IsAsciiDigit(bracketed[i]); i++) n = Math.Min(n * 10 + (bracketed[i] - '0'), 1_000_000_000);
        return cpu ? -(n + 2) : n + 1;
    }

    private static bool IsQuestionable(string s) =>
        (s.Contains(" ? ", StringComparison.Ordinal) || s.EndsWith(" (unreliable)", StringComparison.Ordinal)) && !s.Contains("<EOI>", StringComparison.Ordinal);

    private static bool TryStripBracket(ref string s, Func<ReadOnlySpan<char>, bool> accept)
    {
        var i = 0;
        while (i < s.Length && s[i] == ' ') i++;
        if (i >= s.Length || s[i] != '[') return false;
        var close = s.IndexOf(']', i);
        if (close < 0 || close - i > 20) return false;
        if (!accept(s.AsSpan(i + 1, close - i - 1))) return false;
        var rest = close + 1;
        if (rest < s.Length && s[rest] == ' ') rest++;
        s = s[rest..];
        return true;
    }

    private static bool IsTimestamp(ReadOnlySpan<char> inner)
    {
        inner = inner.Trim();
        var dot = inner.IndexOf('.');
        if (dot <= 0 || dot == inner.Length - 1) return false;
        foreach (var c in inner)
            if (c != '.' && !char.IsAsciiDigit(c)) return false;
        return true;
    }

    private static bool IsCallerId(ReadOnlySpan<char> inner)
    {
        inner = inner.Trim();
        if (inner.Length < 2 || (inner[0] != 'T' && inner[0] != 'C')) return false;
        foreach (var c in inner[1..])
            if (!char.IsAsciiDigit(c)) return false;
        return true;
    }

    private static string StripAnsi(string s)
    {
        var sb = new System.Text.StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\x1b' && i + 1 < s.Length && s[i + 1] == '[')
            {
                i += 2;
                while (i < s.Length && !(s[i] >= '@' && s[i] <= '~')) i++;
                continue;
            }
            sb.Append(s[i]);
        }
        return sb.ToString();
    }
}
