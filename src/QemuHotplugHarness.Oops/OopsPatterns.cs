using System.Text.RegularExpressions;

namespace QemuHotplugHarness.Oops;

/// <summary>Where a report's function comes from.</summary>
public enum FunctionSource
{
    /// <summary>The header names it (group "func"), e.g. WARNING ... at file func+0x/0x, KASAN ... in func.</summary>
    Header,
    /// <summary>The faulting instruction (RIP / pc), else the first meaningful frame of the call trace.</summary>
    Rip,
    /// <summary>The first meaningful frame of the call trace (reports whose RIP is a reporting helper).</summary>
    Trace,
}

/// <summary>
/// One kind of crash: a header regex and a title format. <c>{func}</c> is the function; <c>{name}</c> a named
/// group of the header; <c>{access}</c> "Read"/"Write" from a KASAN access line. " in {func}" is dropped when
/// the function is unknown.
/// </summary>
public sealed record OopsPattern(string Kind, Regex Header, string Title, FunctionSource Source, Regex? Exclude = null, bool FollowUp = false);

/// <summary>The table of crash kinds, in match order (specific before generic). Extend it, not the detector.</summary>
public static class OopsPatterns
{
    private const RegexOptions Opts = RegexOptions.Compiled | RegexOptions.CultureInvariant;
    private static Regex R(string pattern) => new(pattern, Opts);
    private const string Addr = @"(?<addr>(?:0x)?[0-9a-fA-F]+)";
    private const string Func = @"(?<func>[A-Za-z_.$][\w.$]*)";

