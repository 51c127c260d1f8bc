//! The engine inside a pod, as production runs it: `palisade-engine` in transparent mode
//! (its defaults: :15300, admin :15301) in the pod namespace, as user `nobody` with no
//! capabilities, plus small apps to put behind it. Used by the transparent-mode tests and
//! the demo.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Background, TestNode, TestPod, bin};

/// Answers every HTTP/1.1 request on `listener` (from a thread) with `200` and a body
/// echoing the request head it received (`app saw:\n<head>`); honours `Connection: close`.
pub fn serve_http(listener: TcpListener) {
    serve(listener, answer_http);
}

/// Echoes every line received on `listener` back as `echo: <line>` (a non-HTTP protocol).
pub fn serve_lines(listener: TcpListener) {
    serve(listener, echo_lines);
}

fn serve(listener: TcpListener, handler: fn(TcpStream)) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || handler(conn));
        }
    });
}

fn echo_lines(conn: TcpStream) {
    let Ok(mut w) = conn.try_clone() else { return };
    for line in BufReader::new(conn).lines() {
        let Ok(line) = line else { return };
        if w.write_all(format!("echo: {line}\n").as_bytes()).is_err() {
            return;
        }
    }
}

fn answer_http(mut conn: TcpStream) {
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        // Consume a declared body so the next request on a kept-alive connection parses.
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<u64>())
            })
            .and_then(Result::ok)
            .unwrap_or(0);
        if std::io::copy(&mut (&mut reader).take(length), &mut std::io::sink()).is_err() {
            return;
        }
        let body = format!("app saw:\n{head}");
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if conn.write_all(resp.as_bytes()).is_err()
            || head
                .to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n")
        {
            return;
        }
    }
}

/// The engine with its defaults (transparent mode, :15300, admin :15301) inside the pod,
/// run as in production: as user `nobody` with no capabilities at all.
pub struct PodEngine {
    process: Background,
    stdout: PathBuf,
    _files: tempfile::TempDir,
}

impl PodEngine {
    /// Starts the engine with config `yaml`; panics unless it listens as `nobody` with no
    /// capabilities in transparent mode.
    pub fn start(node: &TestNode, pod: &TestPod<'_>, yaml: &str) -> PodEngine {
        use std::os::unix::fs::PermissionsExt;
        // A directory `nobody` can read, whatever the permissions of the checkout.
        let files = tempfile::tempdir().unwrap();
        std::fs::set_permissions(files.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let engine_bin = files.path().join("palisade-engine");
        std::fs::copy(bin("palisade-engine"), &engine_bin).unwrap();
        let config = files.path().join("engine.yaml");
        std::fs::write(&config, yaml).unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        let stdout = node.dir().join("engine.out");
        let file = std::fs::File::create(&stdout).unwrap();
        let mut cmd = pod.netns().command("setpriv");
        cmd.args(crate::env::AS_NOBODY)
            .arg(&engine_bin)
            .arg("--config")
            .arg(&config)
            .stdout(file)
            .stderr(Stdio::inherit());
        let engine = PodEngine {
            process: pod.netns().spawn_command(&mut cmd),
            stdout,
            _files: files,
        };
        let ev = engine.wait(|v| v["type"] == "listening");
        assert_eq!(ev["mode"], "transparent");
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", engine.process.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        };
        assert_eq!(field("Uid:"), "65534 65534 65534 65534", "runs as nobody");
        assert_eq!(field("CapEff:"), "0000000000000000", "no capabilities");
        engine
    }

    /// Every JSON line the engine printed so far.
    pub fn events(&self) -> Vec<Value> {
        read_events(&self.stdout)
    }

    /// Waits (up to 20 s) for a JSON line matching `pred`.
    pub fn wait(&self, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            if let Some(v) = self.events().into_iter().find(|v| pred(v)) {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "engine output so far: {:?}",
                std::fs::read_to_string(&self.stdout)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn read_events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
