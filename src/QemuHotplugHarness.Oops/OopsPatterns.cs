using System.Text.RegularExpressions;
using static QemuHotplugHarness.Oops.StackSyntax;

namespace QemuHotplugHarness.Oops;

/// <summary>
/// The crash table: families in match order, each with its formats (title regex, name template, where the frame comes
/// from, skip list, corrupted rules) and its suppressions. The detector knows no crash by name: extend this table.
/// Titles follow syzkaller's conventions so that crashes deduplicate against syzbot and KCIDB.
/// </summary>
public static class OopsPatterns
{
    private static Regex[] Rs(params string[] patterns) => patterns.Select(R).ToArray();

    private static OopsFormat F(string kind, string title, string template, StackRule? stack = null, string? report = null, params string[] alts) =>
        new() { Kind = kind, Title = R(title), Template = template, Stack = stack, Report = report is null ? null : R(report), Alts = alts };

    private static OopsFormat Plain(string kind, string title, string template, string? report = null) =>
        F(kind, title, template, null, report) with { NoStackTrace = true };

    private static OopsFormat Corrupt(string kind, string title, string template) =>
        F(kind, title, template) with { Corrupted = true };

    /// <summary>Frame from the faulting instruction, then the call trace.</summary>
    private static StackRule FromRip(params string[] skip) => new([RipFrame, CallTrace, Trace], Skip: skip);

    /// <summary>Frame from the call trace only.</summary>
    private static StackRule FromTrace(params string[] skip) => new([CallTrace, Trace], Skip: skip);

    /// <summary>WARNINGs: the RIP (x86) or interrupt frame (powerpc) and what follows, else the call trace.</summary>
    private static StackRule FromWarning(params string[] skip) =>
        new([R($"(?:{RipFrame}|--- interrupt: [0-9]+ at {{FUNC}})"), Trace], [CallTrace, Trace], skip);

    private static StackRule Stall(params Regex[] parts) => new(parts, Choice: FrameChoice.BeforeAnchor);

    private const string Access = @"(?:.*\n)+?.*(Read|Write) (?:of size|at addr) (?:[0-9a-f]+)";
    private const string LockAt = @"(?:.*\n)+?.*at: (?:{PC} +)?{FUNC}";

