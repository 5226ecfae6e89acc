using System.Text.RegularExpressions;
using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Build;

public enum PatchState { Applies, AlreadyApplied }

/// <summary>Applies and probes patches with GNU patch (-p1), naming the patch and the rejected hunk on failure.</summary>
public static partial class PatchSeries
{
    /// <summary>The patches of <c>DIR/series</c>, in order.</summary>
    public static IReadOnlyList<string> Read(string dir)
    {
        var series = Path.Combine(dir, "series");
        if (!File.Exists(series)) throw new BadInputException($"{series}: no series file");
        return File.ReadAllLines(series)
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l =>
            {
                var p = Path.Combine(dir, l);
                return File.Exists(p) ? p : throw new BadInputException($"{series}: lists {l}, which does not exist");
            })
            .ToList();
    }

    public static async Task<PatchState> ProbeAsync(ToolRunner runner, string tree, string patch, CancellationToken ct)
    {
        var (state, failure) = await TryProbeAsync(runner, tree, patch, ct);
        return state ?? throw new BadInputException($"patch {Path.GetFileName(patch)} does not apply to {tree}: {failure}");
    }

    /// <summary>Whether the patch applies forward or is already applied (dry runs); neither: null and why (the forward run's failure).</summary>
    public static async Task<(PatchState? State, string Failure)> TryProbeAsync(ToolRunner runner, string tree, string patch, CancellationToken ct)
    {
        string forwardOutput;
        try
        {
            await runner.RunAsync(new ToolCall($"patch {Path.GetFileName(patch)} (dry run)", "patch", ["-p1", "--dry-run", "--batch", "--forward", "-i", patch], tree, TimeSpan.FromMinutes(2)).Quietly(), ct);
            return (PatchState.Applies, "");
        }
        catch (ToolFailedException e)
        {
            forwardOutput = e.Tail;
        }
        try
        {
            await runner.RunAsync(new ToolCall($"patch -R {Path.GetFileName(patch)} (dry run)", "patch", ["-p1", "--dry-run", "--batch", "-R", "-i", patch], tree, TimeSpan.FromMinutes(2)).Quietly(), ct);
            return (PatchState.AlreadyApplied, "");
        }
        catch (ToolFailedException)
        {
            return (null, Describe(forwardOutput));
        }
    }

    /// <summary>The files a -p1 patch reads or writes (its <c>---</c> and <c>+++</c> paths without their first component; /dev/null left out).</summary>
    public static IReadOnlyList<string> TouchedFiles(string patch) =>
        File.ReadLines(patch)
            .Where(l => l.StartsWith("--- ", StringComparison.Ordinal) || l.StartsWith("+++ ", StringComparison.Ordinal))
            .Select(l => l[4..].Split('\t')[0].Trim())
            .Where(p => p != "/dev/null" && p.Contains('/'))
            .Select(p => p[(p.IndexOf('/') + 1)..])
            .Where(p => p.Length > 0 && !p.Split('/').Contains(".."))
            .Distinct(StringComparer.Ordinal)
            .ToList();

    public static async Task ApplyAsync(ToolRunner runner, string tree, string patch, bool reverse, CancellationToken ct)
    {
        try
        {
            string[] args = reverse ? ["-p1", "--batch", "-R", "-i", patch] : ["-p1", "--batch", "--forward", "-i", patch];
            await runner.RunAsync(new ToolCall($"patch {(reverse ? "-R " : "")}{Path.GetFileName(patch)}", "patch", args, tree, TimeSpan.FromMinutes(2)), ct);
        }
        catch (ToolFailedException e)
        {
            throw new BadInputException($"patch {Path.GetFileName(patch)} does not apply to {tree}: {Describe(e.Tail)}");
        }
    }

    /// <summary>Applies every patch that is not yet applied; fails naming the first that does neither.</summary>
    public static async Task ApplySeriesAsync(ToolRunner runner, string tree, IEnumerable<string> patches, CancellationToken ct)
    {
        foreach (var p in patches)
            if (await ProbeAsync(runner, tree, p, ct) == PatchState.Applies)
                await ApplyAsync(runner, tree, p, reverse: false, ct);
    }

    /// <summary>"hunk #1 FAILED at 838 (hw/i386/pc.c)" out of GNU patch's output.</summary>
    public static string Describe(string output)
    {
        var file = FileLine().Match(output);
        var hunk = HunkLine().Match(output);
        if (hunk.Success) return $"hunk #{hunk.Groups[1].Value} FAILED at line {hunk.Groups[2].Value}" + (file.Success ? $" of {file.Groups[1].Value}" : "");
        if (output.Contains("can't find file to patch", StringComparison.Ordinal)) return "a file it patches is missing";
        if (output.Contains("Only garbage", StringComparison.Ordinal)) return "not a patch";
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        return last ?? "patch failed";
    }

    [GeneratedRegex(@"checking file (\S+)")]
    private static partial Regex FileLine();

    [GeneratedRegex(@"Hunk #(\d+) FAILED at (\d+)")]
    private static partial Regex HunkLine();
}
