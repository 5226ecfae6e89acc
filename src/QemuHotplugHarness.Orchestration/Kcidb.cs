using System.Security.Cryptography;
using System.Text.Json.Nodes;
using QemuHotplugHarness.Simulator;

namespace QemuHotplugHarness.Orchestration;

/// <summary>KernelCI's KCIDB I/O (schema v5.3): one checkout, one build per kernel variant, one test per cell.</summary>
public static class Kcidb
{
    public const string Origin = "qemu_hotplug_harness";

    public static JsonObject Build(Summary s, string artifacts, IReadOnlyList<string> patchFiles)
    {
        var root = Path.GetFullPath(artifacts);
        var patchHash = patchFiles.Count == 0 ? "" : Sha256(string.Concat(patchFiles.Select(p => Sha256(File.ReadAllText(p)) + "\n")));
        var checkoutId = $"{Origin}:{(patchHash.Length > 0 ? patchHash[..16] : "nopatch")}-{s.StartedAt.ToUnixTimeSeconds()}";
        var checkout = new JsonObject
        {
            ["id"] = checkoutId, ["origin"] = Origin, ["tree_name"] = "linux-source-6.1",
            ["patchset_files"] = new JsonArray(patchFiles.Select(p => (JsonNode)Resource(Path.GetFileName(p), p)).ToArray()),
            ["patchset_hash"] = patchHash, ["start_time"] = s.StartedAt.ToString("o"), ["valid"] = true,
            ["comment"] = "mm/sparse: never partially remove memmap for early section",
        };
        var builds = new JsonArray();
        var tests = new JsonArray();
        foreach (var variant in s.Cells.GroupBy(c => c.Scenario.Kernel.Image ?? c.Scenario.Kernel.Variant.ToString().ToLowerInvariant()))
        {
            var release = variant.Select(c => c.Observation.KernelRelease).FirstOrDefault(r => r is not null) ?? "unknown";
            var buildId = $"{checkoutId}-{variant.Key}";
            builds.Add(new JsonObject
            {
                ["id"] = buildId, ["checkout_id"] = checkoutId, ["origin"] = Origin, ["architecture"] = "x86_64",
                ["config_name"] = "tinyconfig+hotplug", ["comment"] = $"{variant.Key} kernel {release}",
                ["status"] = variant.Any(c => c.Observation.KernelRelease is not null) ? "PASS" : "MISS",
            });
            foreach (var c in variant)
            {
                var dir = Path.Combine(root, c.Folder);
                var outputs = new[] { "dmesg.txt", "ndctl.log", "qemu-cmdline.txt", "observation.json", "prediction.json" }
                    .Concat(Directory.Exists(dir) ? Directory.GetFiles(dir, "oops-*.txt").Select(Path.GetFileName).OfType<string>() : [])
                    .Where(f => File.Exists(Path.Combine(dir, f)))
                    .Select(f => (JsonNode)Resource(f, Path.Combine(dir, f))).ToArray();
                var test = new JsonObject
                {
                    ["id"] = $"{buildId}-{Slug(c.Name)}-{c.Repeat}", ["build_id"] = buildId, ["origin"] = Origin,
                    ["path"] = "mm.sparse_hotplug." + Slug(c.Name), ["status"] = Status(c),
                    ["start_time"] = s.StartedAt.ToString("o"), ["duration"] = c.Observation.Seconds,
                    ["comment"] = $"predicted {c.Prediction.Outcome}, observed {c.Observation.Outcome}" + (c.Match ? "" : "; " + string.Join("; ", c.Mismatches)),
                    ["output_files"] = new JsonArray(outputs),
                    ["environment"] = new JsonObject { ["comment"] = $"QEMU {c.Scenario.Qemu.ToString().ToLowerInvariant()}, accel {c.Observation.Accel}, PSE {(c.Scenario.Cpu.Pse ? "on" : "off")}" },
                };
                if (File.Exists(Path.Combine(dir, "console.log"))) test["log_url"] = FileUri(Path.Combine(dir, "console.log"));
                if (c.Observation.Oopses.FirstOrDefault() is { } oops) test["log_excerpt"] = oops.Title;
                tests.Add(test);
            }
        }
        return new JsonObject
        {
            ["version"] = new JsonObject { ["major"] = 5, ["minor"] = 3 },
            ["checkouts"] = new JsonArray(checkout), ["builds"] = builds, ["tests"] = tests,
        };
    }

    /// <summary>FAIL: the kernel crashed; PASS: it behaved as predicted without crashing; ERROR: the run could not say.</summary>
    public static string Status(SummaryCell c) => c.Observation.Outcome switch
    {
        Outcomes.Oops => "FAIL",
        Outcomes.Clean or Outcomes.Rejected when c.Match => "PASS",
        _ => "ERROR",
    };

    private static JsonObject Resource(string name, string path) => new() { ["name"] = name, ["url"] = FileUri(path) };
    private static string FileUri(string path) => new Uri(Path.GetFullPath(path)).AbsoluteUri;
    private static string Slug(string s) => string.Concat(s.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_' ? ch : '_'));
    private static string Sha256(string s) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(s)));
}
