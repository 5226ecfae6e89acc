using System.ComponentModel;
using QemuHotplugHarness.Oops;
using QemuHotplugHarness.Scenarios;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli.Commands;

public sealed class ScanCommand : Command<ScanCommand.Settings>
{
    /// <summary>
    /// What a lone "-" on the command line becomes before parsing: the parser takes "-" for an option without a
    /// name, so <see cref="HarnessApp"/> passes this instead and scan reads standard input for it.
    /// </summary>
    public const string StdinArgument = "/dev/stdin";

    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FILE...>")]
        [Description("Console logs or dmesg files ('-' reads standard input).")]
        public string[] Files { get; init; } = [];

        [CommandOption("--json")]
        [Description("Write the reports as JSON.")]
        public bool Json { get; init; }

        [CommandOption("--fail-on-oops")]
        [Description("Exit 1 when any report is found.")]
        public bool FailOnOops { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var results = new List<object>();
        var total = 0;
        foreach (var file in settings.Files)
        {
            var stdin = file is "-" or StdinArgument;
            if (!stdin && Directory.Exists(file)) throw new BadInputException($"{file}: a folder, not a log file (name the console.log or dmesg files in it)");
            if (!stdin && !File.Exists(file)) throw new BadInputException($"{file}: no such file");
            using var reader = stdin ? Console.In : new StreamReader(file);
            var reports = OopsScanner.Scan(reader).ToList();
            var groups = OopsDedup.Group(reports);
            total += reports.Count;
            if (settings.Json)
            {
                results.Add(new { file, reports = groups.Select(g => new { g.Title, g.Count, report = g.First }) });
                continue;
            }
            Console.WriteLine(groups.Count == 0 ? $"{file}: no crash reports" : $"{file}: {groups.Count} crash(es), {reports.Count} report(s)");
            foreach (var g in groups)
            {
                var r = g.First;
                Console.WriteLine($"  {g.Title}{(g.Count > 1 ? $" (x{g.Count})" : "")}{(r.Corrupted ? " [corrupted]" : "")}");
                Console.WriteLine($"    lines {r.StartLine}-{r.EndLine}, kind {r.Kind}, function {r.Function ?? "?"}" +
                                  (r.FaultAddress is null ? "" : $", fault address {r.FaultAddress}") +
                                  (r.Comm is null ? "" : $", comm {r.Comm} pid {r.Pid}") +
                                  (r.KernelVersion is null ? "" : $", kernel {r.KernelVersion}"));
                if (r.Rip is not null) Console.WriteLine($"    RIP {r.Rip}");
                if (r.CallTrace.Count > 0) Console.WriteLine($"    trace {string.Join(" <- ", r.CallTrace.Take(8))}");
            }
        }
        if (settings.Json) Console.WriteLine(HarnessJson.Serialize(settings.Files.Length == 1 ? results[0] : results));
        return settings.FailOnOops && total > 0 ? (int)ExitCode.CheckFailed : 0;
    }
}
