//! `palisade-engine`: parse arguments, set up tracing, run (see `cli` for exit codes).

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

// Request handling allocates many small short-lived buffers; mimalloc serves them with
// far less overhead than glibc malloc (see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = palisade_engine::cli::Args::parse();
    let filter = EnvFilter::try_from_env("PALISADE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,pingora_core=warn,pingora_proxy=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    palisade_engine::cli::main(args)
}
