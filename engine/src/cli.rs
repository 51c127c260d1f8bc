//! Command line. Exit codes: 0 clean exit (including after a SIGTERM drain), 64 bad
//! configuration or rules (the message names the field, the value and what is
//! allowed), 70 start-up failure (e.g. a port already in use).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::config::{self, Overrides, ProcessEnv};
use crate::server::{self, ServerError};
use crate::state::Snapshot;

pub const EXIT_CONFIG: u8 = 64;
pub const EXIT_SOFTWARE: u8 = 70;

/// Palisade engine: a transparent WAF reverse proxy.
#[derive(Debug, Parser)]
#[command(name = "palisade-engine", version)]
pub struct Args {
    /// YAML config file (reloaded on SIGHUP and on change).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Proxy listen address; repeat for several (default 0.0.0.0:15300 and [::]:15300).
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<String>,
    /// Forward to HOST:PORT (explicit mode) instead of the original destination.
    #[arg(long, value_name = "HOST:PORT")]
    pub upstream: Option<String>,
    /// Admin server address (default 0.0.0.0:15301).
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<String>,
    /// Data-plane worker threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Validate FILE (with the environment and other flags) and exit: 0 valid, 64 not.
    #[arg(long, value_name = "FILE")]
    pub check_config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print SecLang exclusions for the matches in an access log (see docs/tuning.md).
    Tune {
        /// Access-log file (JSON lines); `-` reads stdin.
        #[arg(long, value_name = "FILE")]
        log: PathBuf,
        /// Propose an exclusion only for a (rule, variable) seen at least N times.
        #[arg(long, value_name = "N", default_value_t = 1)]
        min_count: usize,
        /// First id of the generated rules (95000-95999); give files loaded together (the
        /// cluster-wide rules and a pod's own) ranges that do not overlap, e.g. 95500.
        #[arg(long, value_name = "ID", default_value_t = *crate::tune::GENERATED_IDS.start())]
        first_id: u32,
    },
}

fn tune(log: &std::path::Path, opts: crate::tune::Options) -> ExitCode {
    if let Err(e) = opts.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let res = if log.as_os_str() == "-" {
        crate::tune::tune(std::io::stdin().lock(), opts)
    } else {
        match std::fs::File::open(log) {
            Ok(f) => crate::tune::tune(std::io::BufReader::new(f), opts),
            Err(e) => {
                eprintln!("error: --log {}: {e}", log.display());
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    };
    match res {
        Ok(report) => {
            for note in &report.notes {
                eprintln!("{note}");
            }
            if report.rules.is_empty() {
                eprintln!("no exclusions: nothing matched that can be excluded safely");
            }
            print!("{}", report.rules);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_SOFTWARE)
        }
    }
}

impl Args {
    fn overrides(&self) -> Overrides {
        Overrides {
            listen: (!self.listen.is_empty()).then(|| self.listen.clone()),
            upstream: self.upstream.clone(),
            admin: self.admin.clone(),
            threads: self.threads,
        }
    }
}

/// Parse, load, run; returns the process exit code.
pub fn main(args: Args) -> ExitCode {
    if let Some(Command::Tune {
        log,
        min_count,
        first_id,
    }) = &args.command
    {
        let opts = crate::tune::Options {
            min_count: *min_count,
            first_id: *first_id,
        };
        return tune(log, opts);
    }
    let overrides = args.overrides();
    if let Some(path) = &args.check_config {
        let res = config::load(Some(path), &ProcessEnv, &overrides)
            .map_err(crate::state::BuildError::from)
            .and_then(Snapshot::build);
        return match res {
            Ok(_) => {
                println!("{}: configuration is valid", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_CONFIG)
            }
        };
    }
    let cfg = match config::load(args.config.as_deref(), &ProcessEnv, &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match server::run(cfg, args.config.clone(), overrides) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ ServerError::Config(_)) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_SOFTWARE)
        }
    }
}
