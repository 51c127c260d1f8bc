//! `palisade-init`: the init-container alternative to `palisade-cni`. Same plan, same
//! library; settings come from flags or `PALISADE_*` environment variables named after the
//! pod annotations.

use std::path::PathBuf;

pub mod probe;

use clap::Parser;
use palisade_api::exit::REDIRECT_MISSING_MARKER;
use palisade_api::names::init_env;
use palisade_api::ports::{DEFAULT_ADMIN_PORT, DEFAULT_CAPTURE_PORT, DEFAULT_ENGINE_ID};
use palisade_api::{EnginePorts, annotations::RedirectFields};
use palisade_redirect::render::{Family, iptables, nft};
use palisade_redirect::{
    Backend, BackendChoice, ConfigError, RedirectConfig, RedirectError, RedirectSettings,
};

/// Exit codes, as documented in `--help` ([`EXIT_CODES`]); the values are the contract's
/// ([`palisade_api::exit`]), which the repair controller relies on.
pub mod exit {
    use palisade_api::exit as api;

    pub const OK: u8 = api::OK;
    /// `--check` found the live rules differ from the plan.
    pub const DRIFT: u8 = api::FAILURE;
    /// Command-line syntax error (clap).
    pub const USAGE: u8 = api::USAGE;
    /// A flag or `PALISADE_*` variable has an invalid value.
    pub const BAD_CONFIG: u8 = api::CONFIG;
    /// `--validate`: the redirect is missing or differs (the pod started before it was in
    /// place); the CNI installer's repair controller looks for this code.
    pub const REDIRECT_MISSING: u8 = api::REDIRECT_MISSING;
    /// The namespace could not be entered or the packet-filter tools failed.
    pub const FAILED: u8 = api::UNAVAILABLE;

    /// The `--help` section; a unit test keeps it in step with the constants above.
    pub const HELP: &str = "\
Exit codes:
  0   rules applied (or printed, removed, or --check found no drift)
  1   --check: the live rules differ from the plan (listed on stderr)
  2   command-line syntax error
  64  invalid value in a flag or PALISADE_* variable
  66  --validate: the redirect rules are missing or differ from the plan
  69  entering the namespace or running iptables-restore/nft failed

Logging: PALISADE_LOG (default info), e.g. PALISADE_LOG=debug.";
}

/// Redirect a pod's inbound TCP to the Palisade engine (run as an init container with
/// NET_ADMIN).
#[derive(Debug, Parser)]
#[command(name = "palisade-init", version, after_help = exit::HELP)]
pub struct Args {
    /// Port the engine captures redirected connections on.
    #[arg(long, env = init_env::CAPTURE_PORT, default_value_t = DEFAULT_CAPTURE_PORT)]
    pub capture_port: u16,
    /// Engine admin port; never redirected.
    #[arg(long, env = init_env::ADMIN_PORT, default_value_t = DEFAULT_ADMIN_PORT)]
    pub admin_port: u16,
    /// Ports never redirected, e.g. `8081,9000-9100`.
    #[arg(long, env = init_env::EXCLUDE_INBOUND_PORTS, default_value = "")]
    pub exclude_inbound_ports: String,
    /// `*` or the only ports redirected, e.g. `8080,8443`.
    #[arg(long, env = init_env::INCLUDE_INBOUND_PORTS, default_value = "*")]
    pub include_inbound_ports: String,
    /// `none` or `istio`.
    #[arg(long, env = init_env::SERVICE_MESH, default_value = "none")]
    pub service_mesh: String,
    /// UID the engine runs as (used by istio-mode OUTPUT rules).
    #[arg(long, env = init_env::ENGINE_UID, default_value_t = DEFAULT_ENGINE_ID)]
    pub engine_uid: u32,
    /// GID the engine runs as (used by istio-mode OUTPUT rules).
    #[arg(long, env = init_env::ENGINE_GID, default_value_t = DEFAULT_ENGINE_ID)]
    pub engine_gid: u32,
    /// `auto`, `nft`, `iptables-nft` or `iptables-legacy`.
    #[arg(long, env = init_env::BACKEND, default_value = "auto")]
    pub backend: String,
    /// Network namespace to act in (`/var/run/netns/NAME`, `/proc/PID/ns/net`); default: our own.
    #[arg(long, env = init_env::NETNS)]
    pub netns: Option<PathBuf>,
    /// Print the rules that would be applied, change nothing.
    #[arg(long, conflicts_with_all = ["check", "remove"])]
    pub dry_run: bool,
    /// Compare the live rules with the plan; exit 1 on drift.
    #[arg(long, conflicts_with = "remove")]
    pub check: bool,
    /// Remove Palisade's rules.
    #[arg(long)]
    pub remove: bool,
    /// Fail the pod when the redirect is not in place (CNI mode, as an init container):
    /// like --check, but exit 66 and write the drift to the termination log.
    #[arg(long, conflicts_with_all = ["check", "remove", "dry_run"])]
    pub validate: bool,
    /// Where --validate writes its finding for `kubectl describe` and the repair controller.
    #[arg(
        long,
        env = init_env::TERMINATION_LOG,
        default_value = "/dev/termination-log"
    )]
    pub termination_log: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Redirect(#[from] RedirectError),
}

