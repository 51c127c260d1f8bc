//! Start-up, run and drain: binds the listeners, starts the pingora services on our
//! own tokio runtime, flips readiness, reloads on demand and drains on SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pingora::apps::HttpServerOptions;
use pingora::listeners::tls::TlsSettings;
use pingora::proxy::http_proxy;
use pingora::server::configuration::ServerConf;
use pingora::server::{Fds, ListenFds};
use pingora::services::Service as _;
use pingora::services::listening::Service;
use serde::Serialize;
use tokio::sync::watch;

use crate::accesslog::{AccessLog, now_rfc3339};
use crate::admin::Admin;
use crate::config::{Config, Overrides};
use crate::listen::{self, BindError};
use crate::proxy::Engine;
use crate::proxy::front::Front;
use crate::reload::{self, ReloadError};
use crate::state::{BuildError, Shared, Snapshot};

/// Why the engine could not start; each maps to an exit code in `main`.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] BuildError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Reload(#[from] ReloadError),
    #[error("cannot start: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS listener {addr}: {message}")]
    Tls { addr: String, message: String },
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    time: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    listen: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    admin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'a str>,
}

fn event(kind: &str) -> Event<'_> {
    Event {
        kind,
        time: now_rfc3339(),
        listen: Vec::new(),
        tls: None,
        admin: None,
        mode: None,
    }
}

/// Run the engine until SIGTERM/SIGINT has drained it.
pub fn run(
    config: Config,
    config_path: Option<PathBuf>,
    overrides: Overrides,
) -> Result<(), ServerError> {
    run_snapshot(Snapshot::build(config)?, config_path, overrides, None)
}

/// Where the engine listens, once it is ready.
#[derive(Clone, Debug)]
pub struct Listening {
    pub listen: Vec<SocketAddr>,
    pub tls: Option<SocketAddr>,
    pub admin: SocketAddr,
}

/// Run with an already built snapshot (a custom inspector, for embedding and tests);
/// `ready` receives the bound addresses once the engine serves.
pub fn run_snapshot(
    snapshot: Snapshot,
    config_path: Option<PathBuf>,
    overrides: Overrides,
    ready: Option<std::sync::mpsc::Sender<Listening>>,
) -> Result<(), ServerError> {
    let threads = snapshot.config.threads;
    // One worker: a current-thread runtime avoids the work-stealing machinery entirely.
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    let rt = builder
        .thread_name("palisade-worker")
        .enable_all()
        .build()?;
    let res = rt.block_on(serve(snapshot, config_path, overrides, ready));
    rt.shutdown_timeout(Duration::from_millis(200));
    res
}

async fn serve(
    snapshot: Snapshot,
    config_path: Option<PathBuf>,
    overrides: Overrides,
    ready: Option<std::sync::mpsc::Sender<Listening>>,
) -> Result<(), ServerError> {
    let cfg = snapshot.config.clone();
    let mut fds = Fds::new();
    let mut bound = Vec::new();
    for addr in &cfg.listen {
        bound.push(listen::bind(addr, &mut fds)?);
    }
    let tls_bound = match &cfg.tls {
        Some(t) => Some(listen::bind(&t.listen, &mut fds)?),
        None => None,
    };
    let admin_bound = listen::bind(&cfg.admin, &mut fds)?;
    let mut own_ports: Vec<u16> = bound.iter().map(|a| a.port()).collect();
    own_ports.extend(tls_bound.map(|a| a.port()));
    own_ports.push(admin_bound.port());

    let access_log = AccessLog::start()?;
    let shared = Arc::new(Shared::new(
        snapshot,
        access_log.clone(),
        config_path,
        overrides,
        own_ports,
    ));

    let conf = Arc::new(ServerConf {
        threads: cfg.threads,
        ..ServerConf::default()
    });
    let proxy = |h2c: bool| {
        let mut p = http_proxy(&conf, Engine::new(shared.clone()));
        let mut opts = HttpServerOptions::default();
        opts.h2c = h2c;
        p.server_options = Some(opts);
        Arc::new(p)
    };
    let front = Front {
        h1: proxy(false),
        h2c: proxy(true),
        shared: shared.clone(),
    };
    let mut svc = Service::new("palisade".to_string(), front);
    for a in &bound {
        svc.add_tcp(&a.to_string());
    }
    if let (Some(t), Some(a)) = (&cfg.tls, tls_bound) {
        let tls_err = |e: Box<pingora::Error>| ServerError::Tls {
            addr: a.to_string(),
            message: e.to_string(),
        };
        let mut settings = TlsSettings::intermediate(&t.cert, &t.key).map_err(tls_err)?;
        settings.enable_h2();
        svc.add_tls_with_settings(&a.to_string(), None, settings);
    }
    let mut admin = Service::new(
        "palisade-admin".to_string(),
        Admin {
            shared: shared.clone(),
        },
    );
    admin.add_tcp(&admin_bound.to_string());

    let fds: ListenFds = Arc::new(parking_lot::Mutex::new(fds));
    let (proxy_stop, proxy_rx) = watch::channel(false);
    let (admin_stop, admin_rx) = watch::channel(false);
    let f = fds.clone();
    let proxy_task = tokio::spawn(async move { svc.start_service(Some(f), proxy_rx, 1).await });
    let f = fds.clone();
    tokio::spawn(async move { admin.start_service(Some(f), admin_rx, 1).await });

    let _watcher = reload::spawn(shared.clone())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;

    shared.set_ready();
    let mut ev = event("listening");
    ev.listen = bound.iter().map(|a| a.to_string()).collect();
    ev.tls = tls_bound.map(|a| a.to_string());
    ev.admin = Some(admin_bound.to_string());
    ev.mode = Some(if cfg.is_transparent() {
        "transparent"
    } else {
        "explicit"
    });
    access_log.emit_blocking(&ev);
    if let Some(tx) = ready {
        let _ = tx.send(Listening {
            listen: bound.clone(),
            tls: tls_bound,
            admin: admin_bound,
        });
    }
    tracing::info!(listen = ?bound, admin = %admin_bound, "engine ready");

    let signal = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(signal, "draining");
    shared.start_draining();
    let _ = proxy_stop.send(true);
    let drain = Duration::from_millis(shared.snapshot().config.timeouts.drain_ms);
    let started = Instant::now();
    // Every request runs on an open connection, so the connection count covers both.
    while started.elapsed() < drain && (shared.conns.open() > 0 || !proxy_task.is_finished()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = shared.conns.open();
    if left > 0 {
        tracing::warn!(
            connections = left,
            "drain timeout reached; closing remaining connections"
        );
    }
    let _ = admin_stop.send(true);
    access_log.emit_blocking(&event("stopped"));
    access_log.flush();
    Ok(())
}
