//! The engine in transparent mode inside a pod: a client in the node namespace connects to
//! the pod's app port, `palisade-cni`'s rules REDIRECT it to the engine on :15300, and the
//! engine forwards to the app on loopback using `SO_ORIGINAL_DST`.
//!
//! The engine runs as `nobody` with no capabilities, as in production: reading
//! `SO_ORIGINAL_DST` and binding :15300 need neither.
//!
//! Needs root (`setpriv` from util-linux) and the `palisade-engine` and `palisade-cni`
//! binaries in this target dir (`cargo build -p palisade-engine -p palisade-cni-plugin`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use palisade_tests::{Background, PodConfig, TestNode, TestPod, bin, require_netns_env};
use serde_json::Value;

/// Serves every connection on `listener` from a thread: answers each HTTP request with
/// the request head it received, or echoes lines (`echo: <line>`) when `lines` is set.
fn serve(listener: TcpListener, lines: bool) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || {
                if lines {
                    echo_lines(conn)
                } else {
                    answer_http(conn)
                }
            });
        }
    });
}

fn echo_lines(conn: TcpStream) {
    let mut w = conn.try_clone().unwrap();
    for line in BufReader::new(conn).lines() {
        let Ok(line) = line else { return };
        if w.write_all(format!("echo: {line}\n").as_bytes()).is_err() {
            return;
        }
    }
}

fn answer_http(mut conn: TcpStream) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
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
        let body = format!("app saw:\n{head}");
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if conn.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// The engine with its defaults (transparent mode, :15300, admin :15301) inside the pod,
/// run as in production: as user `nobody` with no capabilities at all.
struct PodEngine {
    process: Background,
    stdout: PathBuf,
    _files: tempfile::TempDir,
}

impl PodEngine {
    fn start(node: &TestNode, pod: &TestPod<'_>, yaml: &str) -> PodEngine {
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
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
        ])
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

    fn events(&self) -> Vec<Value> {
        read_events(&self.stdout)
    }

    fn wait(&self, pred: impl Fn(&Value) -> bool) -> Value {
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

/// Sends one request from the node and returns the whole response.
fn request(node: &TestNode, to: SocketAddr, raw: &str) -> String {
    let mut s = node.netns().connect(to);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Root, the netns tools, and `setpriv` (util-linux) to drop to `nobody`.
fn require_env() -> bool {
    require_netns_env()
        && palisade_tests::require(
            ["/usr/bin/setpriv", "/bin/setpriv"]
                .iter()
                .any(|p| Path::new(p).exists()),
            "setpriv (util-linux) is needed to run the engine as nobody",
        )
}

fn pod_with_app(node: &TestNode) -> TestPod<'_> {
    let pod = node
        .add_pod(PodConfig::injected("web").ipv6())
        .unwrap_or_else(|e| panic!("{e}"));
    pod.netns()
        .exec_ok("sysctl", &["-qw", "net.ipv6.bindv6only=1"]);
    serve(pod.netns().listen("0.0.0.0:8080"), false);
    serve(pod.netns().listen("[::]:8080"), false);
    pod
}

#[test]
fn engine_transparent_forwards_redirected_http_to_app_on_loopback() {
    if !require_env() {
        return;
    }
    let node = TestNode::new("engine_tp_http");
    let pod = pod_with_app(&node);
    let engine = PodEngine::start(&node, &pod, "");
    let mut targets: Vec<IpAddr> = vec![pod.ipv4().into()];
    targets.extend(pod.ipv6().map(IpAddr::from));
    assert_eq!(targets.len(), 2, "pod has IPv4 and IPv6");
    for ip in targets {
        let to = SocketAddr::new(ip, 8080);
        let resp = request(
            &node,
            to,
            "GET /through/engine HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n",
        );
        assert!(resp.starts_with("HTTP/1.1 200"), "{to}: {resp}");
        let lower = resp.to_lowercase();
        assert!(
            lower.contains("app saw:\nget /through/engine http/1.1"),
            "{resp}"
        );
        assert!(
            lower.contains("x-forwarded-for: "),
            "the engine handled it: {resp}"
        );
        assert!(lower.contains("x-request-id: "), "{resp}");
        let loopback = if ip.is_ipv4() {
            "127.0.0.1:8080"
        } else {
            "[::1]:8080"
        };
        let line = engine.wait(|v| {
            v["type"] == "access" && v["path"] == "/through/engine" && v["upstream"] == loopback
        });
        assert_eq!(line["status"], 200, "{line}");
        assert_eq!(line["decision"], "allow");
    }
}

#[test]
fn engine_transparent_answers_limit_violations_before_the_app() {
    if !require_env() {
        return;
    }
    let node = TestNode::new("engine_tp_limit");
    let pod = pod_with_app(&node);
    let engine = PodEngine::start(&node, &pod, "limits:\n  max_uri_bytes: 64\n");
    let to = SocketAddr::from((pod.ipv4(), 8080));
    let long = "a".repeat(200);
    let resp = request(
        &node,
        to,
        &format!("GET /{long} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"),
    );
    assert!(resp.starts_with("HTTP/1.1 414"), "{resp}");
    assert!(!resp.contains("app saw"), "the app never saw it: {resp}");
    let line = engine.wait(|v| v["type"] == "access" && v["status"] == 414);
    assert_eq!(line["decision"], "block");
    assert!(line["upstream"].is_null());
}

#[test]
fn engine_transparent_passes_non_http_through_to_the_original_port() {
    if !require_env() {
        return;
    }
    let node = TestNode::new("engine_tp_tcp");
    let pod = node
        .add_pod(PodConfig::injected("db"))
        .unwrap_or_else(|e| panic!("{e}"));
    serve(pod.netns().listen("0.0.0.0:9000"), true);
    let engine = PodEngine::start(&node, &pod, "");
    let mut s = node.netns().connect((pod.ipv4(), 9000));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    for line in ["hello world", "second line"] {
        s.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut back = String::new();
        reader.read_line(&mut back).unwrap();
        assert_eq!(back, format!("echo: {line}\n"));
    }
    drop(reader);
    drop(s);
    let ev = engine.wait(|v| v["type"] == "tcp");
    assert_eq!(ev["action"], "passthrough");
    assert_eq!(ev["upstream"], "127.0.0.1:9000");
}
