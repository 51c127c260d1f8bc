//! WAFs on loopback for the over-HTTP suites: `palisade-engine` in explicit mode in front
//! of a backend, its JSON log followed as it grows, and a raw HTTP/1 client that sends
//! exactly the bytes it is given.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bin;

/// `palisade-engine --config <yaml> --upstream <backend>` on `127.0.0.1:0` (admin too),
/// killed on drop. Its stdout (JSON lines) goes to [`LocalEngine::log_path`].
pub struct LocalEngine {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl LocalEngine {
    /// Starts the engine with config `yaml` and waits (60 s at most: a debug build loads the
    /// whole CRS) for its `listening` event.
    pub fn start(yaml: &str, upstream: SocketAddr) -> LocalEngine {
        let dir = tempfile::Builder::new()
            .prefix(&format!("palisade-engine-{}-", std::process::id()))
            .tempdir()
            .expect("temp dir");
        let config = dir.path().join("engine.yaml");
        std::fs::write(&config, yaml).expect("write engine config");
        let log = dir.path().join("engine.out");
        let err = dir.path().join("engine.err");
        let child = Command::new(bin("palisade-engine"))
            .arg("--config")
            .arg(&config)
            .args(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
            .arg("--upstream")
            .arg(upstream.to_string())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("engine log"))
            .stderr(std::fs::File::create(&err).expect("engine stderr"))
            .spawn()
            .expect("spawn palisade-engine");
        let mut engine = LocalEngine {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            dir,
        };
        let start = Instant::now();
        loop {
            let listening = read_json_lines(&engine.log)
                .into_iter()
                .find(|v| v["type"] == "listening");
            if let Some(ev) = listening {
                engine.addr = ev["listen"][0]
                    .as_str()
                    .and_then(|a| a.parse().ok())
                    .expect("listening event names the address");
                return engine;
            }
            if let Ok(Some(status)) = engine.child.try_wait() {
                panic!(
                    "palisade-engine exited ({status}) before listening: {}",
                    std::fs::read_to_string(engine.dir.path().join("engine.err"))
                        .unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "palisade-engine did not listen within 60 s: {}",
                std::fs::read_to_string(engine.dir.path().join("engine.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The file the engine's JSON lines (access log, lifecycle events) go to.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The engine's stderr so far (tracing), for failure messages.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("engine.err")).unwrap_or_default()
    }
}

impl Drop for LocalEngine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Follows a log file as it grows, line by line.
pub struct LogTail {
    file: std::fs::File,
    partial: Vec<u8>,
    /// Every complete line read so far.
    pub lines: Vec<String>,
}

impl LogTail {
    /// Starts at the current end of `path`.
    pub fn open(path: &Path) -> LogTail {
        let mut file = std::fs::File::open(path).expect("open log");
        file.seek(SeekFrom::End(0)).expect("seek log");
        LogTail {
            file,
            partial: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// Reads what was appended; returns how many complete lines arrived.
    pub fn poll(&mut self) -> usize {
        let mut buf = Vec::new();
        let _ = self.file.read_to_end(&mut buf);
        self.partial.extend_from_slice(&buf);
        let mut n = 0;
        while let Some(p) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=p).collect();
            self.lines
                .push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
            n += 1;
        }
        n
    }

    /// Index of the first line at or after `from` containing `needle`, waiting up to `wait`.
    pub fn wait_for(&mut self, from: usize, needle: &str, wait: Duration) -> Option<usize> {
        let start = Instant::now();
        loop {
            self.poll();
            if let Some(i) = self.lines[from.min(self.lines.len())..]
                .iter()
                .position(|l| l.contains(needle))
            {
                return Some(from + i);
            }
            if start.elapsed() > wait {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Sends `request` as is on a new connection and reads one response: until the peer
/// closes, or the response is complete by its framing, or `timeout` passes with no byte.
/// `Err` when the connection fails or is closed with no response at all (go-ftw's
/// `expect_error`).
pub fn send_raw(addr: SocketAddr, request: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let mut conn =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    conn.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    conn.set_nodelay(true).map_err(|e| e.to_string())?;
    conn.write_all(request).map_err(|e| format!("send: {e}"))?;
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if response_complete(&out) {
                    break;
                }
            }
            Err(e) => {
                if out.is_empty() {
                    return Err(format!("read: {e}"));
                }
                break;
            }
        }
    }
    if out.is_empty() {
        return Err("connection closed without a response".into());
    }
    Ok(out)
}

fn response_complete(resp: &[u8]) -> bool {
    let Some(end) = resp.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&resp[..end]).to_ascii_lowercase();
    let body = &resp[end + 4..];
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if status < 200 || status == 204 || status == 304 {
        return status >= 200;
    }
    for line in head.lines() {
        if let Some(v) = line.strip_prefix("content-length:") {
            return v.trim().parse::<usize>().is_ok_and(|n| body.len() >= n);
        }
        if line.starts_with("transfer-encoding:") && line.contains("chunked") {
            return body.ends_with(b"0\r\n\r\n");
        }
    }
    false
}

/// Debian's nginx with `libnginx-mod-http-modsecurity` (ModSecurity v3) on loopback, in
/// front of a backend, one worker; its audit log in JSON, one transaction a line. Killed
/// on drop.
pub struct ModsecNginx {
    child: Child,
    pub addr: SocketAddr,
    pub audit_log: PathBuf,
    dir: tempfile::TempDir,
}

/// Where Debian installs the ModSecurity connector for nginx.
pub const MODSEC_NGINX_MODULE: &str = "/usr/lib/nginx/modules/ngx_http_modsecurity_module.so";

impl ModsecNginx {
    /// Starts nginx with ModSecurity configured by `rules` (SecLang, written to a file
    /// that is `modsecurity_rules_file`), audit logging to [`ModsecNginx::audit_log`]
    /// appended to it.
    pub fn start(rules: &str, upstream: SocketAddr) -> ModsecNginx {
        let dir = tempfile::Builder::new()
            .prefix(&format!("palisade-modsec-{}-", std::process::id()))
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        let audit_log = d.join("audit.log");
        let conf = d.join("modsec.conf");
        std::fs::write(
            &conf,
            format!(
                "{rules}\nSecAuditEngine On\nSecAuditLogParts ABHZ\nSecAuditLogFormat JSON\nSecAuditLogType Serial\nSecAuditLog {}\n",
                audit_log.display()
            ),
        )
        .expect("write modsec.conf");
        // A free port: bind 0, release, hand it to nginx (nginx cannot report one).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let nginx_conf = d.join("nginx.conf");
        std::fs::write(
            &nginx_conf,
            format!(
                "load_module {MODSEC_NGINX_MODULE};
worker_processes 1;
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 20m;
    server {{
        listen 127.0.0.1:{port};
        modsecurity on;
        modsecurity_rules_file {conf};
        location / {{ proxy_pass http://{upstream}; proxy_http_version 1.1; proxy_set_header Connection \"\"; }}
    }}
}}
",
                d = d.display(),
                conf = conf.display()
            ),
        )
        .expect("write nginx.conf");
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&nginx_conf)
            .arg("-p")
            .arg(d)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("stderr")).expect("nginx stderr"))
            .spawn()
            .expect("spawn nginx");
        let mut nginx = ModsecNginx {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            audit_log,
            dir,
        };
        let start = Instant::now();
        while TcpStream::connect(nginx.addr).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!("nginx exited ({status}): {}", nginx.errors());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "nginx did not listen within 60 s: {}",
                nginx.errors()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        nginx
    }

    /// nginx's stderr and error log, for failure messages.
    pub fn errors(&self) -> String {
        let d = self.dir.path();
        format!(
            "{}{}",
            std::fs::read_to_string(d.join("stderr")).unwrap_or_default(),
            std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
        )
    }
}

impl Drop for ModsecNginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
