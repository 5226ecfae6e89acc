using System.Buffers.Binary;
using System.Text;
using CliWrap;
using CliWrap.Buffered;
using QemuHotplugHarness.Build;

namespace QemuHotplugHarness.Tests.Ci;

/// <summary>What a script of .ci/ did: its exit code and output.</summary>
public sealed record ScriptRun(int Code, string Stdout, string Stderr)
{
    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {Code}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
}

/// <summary>
/// Runs the nightly workflow's scripts (.ci/) directly with bash, as the workflow's jobs do, in a scratch folder of the
/// test with only the variables the test gives (the scripts' other inputs are cleared), and makes the inputs they
/// read: tiny but real .deb packages (dpkg-deb --build), bzImage headers, stub commands on PATH.
/// </summary>
public static class CiScripts
{
    /// <summary>The variables the scripts read: cleared unless a test sets them, so the test machine's own never leak in.</summary>
    private static readonly string[] Inputs =
    [
        "LINES", "KERNEL_LINE", "NIGHTLY_LINES", "KUT_ARTIFACT", "KUT_ARTIFACT_DIR", "KUT_DEBS", "KUT_IMAGE_URL", "KUT_CONFIG_URL",
        "KUT_MODULES_URL", "KUT_GIT", "KUT_REF", "KUT_DIR", "KUT_ARGS_FILE", "CASES", "CASES_ROOT", "QHH_ARGS", "LINE", "SHARD",
        "REPEAT", "DRY_RUN", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "CACHE_KEY_APT_DIR", "CACHE_KEY_MANIFEST",
    ];

    public static string RepoRoot => RepoLayout.Discover().Root;

    /// <summary>Runs <c>bash ROOT/.ci/SCRIPT ARGS</c> in <paramref name="workDir"/>; <paramref name="root"/> defaults to the repository.</summary>
    public static async Task<ScriptRun> RunAsync(string script, string workDir, Dictionary<string, string> env, string[]? args = null,
        string? root = null, string? pathPrefix = null)
    {
        var variables = Inputs.ToDictionary(v => v, v => (string?)null);
        foreach (var (k, v) in env) variables[k] = v;
        if (pathPrefix is not null) variables["PATH"] = pathPrefix + ":" + Environment.GetEnvironmentVariable("PATH");
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var result = await CliWrap.Cli.Wrap("bash").WithArguments([Path.Combine(root ?? RepoRoot, ".ci", script), .. args ?? []])
            .WithWorkingDirectory(workDir).WithEnvironmentVariables(variables).WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(cts.Token);
        return new ScriptRun(result.ExitCode, result.StandardOutput, result.StandardError);
    }

    public static string Scratch(string prefix) => Directory.CreateTempSubdirectory("qhh-ci-" + prefix + "-").FullName;

    /// <summary>
    /// Builds PACKAGE_VERSION_amd64.deb in <paramref name="into"/> with dpkg-deb --build: a control file and the given
    /// payload files (path inside the package → content); its path.
    /// </summary>
    public static string Deb(string into, string package, string version, IReadOnlyDictionary<string, string>? files = null)
    {
        var tree = Path.Combine(Path.GetTempPath(), "qhh-ci-deb-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(Path.Combine(tree, "DEBIAN"));
            File.WriteAllText(Path.Combine(tree, "DEBIAN", "control"),
                $"Package: {package}\nVersion: {version}\nArchitecture: amd64\nMaintainer: Test <test@example.org>\nDescription: test package\n");
            foreach (var (path, content) in files ?? new Dictionary<string, string>())
            {
                var file = Path.Combine(tree, path);
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                File.WriteAllText(file, content);
            }
            Directory.CreateDirectory(into);
            var deb = Path.Combine(into, $"{package}_{version}_amd64.deb");
            var result = CliWrap.Cli.Wrap("dpkg-deb").WithArguments(["--root-owner-group", "-Zgzip", "--build", tree, deb])
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync().GetAwaiter().GetResult();
            Assert.That(result.ExitCode, Is.EqualTo(0), $"dpkg-deb --build {package}: {result.StandardError}");
            return deb;
        }
        finally
        {
            Directory.Delete(tree, recursive: true);
        }
    }

    /// <summary>A file with an x86 boot header naming <paramref name="release"/> (what the harness's <see cref="BzImage"/> reads).</summary>
    public static void BzImageFile(string path, string release)
    {
        var bytes = new byte[4 << 20]; // as big as a small real bzImage: readers that stop early must not break the pipe they read
        "HdrS"u8.CopyTo(bytes.AsSpan(0x202));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x206), 0x020f);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x20E), 0x0900);
        Encoding.ASCII.GetBytes($"{release} (builder@ci) #1 SMP PREEMPT_DYNAMIC\0").CopyTo(bytes.AsSpan(0x200 + 0x0900));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>An executable script NAME in <paramref name="dir"/>.</summary>
    public static void Stub(string dir, string name, string body)
    {
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, "#!/usr/bin/env bash\n" + body);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>
    /// Stub apt-get, apt-cache and dpkg-query in <paramref name="dir"/> that answer from <paramref name="table"/>: lines
    /// "SUITE PACKAGE VERSION", SUITE being a suite's name (asked through a private sources.list), "system" (the
    /// system's apt) or "installed" (dpkg). apt-get appends "update SUITE" to the file apt.log in <paramref name="dir"/>.
    /// </summary>
    public static void AptStubs(string dir, IEnumerable<string> table)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllLines(Path.Combine(dir, "apt.table"), table);
        const string suite = """
            table="$(dirname "$0")/apt.table"
            suite=system
            args=("$@")
            for ((i = 0; i < ${#args[@]}; i++)); do
              if [[ ${args[i]} == Dir::Etc::sourcelist=* ]]; then suite=$(awk '{print $(NF-1)}' "${args[i]#Dir::Etc::sourcelist=}"); fi
            done
            last=${args[${#args[@]}-1]}

            """;
        Stub(dir, "apt-get", suite + "echo \"update $suite\" >>\"$(dirname \"$0\")/apt.log\"\n");
        Stub(dir, "apt-cache", suite + """
            if printf '%s\n' "$@" | grep -qx pkgnames; then awk -v s="$suite" -v p="$last" '$1 == s && index($2, p) == 1 {print $2}' "$table"; exit 0; fi
            v=$(awk -v s="$suite" -v p="$last" '$1 == s && $2 == p {print $3}' "$table")
            [ -n "$v" ] || exit 100
            printf 'Package: %s\nVersion: %s\n\n' "$last" "$v"

            """);
        Stub(dir, "dpkg-query", suite + """
            v=$(awk -v p="$last" '$1 == "installed" && $2 == p {print $3}' "$table")
            [ -n "$v" ] || exit 1
            printf 'install ok installed\t%s\n' "$v"

            """);
    }

    /// <summary>Ignores the calling test, with the reason, when <paramref name="program"/> is not on PATH (curl: the CI container has it, a fresh Debian may not).</summary>
    public static void Require(string program)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));
        if (!found) Assert.Ignore($"{program} is not on PATH (the workflow's containers install it; apt-get install {program})");
    }

    /// <summary>The args file the kernel-under-test script wrote: one argument a line.</summary>
    public static string[] ArgsFile(string path) => File.ReadAllLines(path);
}
