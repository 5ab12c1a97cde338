//! The `openpartner` binary: everything lives in the library; this only hands over.

/// mimalloc instead of glibc's malloc: allocation was the largest share of the instructions a
/// request costs (see docs/performance.md, "Instructions per request").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    openpartner::cli::run()
}
