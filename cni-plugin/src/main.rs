//! `palisade-cni`: the CNI plugin binary. All logic lives in the library; other modes
//! (such as `install`) dispatch on the first argument before the CNI protocol below.

fn main() -> std::process::ExitCode {
    palisade_cni_plugin::cni_main()
}
