using System.Collections.Concurrent;
using QemuHotplugHarness.Guest;

namespace QemuHotplugHarness.Tests;

/// <summary>
/// After every test of the assembly: no qemu-system process the tests started is still running — neither one this
/// process started (<see cref="QemuProcess.AnyStarted"/>) nor one a qhh child process started (tests report those
/// with <see cref="Seen"/>), nor any qemu-system below this process. Other users' QEMUs on the machine are not
/// looked at. A survivor fails the run (run.ps1 counts a failed one-time teardown) and is killed so it cannot
/// linger.
/// </summary>
[SetUpFixture]
public sealed class NoQemuLeftBehind
{
    private static readonly ConcurrentDictionary<int, byte> Started = new();

    /// <summary>A QEMU pid a test saw (e.g. one started by a qhh process the test ran).</summary>
    public static void Seen(int pid) => Started[pid] = 0;

    [OneTimeSetUp]
    public void Watch() => QemuProcess.AnyStarted += Seen;

    [OneTimeTearDown]
    public void NoneLeft()
    {
        QemuProcess.AnyStarted -= Seen;
        var left = Started.Keys.Concat(Procs.Descendants(Environment.ProcessId)).Distinct()
            .Where(p => Procs.Alive(p) && Procs.CommandLine(p).Contains("qemu-system", StringComparison.Ordinal)).ToList();
        TestContext.Progress.WriteLine($"no-qemu-left check: {Started.Count} QEMU(s) started by the tests, {left.Count} still running");
        if (left.Count == 0) return;
        var lines = left.Select(p => $"{p}: {Procs.CommandLine(p)}").ToList();
        foreach (var pid in left)
        {
            try { System.Diagnostics.Process.GetProcessById(pid).Kill(); } catch (Exception e) when (e is ArgumentException or InvalidOperationException) { }
        }
        Assert.Fail("qemu-system processes outlived the tests (killed now):\n" + string.Join('\n', lines));
    }
}

/// <summary>Small /proc readers for the tests that check processes.</summary>
public static class Procs
{
    /// <summary>A process that exists and is not a zombie (a killed child waits as a zombie until it is reaped).</summary>
    public static bool Alive(int pid)
    {
        try
        {
            var status = $"/proc/{pid}/status";
            return File.Exists(status) && !File.ReadLines(status).Any(l => l.StartsWith("State:", StringComparison.Ordinal) && l.Contains("zombie", StringComparison.Ordinal));
        }
        catch (IOException) { return false; }
    }

    public static string CommandLine(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim(); }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }

    public static int? Parent(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException) { return null; }
    }

    public static IEnumerable<int> All() =>
        Directory.GetDirectories("/proc").Select(d => int.TryParse(Path.GetFileName(d), out var p) ? p : 0).Where(p => p > 0);

    /// <summary>Every process below <paramref name="root"/>.</summary>
    public static IReadOnlyList<int> Descendants(int root)
    {
        var parents = All().Select(p => (Pid: p, Parent: Parent(p))).Where(x => x.Parent is not null).ToList();
        var found = new List<int>();
        var frontier = new Queue<int>([root]);
        while (frontier.TryDequeue(out var p))
            foreach (var child in parents.Where(x => x.Parent == p).Select(x => x.Pid))
            {
                found.Add(child);
                frontier.Enqueue(child);
            }
        return found;
    }

    /// <summary>The first child of <paramref name="parent"/> whose command line contains <paramref name="text"/>, waiting up to <paramref name="timeout"/>.</summary>
    public static async Task<int?> DescendantAsync(int parent, string text, TimeSpan timeout, CancellationToken ct = default)
    {
        int? found = null;
        await Poll.UntilAsync(() => (found = Descendants(parent).FirstOrDefault(p => CommandLine(p).Contains(text, StringComparison.Ordinal)) is var p && p > 0 ? p : null) is not null,
            Deadline.In(timeout), TimeSpan.FromMilliseconds(100), ct);
        return found;
    }
}
