using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace QemuHotplugHarness.Oops;

/// <summary>
/// Streaming crash detector: feed it a console or dmesg line by line; it returns each report when the report ends
/// (end-trace marker, the next report, a shell prompt, or <see cref="Finish"/>). A report keeps only the lines of the
/// printk context its header came from (caller id, or timestamped vs not), at most <see cref="MaxReportLines"/> of them:
/// constant memory. When it ends, <see cref="OopsExtractor"/> names it from the table in <see cref="OopsPatterns"/>.
/// </summary>
public sealed class OopsDetector
{
    public const int MaxReportLines = 1000;
    public const int MaxLineLength = 1000;
    private const int MaxForeignLines = 300;
    private const int MergeWindow = 8;
    private const int FollowUpWindow = 30;
    /// <summary>Lines of a report after which a panic (panic_on_warn) or a lockdep splat it caused is no longer part of it.</summary>
    private const int MinLinesBeforePanic = 22;
    private const int MinLinesBeforePanicKmsan = 16;

    private static readonly SearchValues<string> Keywords = SearchValues.Create(OopsPatterns.Keywords.ToArray(), StringComparison.Ordinal);
    private static readonly Regex Prompt = new(@"^(?:[\w@.:~/-]*\s?)?[#$] ", RegexOptions.Compiled);

    private OpenReport? _open;
    private int _lineNumber;
    private int _lastClosedLine = -1_000_000;

    /// <summary>True while a report has started and not ended: a live runner stops its workload on this.</summary>
    public bool InReport => _open is not null;

    /// <summary>Feeds the next raw line. Returns the report this line completed, if any.</summary>
    public OopsReport? Feed(string rawLine)
    {
        _lineNumber++;
        if (rawLine.Length > MaxLineLength) rawLine = rawLine[..MaxLineLength];
        var line = LogLines.Normalize(_lineNumber, rawLine);
        var family = line.Text.AsSpan().IndexOfAny(Keywords) >= 0 ? MatchFamily(line.Text) : null;
        if (_open is { } open)
        {
            var (completed, consumed) = FeedOpen(open, line, family);
            if (consumed || family is null) return completed;
            return Open(line, family) ?? completed;
        }
        return family is null ? null : Open(line, family);
    }

    /// <summary>Ends the stream: returns the report still open.</summary>
    public OopsReport? Finish() => _open is null ? null : Close();

    private OopsReport? Open(LogLine line, OopsFamily family)
    {
        if (family.Header == "Kernel panic" && _lineNumber - _lastClosedLine <= FollowUpWindow) return null; // the panic an oops ends in
        _open = new OpenReport(family, line).Start();
        return null;
    }

    /// <summary>One line while a report is open: returns a report this line completed, and whether the line was used up.</summary>
    private (OopsReport? Completed, bool Consumed) FeedOpen(OpenReport open, LogLine line, OopsFamily? family)
    {
        var starts = family is not null && !IsContinuation(line.Text);
        if (!open.InContext(line))
        {
            // Another caller's crash does not cut this one; without caller ids any new header does.
            if (starts && !open.First.HasCaller) return (Close(), false);
            if (++open.ForeignRun > MaxForeignLines || Prompt.IsMatch(line.Text)) return (Close(), family is null);
            return (null, true);
        }
        open.ForeignRun = 0;
        if (starts && !open.CanMerge) return (Close(), false);
        if (!open.First.HasCaller && OopsPatterns.InfoWithStack.Any(s => line.Text.Contains(s, StringComparison.Ordinal))) open.Frozen = true;
        if (!open.First.HasTimestamp && open.FrameCount > 0 && (line.Text.Length == 0 || Prompt.IsMatch(line.Text))) return (Close(), true);
        open.Add(line);
        var text = line.Text;
        if (text.Contains("---[ end trace", StringComparison.Ordinal) || text.Contains("---[ end Kernel panic", StringComparison.Ordinal)
            || (open.Lines.Count > 2 && text.StartsWith("====================", StringComparison.Ordinal)))
            return (Close(), true);
        return (open.Lines.Count >= MaxReportLines ? Close() : null, true);
    }

    private static bool IsContinuation(string text)
    {
        foreach (var re in OopsPatterns.Continuations)
            if (re.IsMatch(text)) return true;
        return false;
    }

    private static OopsFamily? MatchFamily(string text)
    {
        foreach (var f in OopsPatterns.Families)
            if (f.Matches(text)) return f;
        return null;
    }

