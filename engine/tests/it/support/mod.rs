//! Test harness: the real `palisade-engine` binary, an in-test hyper app, and clients.

pub mod app;
pub mod client;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_palisade-engine");

/// A running engine process, killed on drop.
pub struct Engine {
    child: Child,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub tls: Option<SocketAddr>,
    lines: Arc<Mutex<Vec<String>>>,
    /// The engine's diagnostics (stderr), also echoed to the test's stderr.
    log: Arc<Mutex<Vec<String>>>,
    pub dir: tempfile::TempDir,
    pub config_path: std::path::PathBuf,
}

impl Engine {
    /// Explicit mode in front of `upstream`, with `yaml` as the config file.
    pub fn start(upstream: SocketAddr, yaml: &str) -> Engine {
        Self::start_args(&["--upstream", &upstream.to_string()], yaml, &[])
    }

    /// Any flags (listen/admin default to ephemeral loopback ports) and env vars.
    pub fn start_args(args: &[&str], yaml: &str, env: &[(&str, &str)]) -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("engine.yaml");
        std::fs::write(&config_path, yaml).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("--config").arg(&config_path);
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        if !args.contains(&"--admin") {
            cmd.args(["--admin", "127.0.0.1:0"]);
        }
        // Most tests exercise the proxy without rule files; the ones that test the
        // refusal to start unarmed set this back to false.
        cmd.args(args)
            .env("PALISADE_INSPECTION_ALLOW_NO_RULES", "true")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().expect("spawn palisade-engine");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("{line}");
                sink.lock().unwrap().push(line);
            }
        });
        let mut engine = Engine {
            child,
            log,
            addr: "0.0.0.0:0".parse().unwrap(),
            admin: "0.0.0.0:0".parse().unwrap(),
            tls: None,
            lines,
            dir,
            config_path,
        };
        let ev = engine.wait_event(|v| v["type"] == "listening", Duration::from_secs(30));
        engine.addr = ev["listen"][0].as_str().unwrap().parse().unwrap();
        engine.admin = ev["admin"].as_str().unwrap().parse().unwrap();
        engine.tls = ev["tls"].as_str().map(|s| s.parse().unwrap());
        engine
    }

    /// All JSON lines printed so far.
    pub fn events(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Access log lines so far.
    pub fn access(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|v| v["type"] == "access")
            .collect()
    }

    /// The access log once it has at least `n` lines: a line is written after its response
    /// has been sent. Panics (with the lines seen) after `timeout`.
    pub fn wait_access(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.access();
            if lines.len() >= n {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} access-log lines after {timeout:?}: {:?}",
                lines.len(),
                self.lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for a JSON line matching `pred`; panics (with the lines seen) on timeout.
    pub fn wait_event(&mut self, pred: impl Fn(&Value) -> bool, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            if let Some(v) = self.events().into_iter().find(|v| pred(v)) {
                return v;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "engine exited with {status}; output: {:?}",
                    self.lines.lock().unwrap()
                );
            }
            if start.elapsed() > timeout {
                panic!("timed out; engine output: {:?}", self.lines.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for a diagnostics (stderr) line containing every one of `parts`; returns it.
    pub fn wait_log(&self, parts: &[&str], timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let found = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find(|l| parts.iter().all(|p| l.contains(p)))
                .cloned();
            if let Some(line) = found {
                return line;
            }
            assert!(
                start.elapsed() < timeout,
                "no log line with {parts:?}; stderr: {:?}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), sig).unwrap();
    }

    /// Wait for the process to exit; `None` on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Resident set size in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// GET a path on the admin server: (status, body).
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        let r = client::get(self.admin, path).await;
        (
            r.status().as_u16(),
            String::from_utf8_lossy(r.body()).into_owned(),
        )
    }

    /// The value of a metric sample line starting with `prefix`, or 0, as it is now.
    pub async fn metric(&self, prefix: &str) -> f64 {
        let (_, body) = self.admin_get("/metrics").await;
        sample(&body, prefix)
    }

    /// Replace the config file atomically (rename over it).
    pub fn write_config(&self, yaml: &str) {
        let tmp = self.dir.path().join("engine.yaml.tmp");
        std::fs::write(&tmp, yaml).unwrap();
        std::fs::rename(&tmp, &self.config_path).unwrap();
    }
}

/// The value of the sample line starting with `prefix` in a metrics page, or 0.
pub fn sample(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The metrics page once no request is in flight. A response reaches the client before the
/// engine counts its request, so counters of finished requests are read from this page.
pub async fn settled_metrics(admin: SocketAddr) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body =
            String::from_utf8_lossy(client::get(admin, "/metrics").await.body()).into_owned();
        if sample(&body, "palisade_in_flight_requests ") == 0.0 || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
