//! `palisade-cni`: everything is in the library ([`palisade_cni_plugin::cli`]).

fn main() -> std::process::ExitCode {
    palisade_cni_plugin::cli::main()
}
