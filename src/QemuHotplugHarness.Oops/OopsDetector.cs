using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace QemuHotplugHarness.Oops;

/// <summary>
/// Streaming crash detector: feed it a console or dmesg line by line; it returns each report when the report
/// ends (end-trace marker, the next report, a shell prompt, or <see cref="Finish"/>). Constant memory per report.
/// </summary>
public sealed class OopsDetector
{
    public const int MaxReportLines = 400;
    private const int MaxForeignLines = 100;
    private const int MergeWindow = 8;
    private const int FollowUpWindow = 30;

    private static readonly SearchValues<string> Keywords = SearchValues.Create(OopsPatterns.Keywords.ToArray(), StringComparison.Ordinal);
    private static readonly Regex RipLine = new(@"(?:RIP: [0-9a-f]{4}:(?:\[<[0-9a-f]+>\]\s+)*|^IP: |\bpc : |PC is at )(?<rip>(?<fn>[A-Za-z_.$][\w.$]*)\+0x[0-9a-f]+/0x[0-9a-f]+)", RegexOptions.Compiled);
    private static readonly Regex Frame = new(@"^\s*(?:\[<[0-9a-f]+>\]\s*)?(?<q>\? )?(?<fn>[A-Za-z_.$][\w.$]*)\+0x[0-9a-f]+/0x[0-9a-f]+(?:\s+\[[\w-]+\])?\s*$", RegexOptions.Compiled);
    private static readonly Regex TraceStart = new(@"^\s*(?:Call Trace:|Call trace:|backtrace(?: \(crc [0-9a-f]+\))?:)", RegexOptions.Compiled);
    private static readonly Regex Cr2 = new(@"\bCR2: (?<addr>[0-9a-f]+)", RegexOptions.Compiled);
    private static readonly Regex Register = new(@"\b(?<name>RAX|RBX|RCX|RDX|RSI|RDI|RBP|R8|R9|R10|R11|R12|R13|R14|R15): (?<value>[0-9a-f]{16})\b|\bRSP: [0-9a-f]{4}:(?<rsp>[0-9a-f]{16})", RegexOptions.Compiled);
    private static readonly Regex CpuLine = new(@"\bCPU: \d+ (?:UID: \d+ )?PID: (?<pid>\d+) Comm: (?<comm>\S+)(?: Kdump: \w+)?\s+(?:Tainted: (?<taint>[A-Z ]+?)\s+|Not tainted\s+)(?<ver>\d\S*)", RegexOptions.Compiled);
    private static readonly Regex AccessLine = new(@"^(?<access>Read|Write) of size \d+", RegexOptions.Compiled);
    private static readonly Regex Prompt = new(@"^(?:[\w@.:~/-]*\s?)?[#$] ", RegexOptions.Compiled);
    private static readonly Regex Placeholder = new(@"\{(?<name>\w+)\}", RegexOptions.Compiled);

    private OpenReport? _open;
    private int _lineNumber;
    private int _lastClosedLine = -1_000_000;

    /// <summary>True while a report has started and not ended: a live runner stops its workload on this.</summary>
    public bool InReport => _open is not null;

    /// <summary>Feeds the next raw line. Returns the report this line completed, if any.</summary>
    public OopsReport? Feed(string rawLine)
    {
        _lineNumber++;
        var line = LogLines.Normalize(_lineNumber, rawLine);
        var text = line.Text;
        var header = text.AsSpan().IndexOfAny(Keywords) >= 0 ? MatchHeader(text) : null;
        OopsReport? completed = null;

        if (_open is { } open)
        {
            if (header is { } h && (h.Pattern.FollowUp && open.Lines.Count < MaxReportLines || open.CanMerge(_lineNumber)))
            {
                open.Add(line);
                if (h.Pattern.FollowUp)
                {
                    open.SawEnd = true; // "Kernel panic - not syncing: Fatal exception" closes an oops
                    return Close(ended: true);
                }
                return null;
            }
            if (header is not null)
            {
                completed = Close(ended: true);
            }
            else
            {
                if (open.Stamped && !line.HasTimestamp)
                {
                    // Another program's output interleaved with the kernel's (sshd on the same console).
                    if (++open.ForeignRun > MaxForeignLines || Prompt.IsMatch(text)) return Close(ended: true);
                    return null;
                }
                open.ForeignRun = 0;
                if (!open.Stamped && (Prompt.IsMatch(text) || (text.Length == 0 && open.Frames.Count > 0))) return Close(ended: true);
                open.Add(line);
                if (text.Contains("---[ end trace", StringComparison.Ordinal) || text.Contains("---[ end Kernel panic", StringComparison.Ordinal)
                    || (open.Lines.Count > 2 && text.StartsWith("====================", StringComparison.Ordinal)))
                {
                    open.SawEnd = true;
                    return Close(ended: true);
                }
                if (open.Lines.Count >= MaxReportLines) return Close(ended: true);
                return null;
            }
        }

        if (header is { } hd)
        {
            if (hd.Pattern.FollowUp && _lineNumber - _lastClosedLine <= FollowUpWindow) return completed;
            _open = new OpenReport(hd.Pattern, hd.Match, line);
        }
        return completed;
    }

    /// <summary>Ends the stream: returns the report still open, marked corrupted when it was cut short.</summary>
    public OopsReport? Finish() => _open is null ? null : Close(ended: false);

    private static (OopsPattern Pattern, Match Match)? MatchHeader(string text)
    {
        foreach (var p in OopsPatterns.All)
        {
            var m = p.Header.Match(text);
            if (!m.Success) continue;
            if (p.Exclude is not null && p.Exclude.IsMatch(text)) continue;
            return (p, m);
        }
        return null;
    }

