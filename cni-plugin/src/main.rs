//! `palisade-cni`: the CNI plugin binary. All logic lives in the library; other modes
//! (such as `install`) dispatch on the first argument before the CNI protocol below.

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("install") {
        return palisade_cni_plugin::install::cli::main(args);
    }
    palisade_cni_plugin::cni_main()
}
