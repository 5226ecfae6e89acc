using System.Text.RegularExpressions;

namespace QemuHotplugHarness.Oops;

/// <summary>
/// What Linux stack traces look like and which frames never name a crash: the shared half of every
/// <see cref="StackRule"/>. Regex shorthands: {FUNC} captures a function name (followed by '+' or '.'),
/// {PC} a bracketed address, {SRC} a file:line.
/// </summary>
public static class StackSyntax
{
    internal const RegexOptions Options = RegexOptions.CultureInvariant;

    /// <summary>Expands the shorthands and compiles.</summary>
    public static Regex R(string pattern) => new(Expand(pattern), Options);

    public static string Expand(string pattern) => pattern
        .Replace("{FUNC}", @"([a-zA-Z0-9_]+)(?:\.|\+)", StringComparison.Ordinal)
        .Replace("{PC}", @"\[<?(?:0x)?[0-9a-f]+>?\]", StringComparison.Ordinal)
        .Replace("{SRC}", @"([a-zA-Z0-9\-_/.]+\.[a-z]+:[0-9]+)", StringComparison.Ordinal)
        .Replace("{ADDR}", "0x[0-9a-f]+", StringComparison.Ordinal);

    /// <summary>The part that means "read a stack trace from here".</summary>
    public static Regex Trace { get; } = new("(?!)", Options);

    /// <summary>The faulting instruction: x86 RIP/IP, powerpc NIP, arm64 pc, arm "PC is at".</summary>
    public static Regex RipFrame { get; } = R(@"(?:IP|NIP|pc |PC is at):? (?:(?:[0-9]+:)?(?:{PC} +){0,2}{FUNC}|(?:[0-9]+:)?0x[0-9a-f]+|(?:[0-9]+:)?{PC} +\[< *\(null\)>\] +\(null\)|[0-9]+: +\(null\))");

    public static Regex CallTrace { get; } = R(@"(?:Call (?:T|t)race:)|(?:Backtrace:)");

    /// <summary>Lines after which a stack trace follows; each must have a frame within <see cref="FrameWindow"/> lines.</summary>
    public static IReadOnlyList<Regex> StackStarts { get; } =
    [
        R("Call (?:T|t)race"), R("Allocated:"), R("Allocated by task [0-9]+:"), R("Freed:"), R("Freed by task [0-9]+:"),
        R(@"[^k] backtrace(?: \(crc [0-9a-fA-F]*\))?:"), R("Backtrace:"), R("Uninit was stored to memory at"),
    ];

    public const int FrameWindow = 15;

    /// <summary>A frame line: x86/arm64 "func+0x1/0x2" (an address or two before it), or arm's "(func) from (caller+0x..)".</summary>
    public static IReadOnlyList<Regex> FrameLines { get; } =
    [
        R(@"^ *(?:{PC} ){0,2}{FUNC}"),
        R(@"^ *{PC} \(([a-zA-Z0-9_.]+)\) from {PC} \({FUNC}"),
    ];

    /// <summary>Fault-injection stacks mixed into a report make it unreliable.</summary>
    public static IReadOnlyList<Regex> CorruptedLines { get; } =
    [
        R(@"^( \[<?(?:0x)?[0-9a-f]+>?\])? should_fail(slab)?(\.[a-z0-9.]+)?\+0x"),
    ];

    /// <summary>Syscall wrappers differ by arch and version: frames are named without them (the shortest strip wins).</summary>
    public static IReadOnlyList<string> StripPrefixes { get; } =
    [
        "SYSC_", "SyS_", "sys_", "__x64_", "__ia32_", "__arm64_", "____sys_", "___sys_", "__sys_", "__se_", "__se_sys_",
        "__do_sys_", "compat_SYSC_", "compat_SyS_", "ksys_",
    ];

