//! State shared by every connection: the current [`Snapshot`] (swapped atomically on
//! reload), lifecycle flags, metrics and the access log.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;

use crate::accesslog::AccessLog;
use crate::config::{self, Config, ConfigError, EnvSource, Overrides};
use crate::inspect::{Inspector, LimitsInspector, rules};
use crate::metrics::Metrics;
use crate::proxy::body::SpoolBudget;
use crate::proxy::conns::Conns;

/// Everything a request needs from the configuration, built off the hot path.
pub struct Snapshot {
    pub config: Arc<Config>,
    pub limits: LimitsInspector,
    pub rules: Option<Arc<dyn Inspector>>,
    /// Explicit mode: the resolved upstream.
    pub upstream: Option<SocketAddr>,
}

/// Why a configuration could not become a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Rules(#[from] rules::RulesError),
}

impl Snapshot {
    /// Resolve the upstream and load the rules for `config`.
    pub fn build(config: Config) -> Result<Snapshot, BuildError> {
        let rules = rules::load(&config.inspection)?;
        Self::with_inspector(config, rules)
    }

    /// Like [`Snapshot::build`] with a given rule inspector (embedding, tests).
    pub fn with_inspector(
        config: Config,
        rules: Option<Arc<dyn Inspector>>,
    ) -> Result<Snapshot, BuildError> {
        let upstream = match &config.upstream {
            Some(up) => Some(resolve(up)?),
            None => None,
        };
        Ok(Snapshot {
            limits: LimitsInspector::new(config.limits.clone()),
            rules,
            upstream,
            config: Arc::new(config),
        })
    }
}

fn resolve(upstream: &str) -> Result<SocketAddr, ConfigError> {
    let bad = || {
        ConfigError::invalid(
            "upstream",
            upstream,
            "HOST:PORT where HOST resolves, e.g. 127.0.0.1:8080",
        )
    };
    upstream
        .to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}

/// Shared engine state.
pub struct Shared {
    snapshot: ArcSwap<Snapshot>,
    pub metrics: Metrics,
    pub access_log: AccessLog,
    ready: AtomicBool,
    draining: AtomicBool,
    /// Where the config came from, for reloads.
    pub config_path: Option<PathBuf>,
    pub overrides: Overrides,
    /// Ports the engine itself listens on: never an upstream (that would loop).
    pub own_ports: Vec<u16>,
    /// Open client connections (the cap, the drain, later heads' deadlines).
    pub conns: Arc<Conns>,
    /// Request body bytes spilled to `tmp_dir` by all requests (`limits.max_spooled_bytes`).
    pub spool_budget: Arc<SpoolBudget>,
}

impl Shared {
    pub fn new(
        snapshot: Snapshot,
        access_log: AccessLog,
        config_path: Option<PathBuf>,
        overrides: Overrides,
        own_ports: Vec<u16>,
    ) -> Self {
        Shared {
            snapshot: ArcSwap::from_pointee(snapshot),
            metrics: Metrics::new(),
            access_log,
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            config_path,
            overrides,
            own_ports,
            conns: Arc::default(),
            spool_budget: Arc::default(),
        }
    }

    /// The snapshot current at the time of the call.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Ready: listeners up, config and rules loaded, not draining.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.is_draining()
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Re-read the config file and environment, build a new snapshot and swap it in.
    /// On any error the current snapshot stays. Blocking: call off the async workers.
    pub fn reload(&self, env: &dyn EnvSource) -> Result<(), BuildError> {
        let result = config::load(self.config_path.as_deref(), env, &self.overrides)
            .map_err(BuildError::from)
            .and_then(Snapshot::build);
        match result {
            Ok(next) => {
                let old = self.snapshot();
                warn_restart_only(&old.config, &next.config);
                self.snapshot.store(Arc::new(next));
                self.metrics.reloads.with_label_values(&["success"]).inc();
                tracing::info!("configuration reloaded");
                Ok(())
            }
            Err(e) => {
                self.metrics.reloads.with_label_values(&["failure"]).inc();
                tracing::error!(error = %e, "configuration reload rejected; still serving the previous one");
                Err(e)
            }
        }
    }
}

/// Listeners, threads and TLS are bound at start; say so instead of ignoring silently.
fn warn_restart_only(old: &Config, new: &Config) {
    let changed = [
        ("listen", old.listen != new.listen),
        ("admin", old.admin != new.admin),
        ("threads", old.threads != new.threads),
        ("tls", old.tls != new.tls),
    ];
    for (field, differs) in changed {
        if differs {
            tracing::warn!(field, "changed setting takes effect only after a restart");
        }
    }
}
