using QemuHotplugHarness.Oops;

namespace QemuHotplugHarness.Tests.Oops;

public class RustDemanglerTests
{
    [TestCase("_RNvNtCs9jEwPDbx20M_4core9panicking9panic_fmt", "core::panicking::panic_fmt")]
    [TestCase("_RNvCscSpY9Juk0HT_7___rustc17rust_begin_unwind", "__rustc::rust_begin_unwind")]
    [TestCase("_RNvMs3_NtCshgDM7dBCdno_11rust_binder7processNtB5_7Process10update_ref", "<rust_binder::process::Process>::update_ref")]
    [TestCase("memmap_init_zone", "memmap_init_zone")]
    [TestCase("_RNvX", "_RNvX")]
    public void Rust_v0_names_read_as_paths(string symbol, string expected) =>
        Assert.That(RustDemangler.Demangle(symbol), Is.EqualTo(expected));
}
