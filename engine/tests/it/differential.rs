//! Issue #9: the engine's view of a request equals what real HTTP servers behind it
//! receive. Debian nginx, Python's `http.server` and a Node `http` server each log every
//! request they hand to their application code (method, target, body); the engine runs
//! in monitor mode with one rule whose message is the rule engine's own view
//! (`REQUEST_METHOD`, `REQUEST_URI`, `REQUEST_BODY`). A generated family of request
//! lines, header forms, framings and targets is sent over raw sockets, and every
//! request an app received must have been inspected with the same method, target and
//! body. A request that reaches an app without a matching inspection is a bypass.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::Engine;

/// The rule engine's view, as a message the access log carries in monitor mode.
const VIEW_RULE: &str = "SecRuleRemoveById 200000-200010\nSecAction \"id:1,phase:2,deny,status:403,msg:'VIEW|%{REQUEST_METHOD}|%{REQUEST_URI}|%{REQUEST_BODY}'\"\n";

const PYTHON_APP: &str = r#"
import http.server, json, sys
log = open(sys.argv[1], 'a', buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def body(self):
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            out = b''
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        want = int(self.headers.get('Content-Length') or 0)
        out = self.rfile.read(want)
        # A short read is a client that went away mid-body (werkzeug raises
        # ClientDisconnected): a real app never handles it as a request.
        if len(out) != want:
            raise EOFError('short body')
        return out
    def any(self):
        try:
            body = self.body()
        except Exception:
            self.send_error(400)
            return
        log.write(json.dumps({'method': self.command, 'target': self.path,
                              'body': body.decode('latin-1')}) + '\n')
        self.send_response(200)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = any
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

const NODE_APP: &str = r#"
const http = require('http');
const fs = require('fs');
const log = fs.openSync(process.argv[2], 'a');
const srv = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    fs.writeSync(log, JSON.stringify({ method: req.method, target: req.url,
      body: Buffer.concat(chunks).toString('latin1') }) + '\n');
    res.writeHead(200, { 'content-length': 2 });
    res.end('ok');
  });
});
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
"#;

