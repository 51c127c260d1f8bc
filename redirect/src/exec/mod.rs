//! Executors: apply, check and remove a [`Plan`] in the calling thread's network namespace.
//!
//! They shell out to `iptables-restore`/`iptables-save`/`nft` (see docs/redirect.md for why):
//! apply is one atomic transaction per family, check compares the live ruleset with the
//! rendering, remove deletes only what carries Palisade's mark.

mod drift;
mod iptables;
mod nft;

use std::io::Write;
use std::process::{Command, Stdio};

pub use drift::Drift;

use crate::backend::Backend;
use crate::plan::Plan;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(
        "could not run `{program}`: {source}; install Debian's `iptables` and `nftables` packages"
    )]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{program} {args}` failed ({status}): {stderr}")]
    Failed {
        program: String,
        args: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// Runs `program` with `args`, feeding `stdin` when given; returns stdout.
pub(crate) fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, ExecError> {
    tracing::debug!(program, ?args, "running");
    let spawn_err = |source| ExecError::Spawn {
        program: program.to_string(),
        source,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).map_err(spawn_err)?;
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    if !out.status.success() {
        return Err(ExecError::Failed {
            program: program.to_string(),
            args: args.join(" "),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Makes the live ruleset equal to `plan`, atomically per family; applying twice leaves
/// exactly one copy.
pub fn apply(backend: Backend, plan: &Plan) -> Result<(), ExecError> {
    tracing::info!(%backend, v4 = plan.families.v4, v6 = plan.families.v6, "applying redirect plan");
    match backend {
        Backend::Nft => nft::apply(plan),
        _ => iptables::apply(backend, plan),
    }
}

/// Compares the live ruleset with `plan`.
pub fn check(backend: Backend, plan: &Plan) -> Result<Drift, ExecError> {
    match backend {
        Backend::Nft => nft::check(plan),
        _ => iptables::check(backend, plan),
    }
}

/// Removes Palisade's chains, rules and table from `backend`; other rules stay.
pub fn remove(backend: Backend) -> Result<(), ExecError> {
    tracing::info!(%backend, "removing redirect rules");
    match backend {
        Backend::Nft => nft::remove(),
        _ => iptables::remove(backend),
    }
}

/// Removes Palisade's rules from every backend present on this machine: used on DEL, where
/// the backend chosen at ADD time is not known any more.
pub fn remove_all() -> Result<(), ExecError> {
    for backend in Backend::ALL {
        match remove(backend) {
            Err(ExecError::Spawn { program, source }) => {
                tracing::debug!(%backend, program, %source, "backend not installed; nothing to remove")
            }
            // A backend whose ruleset cannot even be read (e.g. no legacy iptables in this
            // kernel) cannot hold Palisade's rules either; failing DEL for it would wedge pods.
            Err(ExecError::Failed {
                program,
                args,
                stderr,
                ..
            }) if is_read(&program, &args) => {
                tracing::debug!(%backend, program, %stderr, "backend unreadable; nothing to remove")
            }
            other => other?,
        }
    }
    Ok(())
}

fn is_read(program: &str, args: &str) -> bool {
    program.ends_with("-save") || (program == "nft" && args.starts_with("list"))
}