    public static IReadOnlyList<OopsPattern> All { get; } =
    [
        new("kasan", R($@"BUG: KASAN: (?<type>[\w-]+)(?: in {Func})?"), "KASAN: {type} {access} in {func}", FunctionSource.Header),
        new("kmsan", R($@"BUG: KMSAN: (?<type>[\w-]+)(?: in {Func})?"), "KMSAN: {type} in {func}", FunctionSource.Header),
        new("kcsan", R(@"BUG: KCSAN: (?<type>[\w-]+) in (?<func>[\w.$]+(?: / [\w.$]+)?)"), "KCSAN: {type} in {func}", FunctionSource.Header),
        new("kfence", R($@"BUG: KFENCE: (?<type>[\w-]+(?: (?:read|write))?) in {Func}"), "KFENCE: {type} in {func}", FunctionSource.Header),
        new("ubsan", R(@"UBSAN: (?<type>[\w-]+) in "), "UBSAN: {type} in {func}", FunctionSource.Trace),
        new("paging-request", R($@"BUG: unable to handle page fault for address: {Addr}"), "BUG: unable to handle kernel paging request in {func}", FunctionSource.Rip),
        new("paging-request", R($@"(?:BUG: u|U)nable to handle kernel paging request at (?:virtual address )?{Addr}"), "BUG: unable to handle kernel paging request in {func}", FunctionSource.Rip),
        new("null-deref", R($@"BUG: kernel NULL pointer dereference, address: {Addr}"), "BUG: unable to handle kernel NULL pointer dereference in {func}", FunctionSource.Rip),
        new("null-deref", R($@"(?:BUG: u|U)nable to handle kernel NULL pointer dereference at (?:virtual address )?{Addr}"), "BUG: unable to handle kernel NULL pointer dereference in {func}", FunctionSource.Rip),
        new("gpf", R(@"general protection fault(?:, probably for non-canonical address (?<addr>0x[0-9a-f]+))?(?::|,| \d)"), "general protection fault in {func}", FunctionSource.Rip, Exclude: R(@"traps:|segfault at| ip:")),
        new("kernel-bug", R(@"kernel BUG at (?<file>\S+?)!?$"), "kernel BUG in {func}", FunctionSource.Rip),
        new("lockdep", R(@"WARNING: possible circular locking dependency detected"), "possible deadlock in {func}", FunctionSource.Trace),
        new("lockdep", R(@"WARNING: possible recursive locking detected"), "possible deadlock in {func}", FunctionSource.Trace),
        new("lockdep", R(@"WARNING: possible irq lock inversion dependency detected"), "possible deadlock in {func}", FunctionSource.Trace),
        new("lockdep", R(@"WARNING: inconsistent lock state"), "inconsistent lock state in {func}", FunctionSource.Trace),
        new("warning", R($@"WARNING: CPU: \d+ PID: \d+ at (?<file>\S+) {Func}\+0x"), "WARNING in {func}", FunctionSource.Header),
        new("warning", R($@"WARNING: (?:CPU: \d+ PID: \d+ )?at (?<file>\S+)(?: {Func}\+0x[0-9a-f]+/0x[0-9a-f]+)?"), "WARNING in {func}", FunctionSource.Rip),
        new("soft-lockup", R(@"BUG: soft lockup - CPU#\d+ stuck for \d+s!"), "BUG: soft lockup in {func}", FunctionSource.Rip),
        new("hard-lockup", R(@"Watchdog detected hard LOCKUP on cpu \d+"), "BUG: hard lockup in {func}", FunctionSource.Rip),
        new("rcu-stall", R(@"INFO: rcu_\w+ (?:detected stalls|self-detected stall|detected expedited stalls)"), "INFO: rcu detected stall in {func}", FunctionSource.Rip),
        new("hung-task", R(@"INFO: task (?<comm>.+?):(?<pid>\d+) blocked for more than \d+ seconds"), "INFO: task hung in {func}", FunctionSource.Trace),
        new("atomic-sleep", R(@"BUG: scheduling while atomic: "), "BUG: scheduling while atomic in {func}", FunctionSource.Trace),
        new("atomic-sleep", R(@"BUG: sleeping function called from invalid context at "), "BUG: sleeping function called from invalid context in {func}", FunctionSource.Trace),
        new("bad-page", R(@"BUG: Bad page state in process "), "BUG: Bad page state in {func}", FunctionSource.Trace),
        new("bad-page", R(@"BUG: Bad page map in process "), "BUG: Bad page map in {func}", FunctionSource.Trace),
        new("bad-page", R(@"BUG: Bad rss-counter state "), "BUG: Bad rss-counter state", FunctionSource.Trace),
        new("list-corruption", R(@"(?<op>list_add|list_del|list_add_rcu) corruption"), "BUG: corrupted list in {func}", FunctionSource.Trace),
        new("divide-error", R(@"divide error: [0-9a-f]{4}"), "divide error in {func}", FunctionSource.Rip),
        new("invalid-opcode", R(@"invalid opcode: [0-9a-f]{4}"), "invalid opcode in {func}", FunctionSource.Rip),
        new("double-fault", R(@"(?:PANIC: double fault|double fault: [0-9a-f]{4})"), "double fault in {func}", FunctionSource.Rip),
        new("stack-guard", R(@"BUG: stack guard page was hit at"), "BUG: stack guard page was hit in {func}", FunctionSource.Rip),
        new("memory-leak", R(@"BUG: memory leak|^unreferenced object 0x[0-9a-f]+ \(size \d+\)"), "memory leak in {func}", FunctionSource.Trace),
        new("unhandled-fault", R(@"Unhandled fault: (?<what>[^(]+?) \(0x"), "Unhandled fault in {func}", FunctionSource.Rip),
        new("oops", R(@"(?:Internal error: )?Oops(?: - [\w ]+)?: (?:[0-9a-f]+ )?\[#\d+\]|^Oops\b"), "Oops in {func}", FunctionSource.Rip),
        new("panic", R(@"Kernel panic - not syncing: (?<msg>.+?)\s*(?:\]---)?$"), "kernel panic: {msg}", FunctionSource.Trace, FollowUp: true),
        new("bug", R(@"\bBUG: (?<msg>[^:]+?)(?::|$)"), "BUG: {msg} in {func}", FunctionSource.Rip),
    ];