/// An app server process, killed on drop, and the file it logs requests to.
struct App {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

/// Needs the binary; fails under CI=true, skips otherwise.
fn require(bin: &str) -> bool {
    let why = format!("{bin} not found (scripts/deps.sh installs it)");
    palisade_api::testing::require(which(bin), &why)
}

/// Start a script that prints its port on the first line of stdout.
fn script_app(name: &'static str, cmd: &str, script: &str, dir: &Path) -> App {
    let path = dir.join(format!("{name}-app"));
    std::fs::write(&path, script).unwrap();
    let log = dir.join(format!("{name}.log"));
    std::fs::write(&log, "").unwrap();
    let mut child = Command::new(cmd)
        .arg(&path)
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{name}: {line:?}"));
    App {
        name,
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        log,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx proxying to a second nginx server; it logs what it forwarded (a request it
/// answers itself, such as its own 400, has no `$upstream_addr` and is not counted).
/// One process (`master_process off`), so killing the child on drop leaves no worker.
fn nginx_app(dir: &Path) -> App {
    let root = dir.join("nginx");
    std::fs::create_dir_all(&root).unwrap();
    let (front, back) = (free_port(), free_port());
    let log = root.join("view.log");
    let conf = format!(
        r#"
worker_processes 1;
daemon off;
master_process off;
pid {r}/nginx.pid;
error_log {r}/error.log warn;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {r}/body;
    proxy_temp_path {r}/proxy;
    fastcgi_temp_path {r}/fastcgi;
    uwsgi_temp_path {r}/uwsgi;
    scgi_temp_path {r}/scgi;
    log_format view escape=json '{{"method":"$request_method","target":"$request_uri","body":"$request_body","upstream":"$upstream_addr"}}';
    server {{ listen 127.0.0.1:{back}; access_log off; location / {{ return 200 "ok"; }} }}
    server {{
        listen 127.0.0.1:{front};
        access_log {log} view;
        client_body_buffer_size 1m;
        client_body_in_single_buffer on;
        location / {{ proxy_pass http://127.0.0.1:{back}; }}
    }}
}}
"#,
        r = root.display(),
        log = log.display()
    );
    std::fs::write(root.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(&root)
        .arg("-c")
        .arg(root.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], front));
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    App {
        name: "nginx",
        child,
        addr,
        log,
    }
}

/// Small deterministic generator (the family must be the same on every run).
struct Lcg(u64);

impl Lcg {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        &items[(self.0 >> 33) as usize % items.len()]
    }
}

/// The generated family: (id, raw request bytes). Every target carries `/v<id>/`.
fn variants() -> Vec<(usize, Vec<u8>)> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut rng = Lcg(9);
    // Request lines: leading bytes, method, separators, target, version, line ends.
    let prefixes = [
        "",
        "\r\n",
        "\r\n\r\n\r\n\r\n\r\n",
        "\n\n\n",
        " ",
        "\t",
        "\x0c",
        "\r\n ",
    ];
    let methods = ["GET", "get", "POST", "OPTIONS", "DELETE", "G\"T"];
    let seps = [" ", "\t", "  ", " \t", "\x0b"];
    let targets = [
        "/V/a?q=1",
        "/V/a?q=\"<x>\"",
        "/V/a?q=a b",
        "http://h/V/a?q=1",
        "http://h:80/V/?q=1",
        "https://h/V/a",
        "/V/a#frag",
        "/V/%2e%2e/x",
        "/V/a?q=%00",
        "/V/a?q=\x01",
        "/V/a\\b",
        "/V/a?q=1&q=2",
        "//V/a",
        "/V/a?q={}|^`",
    ];
    let versions = [
        " HTTP/1.1",
        " HTTP/1.0",
        " HTTP/1.1 ",
        "",
        " HTTP/1.1\t",
        " HTTP/2.0",
        " HTTP/1.10",
        " http/1.1",
        " HTTP/0.9",
        " HTTP/1.1 x",
    ];
    let eols = ["\r\n", "\n"];
    for _ in 0..360 {
        let (p, m, s, t, v, e) = (
            rng.pick(&prefixes),
            rng.pick(&methods),
            rng.pick(&seps),
            rng.pick(&targets),
            rng.pick(&versions),
            rng.pick(&eols),
        );
        let mut req = format!("{p}{m}{s}{t}{v}{e}");
        if !v.is_empty() {
            req.push_str(&format!("Host: h{e}Connection: close{e}"));
            if *m == "POST" {
                req.push_str(&format!("Content-Length: 7{e}{e}q=hello"));
            } else {
                req.push_str(e);
            }
        }
        out.push(req.into_bytes());
    }
    // Header forms, on GET and on POST with a body.
    let headers = [
        "Host: h",
        "Host:h",
        "Host : h",
        "Host\t: h",
        "Host: h\r\n X-Fold: a",
        "Host: h\r\nX-A: a\r\n\tfolded",
        "Host: h\r\nX-A: a\rb",
        "Host: h\r\nX-A: a\x00b",
        "Host: h\r\nHost: h",
        "Host: h\r\nHost: i",
        "Host: h, i",
        "Host: u@h",
        "Host: h\r\n: empty",
        "Host: h\r\nX-A",
        "Host: h\r\nX A: b",
        "Host: h\r\nX-\x7fA: b",
        "Host: h\r\nX-A: \u{e9}",
        "Host: h\r\nExpect: 100-continue",
        "Host: h\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
        "Host: h\r\nUpgrade: websocket",
        "Host: h\r\nContent-Type: application/x-www-form-urlencoded",
        "Host: h\r\nContent-Type: multipart/form-data; boundary=x",
        "Host: h\r\nX-Forwarded-For: 1.2.3.4",
        "X-A: b",
        "Host: h\r\nConnection: keep-alive",
        "Host: h\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ];
    for h in &headers {
        for e in eols {
            let h = h.replace("\r\n", e);
            out.push(format!("GET /V/h HTTP/1.1{e}{h}{e}Connection: close{e}{e}").into_bytes());
            out.push(
                format!(
                    "POST /V/h HTTP/1.1{e}{h}{e}Connection: close{e}Content-Length: 7{e}{e}q=hello"
                )
                .into_bytes(),
            );
        }
    }
    // Framings of the body `q=hello`, with a request smuggled after it.
    let smuggled = "GET /V/smuggled?q=1 HTTP/1.1\r\nHost: h\r\n\r\n";
    let lengths = [
        "Content-Length: 7",
        "Content-Length: 07",
        "Content-Length: +7",
        "Content-Length: 7 ",
        "Content-Length: 7\r\nContent-Length: 7",
        "Content-Length: 7, 7",
        "Content-Length: 7\r\nContent-Length: 8",
        "Content-Length: -7",
        "Content-Length: 0x7",
        "content-length:7",
        "Content-Length: 3",
        "Content-Length: 0",
        "Content-Length: 7\r\nContent-Length: 3",
    ];
    let codings = [
        "Transfer-Encoding: chunked",
        "Transfer-Encoding: Chunked",
        "Transfer-Encoding:  chunked ",
        "Transfer-Encoding: chunked\r\nContent-Length: 7",
        "Content-Length: 3\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: identity, chunked",
        "Transfer-Encoding: chunked, identity",
        "Transfer-Encoding: gzip",
        "Transfer-Encoding: xchunked",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity",
        "Transfer-Encoding:\tchunked",
        "Transfer-Encoding: chunked\r\n Transfer-Encoding: x",
        "Transfer-Encoding: \"chunked\"",
    ];
    let chunked = [
        "7\r\nq=hello\r\n0\r\n\r\n",
        "7;ext=1\r\nq=hello\r\n0\r\n\r\n",
        "07\r\nq=hello\r\n0\r\n\r\n",
        "7\nq=hello\n0\n\n",
        "3\r\nq=h\r\n4\r\nello\r\n0\r\n\r\n",
        "7 \r\nq=hello\r\n0\r\n\r\n",
        "7\r\nq=hello\r\n0\r\nTrailer: x\r\n\r\n",
        "zz\r\nq=hello\r\n0\r\n\r\n",
        "7\r\nq=hello\r\n",
        "-7\r\nq=hello\r\n0\r\n\r\n",
        "7\r\nq=hello0\r\n\r\n",
    ];
    for version in ["HTTP/1.1", "HTTP/1.0"] {
        for cl in &lengths {
            for tail in ["", smuggled] {
                out.push(
                    format!("POST /V/f {version}\r\nHost: h\r\n{cl}\r\nConnection: keep-alive\r\n\r\nq=hello{tail}")
                        .into_bytes(),
                );
            }
        }
        for te in &codings {
            for body in &chunked {
                out.push(
                    format!("POST /V/f {version}\r\nHost: h\r\n{te}\r\n\r\n{body}{smuggled}")
                        .into_bytes(),
                );
            }
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(id, r)| {
            let marker = format!("/v{id}x");
            let s = String::from_utf8_lossy(&r).replace("/V", &marker);
            (id, s.into_bytes())
        })
        .collect()
}

/// `scheme://authority` dropped, as the rules' `REQUEST_URI` and nginx's `$request_uri`.
fn origin_form(target: &str) -> String {
    match target.split_once("://") {
        Some((scheme, rest)) if scheme.bytes().all(|b| b.is_ascii_alphabetic()) => {
            let i = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match &rest[i..] {
                t if t.starts_with('/') => t.to_string(),
                t => format!("/{t}"),
            }
        }
        _ => target.to_string(),
    }
}

/// What the proxy itself does to a target before the app gets it: the fragment is
/// dropped, and bytes pingora cannot store (controls, space, `"<>\\^`{|}`, non-ASCII)
/// are percent-encoded. The rules see the client's own bytes (fragment included, for
/// rule 920610); applied to their view, this must give exactly what the app received.
fn as_forwarded(view: &str) -> String {
    let Some(rest) = view.strip_prefix("VIEW|") else {
        return view.to_string();
    };
    let mut parts = rest.splitn(3, '|');
    let (method, target, body) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let target = target.split('#').next().unwrap_or("");
    let mut enc = String::new();
    for b in target.bytes() {
        if !b.is_ascii_graphic() || b"\"<>\\^`{|}".contains(&b) {
            enc.push_str(&format!("%{b:02X}"));
        } else {
            enc.push(b as char);
        }
    }
    format!("VIEW|{method}|{enc}|{body}")
}

fn id_of(target: &str) -> Option<usize> {
    let at = target.find("/v")? + 2;
    let end = target[at..].find('x')? + at;
    target[at..end].parse().ok()
}

async fn send(addr: SocketAddr, req: Vec<u8>) {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    if s.write_all(&req).await.is_err() {
        return;
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_millis(1500), s.read_to_end(&mut buf)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_real_servers_receive_is_inspected_as_they_see_it() {
    if !(require("nginx") && require("python3") && require("node")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("view.conf");
    std::fs::write(&rules, VIEW_RULE).unwrap();
    let config = format!(
        "inspection:\n  mode: monitor\n  rules: [{}]\ntimeouts:\n  request_header_ms: 1000\n  idle_ms: 1000\n",
        rules.display()
    );
    let apps = [
        nginx_app(dir.path()),
        script_app("python", "python3", PYTHON_APP, dir.path()),
        script_app("node", "node", NODE_APP, dir.path()),
    ];
    let engines: Vec<Engine> = apps
        .iter()
        .map(|a| Engine::start(a.addr, &config))
        .collect();
    let family = variants();
    let sem = Arc::new(tokio::sync::Semaphore::new(24));
    let mut tasks = Vec::new();
    for engine in &engines {
        for (_, req) in &family {
            let permit = sem.clone().acquire_owned().await.unwrap();
            let (addr, req) = (engine.addr, req.clone());
            tasks.push(tokio::spawn(async move {
                send(addr, req).await;
                drop(permit);
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut failures = Vec::new();
    let mut received = BTreeMap::new();
    for (app, engine) in apps.iter().zip(&engines) {
        // What the rule engine saw, by variant id.
        let mut views: HashMap<usize, Vec<String>> = HashMap::new();
        for line in engine.access() {
            let Some(msg) = line["message"].as_str() else {
                continue;
            };
            let Some(target) = msg.split('|').nth(2) else {
                continue;
            };
            if let Some(id) = id_of(target) {
                views.entry(id).or_default().push(msg.to_string());
            }
        }
        let text = std::fs::read_to_string(&app.log).unwrap();
        let mut count = 0;
        for line in text.lines() {
            let rec: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: {line}: {e}", app.name));
            if app.name == "nginx" && rec["upstream"].as_str().is_none_or(str::is_empty) {
                continue;
            }
            count += 1;
            let target = rec["target"].as_str().unwrap_or_default();
            let want = format!(
                "VIEW|{}|{}|{}",
                rec["method"].as_str().unwrap_or_default(),
                origin_form(target),
                rec["body"].as_str().unwrap_or_default()
            );
            let seen = id_of(target).and_then(|id| views.get(&id));
            if !seen.is_some_and(|v| v.iter().any(|s| as_forwarded(s) == want)) {
                let id = id_of(target);
                let sent = id
                    .and_then(|i| family.get(i))
                    .map(|(_, r)| String::from_utf8_lossy(r).escape_debug().to_string());
                failures.push(format!(
                    "{}: app received {want:?}, engine saw {seen:?}; sent {sent:?}",
                    app.name
                ));
            }
        }
        received.insert(app.name, count);
    }
    eprintln!(
        "{} variants sent to each of nginx, python http.server and node http; requests the apps received: {received:?}",
        family.len()
    );
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    for e in &engines {
        for v in e.events().into_iter().filter(|v| v["type"] == "refused") {
            *refused
                .entry(v["reason"].as_str().unwrap_or("").to_string())
                .or_default() += 1;
        }
    }
    eprintln!("refused by the engines, by reason: {refused:#?}");
    assert!(
        failures.is_empty(),
        "{} requests reached an app with a different or no inspection:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
    assert!(
        family.len() >= 600,
        "the family has {} variants",
        family.len()
    );
    for (name, n) in &received {
        assert!(
            *n >= 50,
            "{name} received only {n} requests: the harness is broken"
        );
    }
}