impl InitError {
    pub fn exit_code(&self) -> u8 {
        match self {
            InitError::Config(_) => exit::BAD_CONFIG,
            InitError::Redirect(_) => exit::FAILED,
        }
    }
}

/// What a run did; `Display` is what the binary prints on stdout.
#[derive(Debug)]
pub enum Outcome {
    Applied(Backend),
    DryRun(String),
    NoDrift(Backend),
    Drift(Backend, palisade_redirect::Drift),
    /// `--validate` found drift: the pod must not start unprotected.
    Missing(Backend, palisade_redirect::Drift),
    Removed,
}

impl Args {
    /// The redirect config from flags/env; errors name the variable and the value.
    /// Parsed and validated by the contract crate, as the injector and the CNI plugin do.
    pub fn redirect_config(&self) -> Result<RedirectConfig, ConfigError> {
        let engine = EnginePorts {
            capture: self.capture_port,
            admin: self.admin_port,
        };
        let settings = RedirectSettings::parse(
            RedirectFields::INIT_ENV,
            Some(&self.include_inbound_ports),
            Some(&self.exclude_inbound_ports),
            Some(&self.service_mesh),
            engine,
        )?;
        Ok(RedirectConfig {
            engine_uid: self.engine_uid,
            engine_gid: self.engine_gid,
            ..RedirectConfig::new(engine, settings)
        })
    }

    pub fn backend_choice(&self) -> Result<BackendChoice, ConfigError> {
        BackendChoice::parse(init_env::BACKEND, &self.backend)
    }
}

/// Runs the requested action in the target namespace (or our own).
pub fn run(args: &Args) -> Result<Outcome, InitError> {
    let config = args.redirect_config()?;
    let choice = args.backend_choice()?;
    let work = || -> Result<Outcome, RedirectError> {
        if args.dry_run {
            let plan = palisade_redirect::plan_here(&config)?;
            let backend = choice.resolve()?;
            return Ok(Outcome::DryRun(render(backend, &plan)));
        }
        if args.remove {
            palisade_redirect::remove_here(choice)?;
            return Ok(Outcome::Removed);
        }
        if args.check || args.validate {
            let (backend, drift) = palisade_redirect::check_here(&config, choice)?;
            return Ok(match (drift.is_empty(), args.validate) {
                (true, _) => Outcome::NoDrift(backend),
                (false, false) => Outcome::Drift(backend, drift),
                (false, true) => Outcome::Missing(backend, drift),
            });
        }
        let (backend, _) = palisade_redirect::apply_here(&config, choice)?;
        Ok(Outcome::Applied(backend))
    };
    let outcome = match &args.netns {
        // Entering a namespace needs CAP_SYS_ADMIN; an init container already runs in its pod's.
        Some(path) => {
            palisade_redirect::netns::run_in(path, work).map_err(RedirectError::from)??
        }
        None => work()?,
    };
    Ok(outcome)
}

/// The exact input the backend's tool would receive.
pub fn render(backend: Backend, plan: &palisade_redirect::Plan) -> String {
    match backend {
        Backend::Nft => format!("# nft -f -\n{}", nft::apply_script(plan)),
        _ => Family::of(plan.families)
            .into_iter()
            .map(|f| {
                let tool = backend.restore_program(f).unwrap_or("iptables-restore");
                format!("# {tool} -w --noflush\n{}", iptables::render(plan, f))
            })
            .collect(),
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Applied(b) => write!(f, "redirect rules applied ({b})"),
            Outcome::DryRun(s) => f.write_str(s),
            Outcome::NoDrift(b) => write!(f, "redirect rules match the plan ({b})"),
            Outcome::Drift(b, d) => write!(f, "redirect rules differ from the plan ({b}):\n{d}"),
            Outcome::Missing(b, d) => write!(
                f,
                "{REDIRECT_MISSING_MARKER}: the pod's redirect rules differ from the plan ({b}); \
                 was palisade-cni installed on the node when the pod started?\n{d}"
            ),
            Outcome::Removed => f.write_str("redirect rules removed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::exit;

    #[test]
    fn help_lists_every_exit_code() {
        for code in [
            exit::OK,
            exit::DRIFT,
            exit::USAGE,
            exit::BAD_CONFIG,
            exit::REDIRECT_MISSING,
            exit::FAILED,
        ] {
            assert!(
                exit::HELP.contains(&format!("\n  {code:<3} ")),
                "exit code {code} missing from --help"
            );
        }
    }
}
