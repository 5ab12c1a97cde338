//! The `openpartner` binary: everything lives in the library; this only hands over.

/// mimalloc instead of glibc's malloc: allocation was the largest share of the instructions a
/// request costs (see docs/performance.md, "Instructions per request").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// No transparent huge pages: mimalloc asks for them on its arenas, which then become resident
/// 2 MiB at a time. Idle RSS was 44 MB with them and 29 MB without (bench row 7's target is
/// 30 MB); the throughput rows do not need them. Set from an `.init_array` entry, which the C
/// runtime runs before Rust's start-up code makes its first allocation (set in `main`, the
/// first arena's pages were already huge: 32 MB).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static NO_TRANSPARENT_HUGE_PAGES: extern "C" fn() = {
    extern "C" fn disable() {
        // SAFETY: prctl(PR_SET_THP_DISABLE) only sets a flag on this process; it touches no
        // memory and needs nothing initialised.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
    disable
};

fn main() -> std::process::ExitCode {
    openpartner::cli::run()
}