    /// <summary>Reporting, allocation, locking, string and list helpers, matched as substrings (lock_acquire also skips __lock_acquire).</summary>
    public static IReadOnlyList<string> SkipPatterns { get; } =
    [
        // sanitizers and reporting machinery
        "__sanitizer", "__asan", "kasan", "hwasan", "__msan", "kmsan", "kcsan_setup_watchpoint", "check_memory_region",
        "check_heap_object", "check_object", "read_word_at_a_time", "(read|write)_once_.*nocheck", "print_address_description",
        "panic", "invalid_op", "report_bug", "fixup_bug", "print_report", "print_usage_bug", "do_error", "_trap$|do_trap",
        "show_stack", "dump_stack", "walk_stack", "dump_backtrace", "warn_slowpath", "warn_alloc", "warn_bogus", "__warn",
        "print_tainted", "^get_taint$", "__fortify_report", "assertfail", "hex_dump_to_buffer", "print_hex_dump",
        "stack_trace_consume_entry", "arch_stack_walk", "stack_trace_save", "program_check_exception", "program_check_common",
        // allocation
        "alloc_page", "k?v?(?:m|z|c)alloc", "krealloc", "kmem_cache", "allocate_slab", "__alloc_frozen_pages_noprof",
        "folio_(?:alloc|unlock)", "filemap_alloc_folio", "__filemap_get_folio", "find_or_create_page", "do_read_cache_folio",
        "read_cache_page", "pagecache_get_page", "grab_cache_page_write_begin", "slab_", "memdup", "strdup", "strndup",
        "^kv?free$", "kfree_skb",
        // debug objects and lockdep
        "debug_object", "timer_is_static_object", "work_is_static_object", "print_unlock", "imbalance_bug", "lockdep",
        "(trace|lockdep)_(hard|soft)irq", "bh_enable", "bh_disable", "perf_trace",
        // locks and atomics
        "lock_acquire", "lock_release", "lock_class", "mark_lock", "(reacquire|mark)_held_locks", "raw_spin_rq", "spin_lock",
        "spin_trylock", "spin_unlock", "read_lock", "read_trylock", "write_lock", "write_trylock", "read_unlock", "write_unlock",
        "^down$", "down_read", "down_write", "down_read_trylock", "down_write_trylock", "down_trylock", "up_read", "up_write",
        "^mutex_", "^__mutex_", "^rt_mutex_", "owner_on_cpu", "osq_lock", "osq_unlock", "^(un)?lock_page", "lock_timer_base",
        "atomic(64)?_(dec|inc|read|set|or|xor|and|add|sub|fetch|xchg|cmpxchg|try)", "(set|clear|change|test)_bit",
        "__wake_up", "^refcount_", "^kref_", "ref_tracker", "seqprop_assert", "^complete$", "wait_for_completion", "finish_wait",
        // strings, memory, user copies, lists, trees
        "memcpy", "memcmp", "memset", "memchr", "memmove", "strcmp", "strncmp", "strcpy", "strlcpy", "strncpy", "strscpy",
        "strlen", "strstr", "strnstr", "strnlen", "strchr", "string", "pointer", "snprintf", "scnprintf", "kasprintf",
        "kvasprintf", "printk", "va_format", "copy_to_user", "copy_from_user", "copy_to_iter", "copy_from_iter",
        "copy_page_to_iter", "copy_page_from_iter", "copy_folio_to_iter", "^copyin$", "^copyout$", "put_user", "get_user",
        "might_fault", "might_sleep", "__might_resched", "list_add", "list_del", "list_replace", "list_move", "list_splice",
        "^rb_", "^__rb_", "_indirect_thunk_", "^klist_", "^crc\\d+", "crc_itu_t", "xas_(?:start|load|find)",
        "rhashtable_lookup", "extract_(user|iter)_to_sg", "ida_free",
        // device, work and timer plumbing
        "dev_info", "dev_notice", "dev_warn", "dev_err", "dev_alert", "dev_crit", "dev_emerg", "del_timer", "flush_work",
        "__cancel_work_timer", "cancel_work_sync", "try_to_grab_pending", "flush_workqueue", "drain_workqueue",
        "destroy_workqueue", "queue_work", "insert_work", "__queue_delayed_work", "queue_delayed_work_on", "kthread_stop",
        "kobject_", "add_uevent_var", "get_device_parent", "device_add", "device_del", "device_unregister", "device_destroy",
        "device_release", "devres_release_all", "^put_device$", "hwrng_unregister", "i2c_del_adapter", "__unregister_client",
        "device_for_each_child", "rollback_registered", "unregister_netdev", "sysfs_remove", "device_remove_file",
        "tty_unregister_device", "dummy_urb_enqueue", "usb_kill_urb", "usb_kill_anchored_urbs", "usb_control_msg",
        "usb_hcd_submit_urb", "usb_submit_urb", "__timer_delete_sync", "sk_stop_timer_sync", "__mod_timer",
        "cleanup_srcu_struct",
        // io accessors, inodes, dentries, pages
        "readb$", "readw$", "readl$", "readq$", "writeb$", "writew$", "writel$", "writeq$", "logic_in", "logic_out",
        "^iput$", "^iput_final$", "^ihold$", "drop_nlink", "fast_dput", "dput", "find_lock_entries",
        "truncate_inode_pages_range", "__phys_addr", "mark_buffer_dirty",
        // arm64 fault entry
        "do_(kernel|translation)_fault", "do_mem_abort", "el1_abort", "el1h_64_sync(?:_handler)?",
    ];