    public static IReadOnlyList<OopsFamily> Families { get; } =
    [
        new("BUG:",
        [
            F("kasan", "BUG: KASAN:", "KASAN: {1} {3} in {4}",
                new([R("BUG: KASAN: (?:[a-z\\-]+) in {FUNC}"), CallTrace, Trace], Skip: ["kernel_fault", "tag_check", "mem_abort", "^el1_", "^el1h_"]),
                "BUG: KASAN: ([a-z\\-]+) in {FUNC}" + Access, "bad-access in {4}"),
            F("kasan", "BUG: KASAN:", "KASAN: invalid-free in {2}",
                new([R("BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {FUNC}"), CallTrace, Trace], Skip: ["slab_", "kfree", "vunmap", "vfree"]),
                "BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {FUNC}", "invalid-free in {2}"),
            F("kasan", "BUG: KASAN: ([a-z\\-]+) on address(?:.*\\n)+?.*(Read|Write) of size ([0-9]+)", "KASAN: {1} {2}"),
            Corrupt("kasan", "BUG: KASAN: (.*)", "KASAN: {1}"),
            F("kmsan", "BUG: KMSAN: kernel-usb-infoleak", "KMSAN: kernel-usb-infoleak in {2}",
                new([Trace, R("(Local variable .* created at:|Uninit was created at:)"), Trace],
                    Skip: ["alloc_skb", "usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg", "usb_control_msg"]),
                "BUG: KMSAN: kernel-usb-infoleak in {FUNC}", "KMSAN origin in {3}") with { NoStackTrace = true },
            F("kmsan", "BUG: KMSAN:", "KMSAN: {1} in {3}",
                new([Trace, R("(Local variable .* created at:|Uninit was created at:)"), Trace],
                    Skip: ["alloc_skb", "netlink_ack", "netlink_rcv_skb", "_encrypt$", "^(?:crypto|cipher|drbg|rng)_"]),
                "BUG: KMSAN: ([a-z\\-]+) in {FUNC}", "bad-access in {3}") with { NoStackTrace = true },
            F("kcsan", "BUG: KCSAN: data-race", "KCSAN: {1}", report: "BUG: KCSAN: (.*)") with { NoStackTrace = true },
            F("kcsan", "BUG: KCSAN:", "KCSAN: {1}", report: "BUG: KCSAN: (.*)") with { NoStackTrace = true },
            F("kfence", "BUG: KFENCE: (use-after-free|out-of-bounds) (read|write) in {FUNC}", "KFENCE: {1} {2} in {4}",
                new([R("BUG: KFENCE: (?:[a-z\\- ]+) in {FUNC}"), Trace]), null, "bad-access in {4}"),
            F("kfence", "BUG: KFENCE: invalid free in {FUNC}", "KFENCE: invalid free in {2}",
                new([R("BUG: KFENCE: (?:[a-z\\- ]+) in {FUNC}"), Trace]), null, "invalid-free in {2}") with { NoStackTrace = true },
            F("kfence", "BUG: KFENCE: invalid (read|write) in {FUNC}", "KFENCE: invalid {1} in {3}",
                new([R("BUG: KFENCE: (?:[a-z\\- ]+) in {FUNC}"), Trace]), null, "bad-access in {3}"),
            F("kfence", "BUG: KFENCE: memory corruption in {FUNC}", "KFENCE: memory corruption in {2}",
                new([R("BUG: KFENCE: (?:[a-z\\- ]+) in {FUNC}"), Trace])) with { NoStackTrace = true },
            F("paging-request", "BUG: (?:unable to handle kernel paging request|unable to handle page fault for address|Unable to handle kernel data access)",
                "BUG: unable to handle kernel paging request in {1}", FromRip(), null, "bad-access in {1}"),
            F("null-deref", "BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference|Kernel NULL pointer dereference)",
                "BUG: unable to handle kernel NULL pointer dereference in {1}", FromRip(), null, "bad-access in {1}"),
            Corrupt("paging-request", "BUG: (?:unable to handle kernel|Unable to handle kernel)", "BUG: unable to handle kernel"),
            F("spinlock", "BUG: (spinlock|rwlock) (lockup suspected|already unlocked|recursion|cpu recursion|bad magic|wrong owner|wrong CPU|trylock failure on UP)",
                "BUG: {1} {2} in {3}", FromTrace("spin_", "_lock", "_unlock")),
            F("soft-lockup", "BUG: soft lockup", "BUG: soft lockup in {1}", Stall(RipFrame, CallTrace, Trace), null, "stall in {1}"),
            F("lockdep", "BUG: .*still has locks held!", "BUG: still has locks held in {1}", report: "BUG: .*still has locks held!(?:.*\\n)+?.*{PC} +{FUNC}"),
            F("atomic-sleep", "BUG: scheduling while atomic", "BUG: scheduling while atomic in {1}", FromTrace("schedule")),
            F("lockdep", "BUG: lock held when returning to user space", "BUG: lock held when returning to user space in {1}",
                report: "BUG: lock held when returning to user space(?:.*\\n)+?.*leaving the kernel with locks still held" + LockAt) with { NoStackTrace = true },
            F("lockdep", "BUG: bad unlock balance detected!", "BUG: bad unlock balance in {1}", new([R("{PC} +{FUNC}"), CallTrace, Trace])),
            F("lockdep", "BUG: held lock freed!", "BUG: held lock freed in {1}", report: "BUG: held lock freed!(?:.*\\n)+?.*{PC} +{FUNC}"),
            Plain("bad-page", "BUG: Bad rss-counter state", "BUG: Bad rss-counter state"),
            Plain("bad-page", "BUG: non-zero nr_ptes on freeing mm", "BUG: non-zero nr_ptes on freeing mm"),
            Plain("bad-page", "BUG: non-zero nr_pmds on freeing mm", "BUG: non-zero nr_pmds on freeing mm"),
            F("dentry", "BUG: Dentry .* still in use", "BUG: Dentry still in use in {1}",
                report: "BUG: Dentry .* still in use \\([0-9]+\\) \\[(unmount) of ([^\\]]+)\\]", alts: "BUG: Dentry still in use [{1} of {2}]"),
            F("bad-page", "BUG: Bad page (state|cache)", "BUG: Bad page {1} in {2}",
                new([R("page last allocated"), Trace], Skip:
                    ["(free|put|get|update|release)_page", "free_unref", "^_*folio", "truncate_inode_pages", "page_frag_free", "alloc", "vmap", "page_owner"])),
            F("bad-page", "BUG: Bad page map", "BUG: Bad page map"),
            Plain("workqueue", "BUG: workqueue lockup", "BUG: workqueue lockup"),
            F("atomic-sleep", "BUG: sleeping function called from invalid context at (.*)", "BUG: sleeping function called from invalid context in {2}", FromTrace()),
            F("preemptible", "BUG: using ([a-z_]+)\\(\\) in preemptible", "BUG: using {1}() in preemptible code in {2}",
                FromTrace("dump_stack", "preemption", "preempt", "debug_", "processor_id", "this_cpu")),
            F("workqueue", "BUG: workqueue leaked lock or atomic", "BUG: workqueue leaked lock or atomic in {1}",
                report: "BUG: workqueue leaked lock or atomic(?:.*\\n)+?.*last function: ([a-zA-Z0-9_]+)\\n") with { NoStackTrace = true },
            F("memory-leak", "BUG: memory leak", "memory leak in {1}",
                new([R("backtrace(?: \\(crc [0-9a-fA-F]*\\))?:"), Trace],
                    Skip: ["kmemleak", "mmap", "kmem", "slab", "alloc", "create_object", "idr_get", "list_lru_init", "kasprintf", "kvasprintf", "pcpu_create", "strdup", "strndup", "memdup"])),
            F("stack-guard", "BUG: .*stack guard page was hit at", "BUG: stack guard page was hit in {1}", Stall(RipFrame, CallTrace, Trace), null, "stack-overflow in {1}"),
            F("lockdep", "BUG: Invalid wait context", "WARNING: locking bug in {1}", FromTrace("lock_sock", "release_sock")),
            Corrupt("bug", "BUG:[\\s]*(?:\\n|$)", "BUG: corrupted"),
        ], Rs("ODEBUG:", "Boot_DEBUG:", "xlog_status:", "DEBUG:", "BUG: no syscalls can create resource")),

        new("WARNING:",
        [
            F("warning", "WARNING: .*lib/debugobjects\\.c.* (?:debug_print|debug_check|at)", "WARNING: ODEBUG bug in {1}",
                FromWarning("debug_", "rcu", "hrtimer_", "timer_", "work_", "percpu_", "vunmap", "vfree", "__free_", "debug_check", "kobject_")),
            F("warning", "WARNING: .*mm/usercopy\\.c.* (?:usercopy_warn|at)", "WARNING: bad usercopy in {1}", FromWarning("usercopy", "__check")),
            F("warning", "WARNING: .*lib/kobject\\.c.* (?:kobject_|at)", "WARNING: kobject bug in {1}", FromWarning("kobject_")),
            F("warning", "WARNING: .*fs/proc/generic\\.c.* (?:proc_register|at)", "WARNING: proc registration bug in {1}", FromWarning("proc_")),
            F("warning", "WARNING: .*lib/refcount\\.c.* (?:refcount_|at)", "WARNING: refcount bug in {1}", FromWarning("refcount", "kobject_")),
            F("lockdep", "WARNING: .*kernel/locking/lockdep\\.c.*lock_", "WARNING: locking bug in {1}", FromWarning("lock_sock", "release_sock")),
            F("lockdep", "WARNING: .*still has locks held!", "WARNING: still has locks held in {1}", report: "WARNING: .*still has locks held!(?:.*\\n)+?.*at: {FUNC}"),
            F("lockdep", "WARNING: Nested lock was not taken", "WARNING: nested lock was not taken in {1}", FromWarning()),
            F("lockdep", "WARNING: lock held when returning to user space", "WARNING: lock held when returning to user space in {1}",
                report: "WARNING: lock held when returning to user space(?:.*\\n)+?.*leaving the kernel with locks still held" + LockAt) with { NoStackTrace = true },
            F("warning", "WARNING: .*mm/.*\\.c.* k?.?malloc", "WARNING: kmalloc bug in {1}", FromWarning("kmalloc", "krealloc", "slab", "kmem")),
            F("warning", "WARNING: .*mm/vmalloc.c.*__vmalloc_node", "WARNING: zero-size vmalloc in {1}", FromWarning()),
            F("warning", "WARNING: .* usb_submit_urb", "WARNING in {1}/usb_submit_urb",
                FromWarning("usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg", "usb_control_msg")),
            F("warning", "WARNING: {SRC} at 0x[0-9a-f]+, CPU#\\d+", "WARNING in {2}", FromWarning()),
            F("warning", "WARNING: .* at {SRC} {FUNC}", "WARNING in {3}", FromWarning()),
            F("warning", "WARNING: {SRC} at {FUNC}", "WARNING in {3}", FromWarning()),
            F("warning", "WARNING: \\[.*\\] {SRC} at {FUNC}.*", "WARNING in {3}", FromWarning()),
            F("lockdep", "WARNING: possible circular locking dependency detected", "possible deadlock in {1}",
                new([R("at: (?:{PC} +)?{FUNC}"), R("at: (?:{PC} +)?{FUNC}"), Trace], Skip: ["process_one_work", "flush_workqueue", "drain_workqueue", "destroy_workqueue"]),
                "WARNING: possible circular locking dependency detected(?:.*\\n)+?.*is trying to acquire lock"),
            F("lockdep", "WARNING: possible irq lock inversion dependency detected", "possible deadlock in {1}",
                report: "WARNING: possible irq lock inversion dependency detected(?:.*\\n)+?.*just changed the state of lock" + LockAt),
            F("lockdep", "WARNING: .*-safe -> .*-unsafe lock order detected", "possible deadlock in {1}", new([R("which became (?:.*) at:"), Trace])),
            F("lockdep", "WARNING: possible recursive locking detected", "possible deadlock in {1}",
                report: "WARNING: possible recursive locking detected(?:.*\\n)+?.*is trying to acquire lock" + LockAt),
            F("lockdep", "WARNING: inconsistent lock state", "inconsistent lock state in {2}", FromTrace(),
                "WARNING: inconsistent lock state(?:.*\\n)+?.*takes" + LockAt),
            F("rcu", "WARNING: suspicious RCU usage", "WARNING: suspicious RCU usage in {2}", FromTrace("rcu", "kmem", "slab"),
                "WARNING: suspicious RCU usage(?:.*\\n)+?.*?{SRC}"),
            Plain("unwinder", "WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad '([^']+)' value", "WARNING: kernel stack regs has bad '{1}' value"),
            Plain("unwinder", "WARNING: kernel stack frame pointer at [0-9a-f]+ in [^ ]* has bad value", "WARNING: kernel stack frame pointer has bad value"),
            F("lockdep", "WARNING: bad unlock balance detected!", "WARNING: bad unlock balance in {1}", new([R("{PC} +{FUNC}"), CallTrace, Trace])),
            F("lockdep", "WARNING: held lock freed!", "WARNING: held lock freed in {1}", report: "WARNING: held lock freed!(?:.*\\n)+?.*at:(?: {PC})? +{FUNC}"),
            Plain("unwinder", "WARNING: kernel stack regs .* has bad 'bp' value", "WARNING: kernel stack regs has bad value"),
            Plain("unwinder", "WARNING: kernel stack frame pointer .* has bad value", "WARNING: kernel stack regs has bad value"),
            Corrupt("warning", "WARNING:[\\s]*(?:\\n|$)", "WARNING: corrupted"),
        ], Rs("WARNING: /etc/ssh/moduli does not exist, using fixed modulus", "WARNING: workqueue cpumask: online intersect > possible intersect",
            "WARNING: [Tt]he mand mount option", "WARNING: Unsupported flag value\\(s\\) of 0x%x in DT_FLAGS_1", "WARNING: Unprivileged eBPF is enabled with eIBRS",
            "WARNING: fbcon: Driver '(.*)' missed to adjust virtual screen size", "WARNING: See https.* for mitigation options.",
            "WARNING: kernel not compiled with CPU_SRSO", "EXT4-[Ff][Ss](?: \\(.*\\))?:", "(?i)warning: .* uses (deprecated v2 capabilities|wireless extensions)",
            "XFS \\(\\w+\\): WARNING")),

        new("INFO:",
        [
            F("lockdep", "INFO: possible circular locking dependency detected", "possible deadlock in {1}",
                report: "INFO: possible circular locking dependency detected \\](?:.*\\n)+?.*is trying to acquire lock(?:.*\\n)+?.*at: {PC} +{FUNC}"),
            F("lockdep", "INFO: possible irq lock inversion dependency detected", "possible deadlock in {1}",
                report: "INFO: possible irq lock inversion dependency detected \\](?:.*\\n)+?.*just changed the state of lock(?:.*\\n)+?.*at: {PC} +{FUNC}"),
            F("lockdep", "INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected", "possible deadlock in {1}",
                report: "INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected \\](?:.*\\n)+?.*is trying to acquire(?:.*\\n)+?.*at: {PC} +{FUNC}"),
            F("lockdep", "INFO: possible recursive locking detected", "possible deadlock in {1}",
                report: "INFO: possible recursive locking detected \\](?:.*\\n)+?.*is trying to acquire lock(?:.*\\n)+?.*at: {PC} +{FUNC}"),
            F("lockdep", "INFO: inconsistent lock state", "inconsistent lock state in {1}",
                report: "INFO: inconsistent lock state \\](?:.*\\n)+?.*takes(?:.*\\n)+?.*at: {PC} +{FUNC}"),
            F("rcu-stall", "INFO: rcu_\\w+ (?:self-)?detected(?: expedited)? stall", "INFO: rcu detected stall in {1}",
                new([R("apic_timer_interrupt"), RipFrame, Trace], [R("(?:apic_timer_interrupt|Exception stack|el1h_64_irq)"), Trace],
                    ["apic_timer_interrupt", "rcu"], FrameChoice.BeforeAnchor), null, "stall in {1}"),
            F("lockdep", "INFO: trying to register non-static key", "INFO: trying to register non-static key in {1}", FromTrace("stack", "lock", "IRQ")),
            F("rcu", "INFO: suspicious RCU usage", "INFO: suspicious RCU usage in {2}", FromTrace("rcu", "kmem", "slab"), "INFO: suspicious RCU usage(?:.*\\n)+?.*?{SRC}"),
            F("hung-task", "INFO: task .* blocked (?:in I/O wait )?for more than [0-9]+ seconds", "INFO: task hung in {1}",
                new([CallTrace, Trace], Choice: FrameChoice.HungTask), null, "hang in {1}"),
            F("hung-task", "INFO: task .* can't die for more than .* seconds", "INFO: task can't die in {1}", FromTrace("schedule"), null, "hang in {1}"),
            Corrupt("kasan", "INFO: (Freed|Allocated) in (.*)", "INFO: {1} in {2}"),
            Corrupt("info", "INFO:[\\s]*(?:\\n|$)", "INFO: corrupted"),
        ], Rs("INFO: lockdep is turned off", "INFO: Stall ended before state dump start", "INFO: NMI handler", "INFO: recovery required on readonly filesystem",
            "(handler|interrupt).*took too long", "INFO: sys_.* is not present in /proc/kallsyms", "INFO: no syscalls can create resource",
            "rmt_storage:INFO:", "_INFO:")),

        new("Unable to handle kernel",
        [
            F("paging-request", "Unable to handle kernel (paging request|NULL pointer dereference|access to user memory)", "BUG: unable to handle kernel {1} in {2}",
                FromRip(), null, "bad-access in {2}"),
        ], []),

        new("general protection fault",
        [
            F("gpf", "general protection fault.*:", "general protection fault in {1}", FromRip(), null, "bad-access in {1}"),
        ], Rs("general protection fault .* error:\\d+ in ")),

        new("stack segment: ", [F("stack-segment", "stack segment: ", "stack segment fault in {1}", FromRip())], []),

        new("Kernel panic",
        [
            F("panic", "Kernel panic - not syncing: stack-protector:", "kernel panic: stack is corrupted in {1}",
                report: "Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: {FUNC}") with { NoStackTrace = true },
            F("panic", "Kernel panic - not syncing: stack-protector:", "kernel panic: stack is corrupted in {1}", FromTrace("stack_chk"),
                "Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: [a-f0-9]+"),
            F("panic", "Kernel panic - not syncing: corrupted stack end", "kernel panic: corrupted stack end in {1}",
                new([CallTrace, Trace], Skip: ["schedule", "retint_kernel"], Choice: FrameChoice.BeforeAnchor),
                "Kernel panic - not syncing: corrupted stack end detected inside scheduler", "stack-overflow in {1}"),
            F("panic", "Kernel panic - not syncing: kernel stack overflow", "kernel stack overflow in {1}",
                new([CallTrace, Trace], Skip: ["bad_stack"], Choice: FrameChoice.BeforeAnchor), null, "stack-overflow in {1}"),
            F("panic", "Kernel panic - not syncing: Attempted to kill init!", "kernel panic: Attempted to kill init!"),
            F("panic", "Kernel panic - not syncing: Couldn't open N_TTY ldisc for [^ ]+ --- error -[0-9]+", "kernel panic: Couldn't open N_TTY ldisc"),
            Corrupt("panic", "Kernel panic - not syncing: Fatal exception", "kernel panic: Fatal exception"),
            Corrupt("panic", "Kernel panic - not syncing: panic_on_warn set", "kernel panic: panic_on_warn set"),
            Corrupt("panic", "Kernel panic - not syncing: hung_task: blocked tasks", "kernel panic: hung_task: blocked tasks"),
            F("panic", "Kernel panic - not syncing: (.*)", "kernel panic: {1}"),
        ], []),

        new("PANIC: double fault", [F("double-fault", "PANIC: double fault", "PANIC: double fault in {1}", new([RipFrame]))], []),

        new("rust_kernel: panicked",
        [
            F("rust-panic", "rust_kernel: panicked", "{1} in {2}", new([CallTrace, Trace], Skip: [Regex.Escape("__rustc::rust_begin_unwind")]),
                "rust_kernel: panicked at [^\\n]*?\\n(.+?)\\n"),
        ], []),

        new("kernel BUG",
        [
            F("usercopy", "kernel BUG at mm/usercopy.c", "BUG: bad usercopy in {1}", FromTrace("usercopy", "__check")),
            F("list-corruption", "kernel BUG at lib/list_debug.c", "BUG: corrupted list in {1}", FromTrace(), null, "bad-access in {1}"),
            F("kernel-bug", "kernel BUG at (.*)", "kernel BUG in {2}", FromRip("^skb_")),
        ], []),

        new("Kernel BUG", [F("kernel-bug", "Kernel BUG (.*)", "kernel BUG {1}")], []),
        new("BUG kmalloc-", [F("slab", "BUG kmalloc-.*: Object already free", "BUG: Object already free")], []),
        new("divide error:", [F("divide-error", "divide error: ", "divide error in {1}", new([RipFrame]))], []),
        new("divide_error:", [F("divide-error", "divide_error: ", "divide error in {1}", new([RipFrame]))], []),
        new("invalid opcode:", [F("invalid-opcode", "invalid opcode: ", "invalid opcode in {1}", new([RipFrame]))], []),

        new("UBSAN:",
        [
            F("ubsan", "UBSAN:", "UBSAN: undefined-behaviour in {1}", FromTrace("ubsan", "overflow"), "UBSAN: Undefined behaviour in"),
            F("ubsan", "UBSAN: array-index-out-of-bounds in", "UBSAN: array-index-out-of-bounds in {1}", FromTrace("ubsan", "overflow"), null, "bad-access in {1}"),
            F("ubsan", "UBSAN:", "UBSAN: {1} in {2}", FromTrace("ubsan", "overflow"), "UBSAN: (.*?) in"),
        ], []),

        new("Booting the kernel.", [Plain("reboot", "^Booting the kernel", "unexpected kernel reboot")], Rs("Parsing ELF|Decompressing Linux|Unknown parameter '")),
        new("unregister_netdevice: waiting for",
            [Plain("netdev", "unregister_netdevice: waiting for (?:.*) to become free", "unregister_netdevice: waiting for DEV to become free")], []),
        new("VFS: Close: file count is 0", [Plain("vfs", "VFS: Close: file count is 0", "VFS: Close: file count is zero (use-after-free)")], []),
        new("VFS: Busy inodes after unmount", [Plain("vfs", "VFS: Busy inodes after unmount", "VFS: Busy inodes after unmount (use-after-free)")], []),
        new("Internal error:", [F("internal-error", "Internal error:", "Internal error in {1}", FromRip(), null, "bad-access in {1}")], []),
        new("Unhandled fault:", [F("unhandled-fault", "Unhandled fault:", "Unhandled fault in {1}", FromRip(), null, "bad-access in {1}")], []),
        new("Alignment trap:", [F("alignment-trap", "Alignment trap:", "Alignment trap in {1}", FromRip())], []),

        new("trusty: panic",
        [
            F("trusty", "trusty: panic.* ASSERT FAILED", "trusty: ASSERT FAILED: {1}", report: "trusty: panic \\(.*?\\):(?: DEBUG)? ASSERT FAILED at \\(.*?\\): (.+)") with { NoStackTrace = true },
            Corrupt("trusty", "trusty: panic.* ASSERT FAILED.*: *(.*)", "trusty: ASSERT FAILED: {1}"),
            F("trusty", "trusty: panic", "trusty: panic: {1}", report: "trusty: panic \\(.*?\\): (.+)") with { NoStackTrace = true },
        ], []),

        new("fatal error:", [Plain("go-runtime", "fatal error:", "go runtime error")], Rs("ALSA", "fatal error: cannot create timer")),
        new("SYZFAIL:", [Plain("syzfail", "SYZFAIL:(.*)", "SYZFAIL:{1}")], []),
        new("SYZFATAL:", [Plain("syzfatal", "SYZFATAL:(.*)()", "SYZFATAL:{1}") with { Alts = ["SYZFATAL{2}"] }], []),
        new("panic:",
        [
            Plain("go-panic", "panic: Sentry detected .* stuck task", "panic: Sentry detected stuck tasks"),
            Plain("go-panic", "panic:(.*)", "panic:{1}"),
        ], Rs("_panic:", "xlog_status:", "ddb\\.onpanic:", "evtlog_status:")),

        // This harness's own additions, for kernels and configs syzkaller's corpus does not cover.
        new("Watchdog detected hard LOCKUP", [F("hard-lockup", "Watchdog detected hard LOCKUP", "BUG: hard lockup in {1}", Stall(RipFrame, CallTrace, Trace))], []),
        new("unreferenced object 0x",
        [
            F("memory-leak", "unreferenced object 0x[0-9a-f]+ \\(size \\d+\\)", "memory leak in {1}",
                new([R("backtrace(?: \\(crc [0-9a-fA-F]*\\))?:"), Trace],
                    Skip: ["kmemleak", "mmap", "kmem", "slab", "alloc", "create_object", "idr_get", "list_lru_init", "kasprintf", "kvasprintf", "pcpu_create", "strdup", "strndup", "memdup"])),
        ], []) { Require = R("^unreferenced object 0x[0-9a-f]+ \\(size") },
        new("Oops", [F("oops", "Oops", "Oops in {1}", FromRip())], Rs("Internal error:")) { Require = R(@"^Oops(?: - [\w ]+)?: (?:[0-9a-f]+ )?\[#\d+\]") },
    ];