    private OopsReport Close()
    {
        var open = _open!;
        _open = null;
        _lastClosedLine = _lineNumber;
        return open.Build();
    }

    private sealed class OpenReport(OopsFamily family, LogLine first)
    {
        private static readonly Regex RipLine = new(@"(?:RIP: [0-9a-f]{4}:(?:\[<[0-9a-f]+>\]\s+)*|^IP: (?:\[<[0-9a-f]+>\]\s+)*|\bpc : |PC is at )(?<rip>(?<fn>[A-Za-z_.$][\w.$]*)\+0x[0-9a-f]+/0x[0-9a-f]+)", RegexOptions.Compiled);
        private static readonly Regex Frame = new(@"^\s*(?:\[<[0-9a-f]+>\]\s*)?(?<q>\? )?(?<fn>[A-Za-z_.$][\w.$]*)\+0x[0-9a-f]+/0x[0-9a-f]+(?:\s+\[[\w-]+\])?(?:\s+\S+:\d+)?(?:\s+\[inline\])?\s*$", RegexOptions.Compiled);
        private static readonly Regex TraceStart = new(@"^\s*(?:Call Trace:|Call trace:|backtrace(?: \(crc [0-9a-f]+\))?:)", RegexOptions.Compiled);
        private static readonly Regex Cr2 = new(@"\bCR2: (?<addr>[0-9a-f]+)", RegexOptions.Compiled);
        private static readonly Regex Register = new(@"\b(?<name>RAX|RBX|RCX|RDX|RSI|RDI|RBP|R8|R9|R10|R11|R12|R13|R14|R15): (?<value>[0-9a-f]{16})\b|\bRSP: [0-9a-f]{4}:(?<rsp>[0-9a-f]{16})", RegexOptions.Compiled);
        private static readonly Regex CpuLine = new(@"\bCPU: \d+ (?:UID: \d+ )?PID: (?<pid>\d+) Comm: (?<comm>\S+)(?: Kdump: \w+)?\s+(?:Tainted: (?<taint>[A-Z ]+?)\s+|Not tainted\s+)(?<ver>\d\S*)", RegexOptions.Compiled);
        private static readonly Regex FaultAt = new(@"(?:for address: |dereference, address: |paging request at (?:virtual address )?|NULL pointer dereference at (?:virtual address )?|non-canonical address )(?:0x)?(?<addr>[0-9a-fA-F]+)", RegexOptions.Compiled);

        private readonly int _context = first.Context;
        private readonly List<(string Name, bool Questionable)> _frames = [];
        private bool _inTrace, _traceDone, _cpuTraceback;
        private int _textLines = 1;
        private string? _rip, _cr2, _comm, _taint, _version, _fault;
        private int? _pid;
        private readonly Dictionary<string, string> _registers = new();

        public LogLine First { get; } = first;
        /// <summary>The report's text as the extractor will read it (this caller's lines, questionable frames left out).</summary>
        public List<string> Lines { get; } = [first.Text];
        private int _lastLine = first.Number;
        public int FrameCount => _frames.Count;
        public int ForeignRun { get; set; }
        /// <summary>The report's text is complete; later lines of the crash (the panic it caused) are swallowed, not kept.</summary>
        public bool Frozen { get; set; }

        /// <summary>
        /// With caller ids, a second header of the same caller just after the first (a header split by another
        /// printk, "INFO: t" then "INFO: task ...") belongs to it; without them, any new header starts a new report.
        /// </summary>
        public bool CanMerge => First.HasCaller && _frames.Count == 0 && Lines.Count <= MergeWindow;

        public OpenReport Start()
        {
            Collect(First.Text);
            return this;
        }

        public bool InContext(LogLine line) => line.Context == _context || (_cpuTraceback && line.IsCpuContext);

        public void Add(LogLine line)
        {
            var text = line.Text;
            _lastLine = line.Number;
            _textLines++;
            if (text.Contains("Disabling lock debugging due to kernel taint", StringComparison.Ordinal)) return;
            if (text.Contains("Sending NMI from CPU", StringComparison.Ordinal)) _cpuTraceback = true;
            else if (_textLines > (First.Text.Contains("BUG: KMSAN:", StringComparison.Ordinal) ? MinLinesBeforePanicKmsan : MinLinesBeforePanic)
                && (text.Contains("Kernel panic - not syncing", StringComparison.Ordinal) || text.Contains("WARNING: possible circular locking dependency detected", StringComparison.Ordinal)))
                Frozen = true;
            if (Frozen || (line.Questionable && First.Context != LogLines.NoContext)) return;
            Lines.Add(text);
            Collect(text);
        }

