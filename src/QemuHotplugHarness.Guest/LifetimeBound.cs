using System.Collections.Concurrent;

namespace QemuHotplugHarness.Guest;

/// <summary>
/// Child processes that cannot outlive the harness, even when it is killed with SIGKILL and runs no cleanup: they
/// start under <c>setpriv --pdeathsig KILL</c> (util-linux), so the kernel kills them when their parent dies. The
/// kernel ties that signal to the parent *thread* that forked, and .NET forks on the calling thread; pool threads
/// retire when idle, so every such child is started from one dedicated thread that lives as long as the process.
/// </summary>
public static class LifetimeBound
{
    public const string Setpriv = "/usr/bin/setpriv";

    private static readonly BlockingCollection<Action> Starts = new();
    private static readonly Lazy<Thread> Spawner = new(() =>
    {
        var thread = new Thread(() => { foreach (var start in Starts.GetConsumingEnumerable()) start(); })
        {
            IsBackground = true, Name = "qhh-lifetime-bound-spawner",
        };
        thread.Start();
        return thread;
    });

    /// <summary>True when children can be bound to the harness's life (setpriv is installed).</summary>
    public static bool Available => File.Exists(Setpriv);

    /// <summary>The program and arguments that run <paramref name="exe"/> bound to this process's life (unchanged without setpriv).</summary>
    public static (string Exe, IReadOnlyList<string> Args) Wrap(string exe, IReadOnlyList<string> args) =>
        Available ? (Setpriv, ["--pdeathsig", "KILL", "--", exe, .. args]) : (exe, args);

    /// <summary>Runs <paramref name="start"/> (which forks the child) on the spawner thread and returns what it returned.</summary>
    public static T Start<T>(Func<T> start)
    {
        _ = Spawner.Value;
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Starts.Add(() =>
        {
            try { result.SetResult(start()); }
            catch (Exception e) { result.SetException(e); }
        });
        return result.Task.GetAwaiter().GetResult();
    }
}
