//! `palisade-cni`: a CNI plugin (spec 1.1.0; also 0.3.x, 0.4.0, 1.0.0) that applies
//! Palisade's redirect plan inside an injected pod's network namespace.
//!
//! Exit status 0 with the result (or nothing) on stdout; exit status 1 with a CNI error
//! object on stdout ([`cli::exit`]). Error codes: see [`error::code`] and docs/cni.md.

pub mod apiserver;
pub mod cli;
pub mod cmd;
pub mod conf;
pub mod error;
pub mod install;
pub mod log;
pub mod pod;
pub mod vars;

use std::io::{Read, Write};
use std::process::ExitCode;

/// The plugin entry point: environment and stdin in, JSON out.
pub fn cni_main() -> ExitCode {
    let mut stdin = Vec::new();
    let read = std::io::stdin().read_to_end(&mut stdin);
    log::init(&stdin);
    let version = serde_json::from_slice::<serde_json::Value>(&stdin)
        .ok()
        .and_then(|v| v.get("cniVersion")?.as_str().map(String::from))
        .filter(|v| conf::SUPPORTED_VERSIONS.contains(&v.as_str()))
        .unwrap_or_else(|| "1.1.0".to_string());
    let outcome = match read {
        Ok(_) => cmd::handle(&vars::ProcessEnv, &stdin),
        Err(e) => Err(error::CniError::new(
            error::code::IO_FAILURE,
            format!("reading stdin: {e}"),
        )),
    };
    let mut out = std::io::stdout().lock();
    match outcome {
        Ok(Some(result)) => {
            let _ = writeln!(out, "{result}");
            ExitCode::from(cli::exit::OK)
        }
        Ok(None) => ExitCode::from(cli::exit::OK),
        Err(e) => {
            tracing::error!(code = e.code, msg = %e.msg, details = %e.details, "CNI command failed");
            let _ = writeln!(out, "{}", e.to_json(&version));
            ExitCode::from(cli::exit::FAILURE)
        }
    }
}