        private void Collect(string text)
        {
            if (!_traceDone && CollectFrame(text)) return;
            if (_rip is null && RipLine.Match(text) is { Success: true } rip)
            {
                _rip = rip.Groups["rip"].Value;
                return;
            }
            if (_cr2 is null && Cr2.Match(text) is { Success: true } cr2) _cr2 = cr2.Groups["addr"].Value;
            if (_comm is null && CpuLine.Match(text) is { Success: true } cpu)
            {
                _comm = cpu.Groups["comm"].Value;
                _pid = int.Parse(cpu.Groups["pid"].Value, CultureInfo.InvariantCulture);
                _taint = cpu.Groups["taint"].Success ? Squash(cpu.Groups["taint"].Value) : null;
                _version = cpu.Groups["ver"].Value;
            }
            if (text.Contains("RAX: ", StringComparison.Ordinal) || text.Contains("RSP: ", StringComparison.Ordinal) || text.Contains(" R8: ", StringComparison.Ordinal) || text.StartsWith("R", StringComparison.Ordinal))
                foreach (Match r in Register.Matches(text))
                {
                    if (r.Groups["rsp"].Success) _registers.TryAdd("RSP", r.Groups["rsp"].Value);
                    else _registers.TryAdd(r.Groups["name"].Value, r.Groups["value"].Value);
                }
        }

        /// <summary>The first call trace, for the report's CallTrace: true when the line was part of it.</summary>
        private bool CollectFrame(string text)
        {
            if (TraceStart.IsMatch(text))
            {
                _inTrace = true;
                return true;
            }
            // Sanitizer reports (KCSAN, KFENCE, KMSAN) print frames without a "Call Trace:" line.
            if (!_inTrace && _frames.Count == 0 && Frame.IsMatch(text)) _inTrace = true;
            if (!_inTrace) return false;
            var t = text.Trim();
            if (t is "<TASK>" or "</TASK>" or "<IRQ>" or "</IRQ>" or "<NMI>" or "</NMI>" or "<EOI>") return true;
            var f = Frame.Match(text);
            if (f.Success)
            {
                _frames.Add((OopsPatterns.CleanFunction(f.Groups["fn"].Value), f.Groups["q"].Success));
                return true;
            }
            if (t.Length == 0 && _frames.Count == 0) return true;
            if (_frames.Count > 0) { _inTrace = false; _traceDone = true; }
            return false;
        }

        public OopsReport Build()
        {
            var extraction = OopsExtractor.Extract(family, Lines);
            var headerCpu = CpuLine.Match(First.Text);
            if (_comm is null && headerCpu.Success)
            {
                _comm = headerCpu.Groups["comm"].Value;
                _pid = int.Parse(headerCpu.Groups["pid"].Value, CultureInfo.InvariantCulture);
                _version = headerCpu.Groups["ver"].Value;
            }
            foreach (var l in Lines.Take(MergeWindow))
                if (_fault is null && FaultAt.Match(l) is { Success: true } fa) _fault = fa.Groups["addr"].Value;
            if (_fault is null && extraction.Kind is "paging-request" or "null-deref" or "oops") _fault = _cr2;
            if (_fault is not null && !_fault.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) _fault = "0x" + _fault;

            var sb = new StringBuilder();
            foreach (var l in Lines) sb.Append(l).Append('\n');
            return new OopsReport
            {
                Title = extraction.Title,
                Kind = extraction.Kind,
                Function = extraction.Frame,
                FaultAddress = _fault?.ToLowerInvariant(),
                Rip = _rip,
                CallTrace = _frames.Where(f => !f.Questionable).Select(f => f.Name).ToList(),
                Registers = new Dictionary<string, string>(_registers),
                Comm = _comm,
                Pid = _pid,
                KernelVersion = _version,
                Taint = _taint,
                StartLine = First.Number,
                EndLine = _lastLine,
                Corrupted = extraction.Corrupted,
                CorruptedReason = extraction.CorruptedReason,
                Text = sb.ToString(),
            };
        }

        private static string Squash(string s) => string.Join(' ', s.Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }
}