    private OopsReport Close(bool ended)
    {
        var open = _open!;
        _open = null;
        _lastClosedLine = _lineNumber;
        return open.Build(ended);
    }

    private sealed class OpenReport(OopsPattern pattern, Match header, LogLine first)
    {
        public List<LogLine> Lines { get; } = [first];
        public List<(string Name, bool Questionable)> Frames { get; } = [];
        public bool Stamped { get; } = first.HasTimestamp;
        public bool SawEnd { get; set; }
        public int ForeignRun { get; set; }
        private bool _inTrace;
        private bool _traceDone;
        private string? _rip, _ripFunction, _cr2, _access, _comm, _taint, _version;
        private int? _pid;
        private readonly Dictionary<string, string> _registers = new();

        /// <summary>A second header just after the first (kernel BUG → invalid opcode, page fault → Oops) belongs to it.</summary>
        public bool CanMerge(int lineNumber) => Frames.Count == 0 && lineNumber - Lines[0].Number <= MergeWindow;

        public void Add(LogLine line)
        {
            Lines.Add(line);
            var text = line.Text;
            if (!_traceDone)
            {
                if (TraceStart.IsMatch(text))
                {
                    _inTrace = true;
                    return;
                }
                // Sanitizer reports (KCSAN, KFENCE, KMSAN) print frames without a "Call Trace:" line.
                if (!_inTrace && Frames.Count == 0 && Frame.IsMatch(text)) _inTrace = true;
                if (_inTrace)
                {
                    var t = text.Trim();
                    if (t is "<TASK>" or "</TASK>" or "<IRQ>" or "</IRQ>" or "<NMI>" or "</NMI>" or "<EOI>") return;
                    var f = Frame.Match(text);
                    if (f.Success)
                    {
                        Frames.Add((OopsPatterns.CleanFunction(f.Groups["fn"].Value), f.Groups["q"].Success));
                        return;
                    }
                    if (t.Length == 0 && Frames.Count == 0) return;
                    if (Frames.Count > 0) { _inTrace = false; _traceDone = true; }
                }
            }
            if (_rip is null && RipLine.Match(text) is { Success: true } rip)
            {
                _rip = rip.Groups["rip"].Value;
                _ripFunction = OopsPatterns.CleanFunction(rip.Groups["fn"].Value);
                return;
            }
            if (_cr2 is null && Cr2.Match(text) is { Success: true } cr2) _cr2 = cr2.Groups["addr"].Value;
            if (_access is null && AccessLine.Match(text) is { Success: true } acc) _access = acc.Groups["access"].Value;
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

        public OopsReport Build(bool ended)
        {
            var first = Lines[0];
            // Fields the header line itself may carry (an x86 WARNING or CPU line starts some reports).
            var headerCpu = CpuLine.Match(first.Text);
            if (_comm is null && headerCpu.Success)
            {
                _comm = headerCpu.Groups["comm"].Value;
                _pid = int.Parse(headerCpu.Groups["pid"].Value, CultureInfo.InvariantCulture);
                _version = headerCpu.Groups["ver"].Value;
            }
            var function = pattern.Source switch
            {
                FunctionSource.Header when header.Groups["func"].Success => OopsPatterns.CleanFunction(header.Groups["func"].Value),
                FunctionSource.Trace => FirstMeaningfulFrame() ?? UsefulRip(),
                _ => UsefulRip() ?? FirstMeaningfulFrame(),
            };
            if (pattern.Source == FunctionSource.Header && !header.Groups["func"].Success)
                function = UsefulRip() ?? FirstMeaningfulFrame();

            string? fault = header.Groups["addr"].Success ? header.Groups["addr"].Value : null;
            if (fault is null && pattern.Kind is "paging-request" or "null-deref" or "oops") fault = _cr2;
            if (fault is not null && !fault.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) fault = "0x" + fault;

            var title = Placeholder.Replace(pattern.Title, m => m.Groups["name"].Value switch
            {
                "func" => function ?? "\u0000",
                "access" => _access ?? "\u0001",
                var n => header.Groups[n].Success ? header.Groups[n].Value.Trim() : "?",
            });
            title = title.Replace(" \u0001", "").Replace(" in \u0000", "").Replace("\u0000", "");

            var sb = new StringBuilder();
            foreach (var l in Lines) sb.Append(l.Text).Append('\n');
            return new OopsReport
            {
                Title = title,
                Kind = pattern.Kind,
                Function = function,
                FaultAddress = fault?.ToLowerInvariant(),
                Rip = _rip,
                CallTrace = Frames.Where(f => !f.Questionable).Select(f => f.Name).ToList(),
                Registers = new Dictionary<string, string>(_registers),
                Comm = _comm,
                Pid = _pid,
                KernelVersion = _version,
                Taint = _taint,
                StartLine = first.Number,
                EndLine = Lines[^1].Number,
                Corrupted = !ended && !SawEnd && Frames.Count == 0,
                Text = sb.ToString(),
            };
        }

        private string? UsefulRip() =>
            _ripFunction is not null && !OopsPatterns.HelperFrame.IsMatch(_ripFunction) ? _ripFunction : null;

        private string? FirstMeaningfulFrame()
        {
            foreach (var (name, q) in Frames)
                if (!q && !OopsPatterns.HelperFrame.IsMatch(name) && !(pattern.Kind is "memory-leak" or "atomic-sleep" && OopsPatterns.AllocationFrame.IsMatch(name)))
                    return name;
            return null;
        }

        private static string Squash(string s) => string.Join(' ', s.Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }
}
