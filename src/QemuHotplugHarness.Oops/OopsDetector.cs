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
    private const int FollowUpWindow = 30;
    /// <summary>The faulting address is printed in the first lines of a report (header, #PF line, Oops line).</summary>
    private const int FaultLines = 8;

    private static readonly SearchValues<string> Keywords = SearchValues.Create(OopsPatterns.Keywords.ToArray(), StringComparison.Ordinal);
    private static readonly Regex Prompt = new(@"^(?:[\w@.:~/-]*\s?)?[#$] ", RegexOptions.Compiled);

    private OpenReport? _open;
    private int _lineNumber;

    /// <summary>Lines fed so far: a report's <see cref="OopsReport.StartLine"/> is on this scale (1-based).</summary>
    public int LinesFed => _lineNumber;
    private int _lastClosedLine = -1_000_000;

    /// <summary>True while a report has started and not ended: a live runner stops its workload on this.</summary>
    public bool InReport => _open is not null;

    /// <summary>Feeds the next raw line. Returns the report this line completed, if any.</summary>
    public OopsReport? Feed(string rawLine) => IsQuiet(rawLine) ? Skip() : FeedLine(rawLine);

    /// <summary>Feeds the next raw line from a buffer: it becomes a string only when the detector needs it.</summary>
    public OopsReport? Feed(ReadOnlySpan<char> rawLine) => IsQuiet(rawLine) ? Skip() : FeedLine(new string(rawLine));

    /// <summary>Most console lines are no crash's and come while no report is open: they need no normalizing.</summary>
    private bool IsQuiet(ReadOnlySpan<char> rawLine) => _open is null && rawLine.IndexOfAny(Keywords) < 0 && !rawLine.Contains('\x1b');

    private OopsReport? Skip()
    {
        _lineNumber++;
        return null;
    }

    private OopsReport? FeedLine(string rawLine)
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
        if (family.EndsReport && _lineNumber - _lastClosedLine <= FollowUpWindow) return null;
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
        if (!open.First.HasCaller && ContainsAny(line.Text, OopsPatterns.InfoWithStack)) open.Frozen = true;
        if (!open.First.HasTimestamp && open.FrameCount > 0 && (line.Text.Length == 0 || Prompt.IsMatch(line.Text))) return (Close(), true);
        open.Add(line);
        var text = line.Text;
        if (ContainsAny(text, OopsPatterns.EndMarkers) || (open.Lines.Count > 2 && text.StartsWith(OopsPatterns.Delimiter, StringComparison.Ordinal)))
            return (Close(), true);
        return (open.Lines.Count >= MaxReportLines ? Close() : null, true);
    }

    private static bool ContainsAny(string text, IReadOnlyList<string> words)
    {
        foreach (var w in words)
            if (text.Contains(w, StringComparison.Ordinal)) return true;
        return false;
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
        /// With caller ids, a later header of the same caller belongs to this report (a header split by another printk,
        /// "INFO: t" then "INFO: task ...", or the next task khungtaskd lists); without them, any new header starts a new report.
        /// </summary>
        public bool CanMerge => First.HasCaller;

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
            if (ContainsAny(text, OopsPatterns.NoiseLines)) return;
            if (ContainsAny(text, OopsPatterns.AllCpusFollow)) _cpuTraceback = true;
            else if (_textLines > OopsPatterns.LinesBeforeConsequence(First.Text) && ContainsAny(text, OopsPatterns.Consequences)) Frozen = true;
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
            foreach (var l in Lines.Take(FaultLines))
                if (_fault is null && FaultAt.Match(l) is { Success: true } fa) _fault = fa.Groups["addr"].Value;
            if (_fault is null && OopsPatterns.PageFaultKinds.Contains(extraction.Kind)) _fault = _cr2;
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