    /// <summary>Words one of which every header contains: lines without any skip the regexes.</summary>
    public static IReadOnlyList<string> Keywords { get; } =
    [
        "BUG", "WARNING", "UBSAN", "fault", "paging request", "NULL pointer", "Oops", "panic", "LOCKUP", "INFO:",
        "corruption", "divide error", "invalid opcode", "unreferenced object", "Unhandled",
    ];

    /// <summary>Allocator frames: skipped when naming a memory leak (the leak is in the caller).</summary>
    public static Regex AllocationFrame { get; } = R(
        @"^(?:kmalloc\w*|__kmalloc\w*|kmem_cache_alloc\w*|slab_post_alloc_hook|kmemleak_alloc\w*|kzalloc|kcalloc|kvmalloc\w*|__kvmalloc\w*|kmalloc_trace|__alloc_pages\w*|alloc_pages\w*|krealloc|kmemdup|kstrdup)$");

    private static readonly Regex CompilerSuffix = R(@"(?:\.(?:cold|constprop|isra|part|llvm|lto_priv)(?:\.\d+)?)+$");

    /// <summary>Drops compiler suffixes (.cold, .constprop.0, .isra.0, .part.0) so titles do not depend on the compiler.</summary>
    public static string CleanFunction(string name) => CompilerSuffix.Replace(name, "");

    /// <summary>Frames that report a problem rather than cause it: skipped when choosing the function.</summary>
    public static Regex HelperFrame { get; } = R(
        @"^(?:dump_stack\w*|show_stack|show_regs|__show_regs|show_trace_log_lvl|__warn|warn_slowpath\w*|__warn_printk|report_bug|handle_bug|" +
        @"exc_\w+|asm_exc_\w+|do_error_trap|do_trap|die|__die\w*|oops_\w+|panic|nmi_\w+|" +
        @"__schedule\w*|schedule\w*|io_schedule\w*|preempt_schedule\w*|__mutex_lock\w*|mutex_lock\w*|_raw_\w+|do_raw_\w+|" +
        @"lock_acquire|__lock_acquire|lock_release|lock_is_held\w*|down_\w+|__down\w*|rwsem_\w+|__rwsem_\w+|rt_mutex\w*|" +
        @"__ubsan_\w+|ubsan_\w+|kasan_\w+|__kasan_\w+|__asan_\w+|print_report|print_address_description\w*|check_memory_region\w*|" +
        @"kfence_\w+|__kfence_\w+|kmsan_\w+|__msan_\w+|kcsan_\w+|__kcsan_\w+|__tsan_\w+|__sanitizer_\w+|" +
        @"memcpy|memmove|memset|__memcpy|__memmove|__memset|memcpy_\w+|strlen|strcmp|strncmp|strcpy|strscpy|" +
        @"__list_add_valid\w*|__list_del_entry_valid\w*|" +
        @"__might_sleep|__might_resched|___might_sleep|__might_fault|might_fault|" +
        @"rcu_\w*stall\w*|print_cpu_stall\w*|print_other_cpu_stall|check_cpu_stall|rcu_sched_clock_irq|rcu_pending|" +
        @"update_process_times|tick_\w+|hrtimer_\w+|__hrtimer_\w+|sysvec_\w+|asm_sysvec_\w+|__sysvec_\w+|irq_exit\w*|__irq_exit_rcu|" +
        @"watchdog_timer_fn|lockdep_\w+|print_\w+|validate_chain|check_prev_add|check_prevs_add|check_noncircular|mark_lock\w*|" +
        @"__bad_page|bad_page|free_pages_prepare|free_page_is_bad\w*|check_free_page\w*|" +
        @"__stack_chk_fail|" +
        @"entry_SYSCALL\w*|do_syscall_64|do_syscall_x64|ret_from_fork\w*|kthread|worker_thread|process_one_work)$");
}
