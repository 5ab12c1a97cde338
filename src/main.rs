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
// `.init_array.00100`: sorted before mimalloc's own constructor (priority 101 where it has one).
#[unsafe(link_section = ".init_array.00100")]
static NO_TRANSPARENT_HUGE_PAGES: extern "C" fn() = {
    extern "C" fn disable() {
        // SAFETY: prctl(PR_SET_THP_DISABLE) only sets a flag on this process; it touches no
        // memory and needs nothing initialised.
        unsafe {
            // prctl is variadic and reads its arguments as unsigned longs.
            let (on, zero): (libc::c_ulong, libc::c_ulong) = (1, 0);
            libc::prctl(libc::PR_SET_THP_DISABLE, on, zero, zero, zero);
        }
    }
    disable
};

fn main() -> std::process::ExitCode {
    openpartner::cli::run()
}
