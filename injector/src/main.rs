//! `palisade-injector`: everything is in the library ([`palisade_injector::cli`]).

fn main() -> std::process::ExitCode {
    palisade_injector::cli::main()
}