    /// <summary>Where stalls and lockups are dispatched from: the frame before the first of these names the stall.</summary>
    public static IReadOnlyList<Regex> StallAnchors { get; } = new[]
    {
        // generic dispatchers (and some of their callers, in case names change)
        "process_one_work", "do_syscall_", "do_fast_syscall_", "sysenter_dispatch", "tracesys_phase2", "el0_svc_handler",
        "invoke_syscall", "ret_fast_syscall", "netif_receive_skb", "do_softirq", "call_timer_fn", "_run_timers",
        "run_timer_softirq", "hrtimer_run", "run_ksoftirqd", "smpboot_thread_fn", "^kthread$", "start_secondary",
        "cpu_startup_entry", "ret_from_fork",
        // discriminating file and device operations
        "vfs_write", "vfs_read", "vfs_iter_read", "vfs_iter_write", "do_iter_read", "do_iter_write", "call_read_iter",
        "call_write_iter", "new_sync_read", "new_sync_write", "vfs_ioctl", "ksys_ioctl", "compat_ioctl", "compat_sys_ioctl",
        "blkdev_driver_ioctl", "blkdev_ioctl", "do_iter_readv_writev", "^call_mmap", "mmap_region", "do_mmap",
        "do_dentry_open", "vfs_open",
        // sockets
        "^sock_sendmsg", "^sock_recvmsg", "^sock_release", "^__sock_release", "^setsockopt$", "kernel_setsockopt",
        "sock_common_setsockopt", "^listen$", "kernel_listen", "sk_common_release", "^sock_mmap", "^accept$",
        "kernel_accept", "^sock_do_ioctl", "^sock_ioctl", "^compat_sock_ioctl", "^nfnetlink_rcv_msg", "^rtnetlink_rcv_msg",
        "^netlink_dump", "^(sys_)?(socketpair|connect|ioctl)",
        // page faults and return to user space
        "__do_fault", "do_page_fault", "^page_fault$", "__fput", "task_work_run", "exit_to_usermode", "smp_call_function",
        "tasklet_action", "tasklet_hi_action",
    }.Select(a => new Regex(a, Options)).ToList();

    /// <summary>Hung tasks wait at these; the synchronize_* family is one bucket.</summary>
    public static IReadOnlyList<(string Anchor, string Name)> HungTaskAnchors { get; } =
    [
        ("rtnl_lock", ""), ("synchronize_rcu", "synchronize_rcu"), ("synchronize_srcu", "synchronize_rcu"),
        ("synchronize_net", "synchronize_rcu"), ("synchronize_sched", "synchronize_rcu"),
    ];

    /// <summary>Scheduler, lock and wait frames a hung task sits in: never its name.</summary>
    public static IReadOnlyList<string> HungTaskSkips { get; } =
    [
        "sched", "_lock", "_slowlock", "down", "rwsem", "completion", "kthread", "wait", "synchronize", "context_switch",
        "__switch_to", "cancel_delayed_work", "rcu_barrier",
    ];
}