    /// <summary>Headers that never start a report of their own while one is open: they belong to it (BUG → invalid opcode, WARNING → panic).</summary>
    public static IReadOnlyList<Regex> Continuations { get; } = Rs(
        "invalid opcode: 0000", "Kernel panic - not syncing", "unregister_netdevice: waiting for", "PANIC: double fault", "Internal error:",
        "unreferenced object 0x", "Oops");

    /// <summary>Reports that print a stack of their own but are not bugs: inside another report, they cut it short.</summary>
    public static IReadOnlyList<string> InfoWithStack { get; } = ["vmalloc: allocation failure:", "FAULT_INJECTION: forcing a failure", "FAULT_FLAG_ALLOW_RETRY missing"];

    /// <summary>Words one of which every family header contains: lines without any skip the table.</summary>
    public static IReadOnlyList<string> Keywords { get; } = Families.Select(f => f.Header).Distinct().ToList();

    private static readonly Regex CompilerSuffix = new(@"(?:\.(?:cold|constprop|isra|part|llvm|lto_priv)(?:\.\d+)?)+$", RegexOptions.CultureInvariant);

    /// <summary>Drops compiler suffixes (.cold, .constprop.0, .isra.0, .part.0) so titles do not depend on the compiler.</summary>
    public static string CleanFunction(string name) => CompilerSuffix.Replace(name, "");
}
