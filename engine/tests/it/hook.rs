//! The inspection hook end to end, with the engine embedded in the test process and a
//! small keyword inspector implementing the trait (the SecLang engine plugs in the same way).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use palisade_engine::config::{Config, Mode, Overrides};
use palisade_engine::inspect::{Action, ConnInfo, Inspection, Inspector, RequestHead, Verdict};
use palisade_engine::server::{Listening, run_snapshot};
use palisade_engine::state::Snapshot;

use crate::support::{self, app, client};

/// Calls seen by inspections, in order (`"1"`, `"2:<len>"`, ...).
type Trace = Arc<Mutex<Vec<String>>>;

struct Keywords(Trace);

struct KeywordTx {
    trace: Trace,
    post: bool,
    matched: Vec<u32>,
}

fn deny(status: u16, rule_id: u32, action: Action) -> Verdict {
    Verdict {
        status,
        action,
        rule_id,
        message: format!("keyword rule {rule_id}"),
        limit: None,
    }
}

impl Inspector for Keywords {
    fn name(&self) -> &str {
        "keywords"
    }

    fn begin(&self, conn: &ConnInfo) -> Box<dyn Inspection> {
        assert!(!conn.unique_id.is_empty());
        Box::new(KeywordTx {
            trace: self.0.clone(),
            post: false,
            matched: Vec::new(),
        })
    }
}

impl KeywordTx {
    fn hit(&mut self, v: Verdict) -> Option<Verdict> {
        self.matched.push(v.rule_id);
        Some(v)
    }
}

impl Inspection for KeywordTx {
    fn request_headers(&mut self, head: &RequestHead<'_>) -> Option<Verdict> {
        self.trace.lock().unwrap().push("1".into());
        self.post = head.method == "POST";
        if head.uri.starts_with("/admin") {
            return self.hit(deny(403, 1001, Action::Deny));
        }
        None
    }
    fn wants_request_body(&self) -> bool {
        self.post
    }
    fn request_body(&mut self, body: &[u8]) -> Option<Verdict> {
        self.trace.lock().unwrap().push(format!("2:{}", body.len()));
        if body.windows(6).any(|w| w == b"attack") {
            return self.hit(deny(403, 1002, Action::Deny));
        }
        None
    }
    fn response_headers(
        &mut self,
        status: u16,
        _p: &str,
        headers: &[(&str, &[u8])],
    ) -> Option<Verdict> {
        self.trace.lock().unwrap().push(format!("3:{status}"));
        if headers.iter().any(|(n, _)| *n == "x-secret") {
            return self.hit(deny(502, 1003, Action::Deny));
        }
        None
    }
    fn wants_response_body(&self) -> bool {
        true
    }
    fn response_body(&mut self, body: &[u8]) -> Option<Verdict> {
        self.trace.lock().unwrap().push(format!("4:{}", body.len()));
        if body.windows(6).any(|w| w == b"leaked") {
            return self.hit(deny(403, 1004, Action::Drop));
        }
        None
    }
    fn logging(&mut self) {
        self.trace.lock().unwrap().push("5".into());
    }
    fn matched_rule_ids(&self) -> Vec<u32> {
        self.matched.clone()
    }
}

/// Start an embedded engine in front of `upstream` with the keyword inspector.
fn start(upstream: SocketAddr, mode: Mode) -> (Listening, Trace) {
    let trace: Trace = Arc::default();
    let mut cfg = Config {
        listen: vec!["127.0.0.1:0".into()],
        admin: "127.0.0.1:0".into(),
        upstream: Some(upstream.to_string()),
        threads: 1,
        access_log: false,
        ..Config::default()
    };
    cfg.inspection.mode = mode;
    let snap = Snapshot::with_inspector(cfg, Some(Arc::new(Keywords(trace.clone())))).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || run_snapshot(snap, None, Overrides::default(), Some(tx)));
    (rx.recv_timeout(Duration::from_secs(10)).unwrap(), trace)
}

async fn metric(admin: SocketAddr, prefix: &str) -> f64 {
    support::sample(&support::settled_metrics(admin).await, prefix)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_phase_runs_in_order_and_the_inspected_body_reaches_the_app() {
    let app = app::http().await;
    let (eng, trace) = start(app.addr, Mode::Block);
    let body: Vec<u8> = (0..20_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut s = client::connect(eng.listen[0]).await;
    let resp = client::send(&mut s, client::request("POST", "/echo", body.clone())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.body().as_ref(),
        &body[..],
        "buffered body replayed to the app intact"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = trace.lock().unwrap().clone();
    assert_eq!(t, ["1", "2:20000", "3:200", "4:20000", "5"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn block_mode_denies_in_request_phases_before_the_app() {
    let app = app::http().await;
    let (eng, _) = start(app.addr, Mode::Block);
    let resp = client::get(eng.listen[0], "/admin/panel").await;
    assert_eq!(resp.status(), 403);
    let json: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(json["rule_id"], 1001);
    assert_eq!(
        json["request_id"],
        resp.headers()["x-request-id"].to_str().unwrap()
    );

    let mut s = client::connect(eng.listen[0]).await;
    let resp = client::send(
        &mut s,
        client::request("POST", "/count", "an attack payload"),
    )
    .await;
    assert_eq!(resp.status(), 403);
    let json: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(json["rule_id"], 1002);
    assert_eq!(
        metric(eng.admin, "palisade_upstream_duration_seconds_count").await,
        0.0,
        "the app saw nothing"
    );
    assert_eq!(
        metric(
            eng.admin,
            "palisade_blocked_requests_total{rule_id=\"1002\"}"
        )
        .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn monitor_mode_forwards_and_counts_the_verdict() {
    let app = app::http().await;
    let (eng, _) = start(app.addr, Mode::Monitor);
    let mut s = client::connect(eng.listen[0]).await;
    let resp = client::send(
        &mut s,
        client::request("POST", "/count", "an attack payload"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), "17");
    let monitored =
        "palisade_requests_total{code_class=\"2xx\",decision=\"monitor\",method=\"POST\"}";
    assert_eq!(metric(eng.admin, monitored).await, 1.0);
    assert_eq!(
        metric(
            eng.admin,
            "palisade_rule_matches_total{mode=\"monitor\",rule_id=\"1002\"}"
        )
        .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn response_phases_block_headers_and_cut_leaking_bodies() {
    let app = app::http().await;
    let (eng, _) = start(app.addr, Mode::Block);
    let resp = client::get(eng.listen[0], "/secret-header").await;
    assert_eq!(resp.status(), 502);
    let json: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(json["rule_id"], 1003);
    assert!(resp.headers().get("x-secret").is_none());

    let out = client::raw(eng.listen[0], b"GET /leak HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        !text.contains("leaked data"),
        "the leaking body was held back: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn body_beyond_the_inspection_limit_is_refused_in_block_mode() {
    let app = app::http().await;
    let (eng, trace) = start(app.addr, Mode::Block);
    let mut s = client::connect(eng.listen[0]).await;
    // Not multipart: the no-files limit (128 KiB) bounds it.
    let resp = client::send(
        &mut s,
        client::request("POST", "/count", vec![b'x'; 200_000]),
    )
    .await;
    assert_eq!(resp.status(), 413);
    let mut s = client::connect(eng.listen[0]).await;
    let resp = client::send(
        &mut s,
        client::request("POST", "/count", vec![b'x'; 120_000]),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), "120000");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(trace.lock().unwrap().contains(&"2:120000".to_string()));
    let _ = Bytes::new();
}

#[tokio::test(flavor = "multi_thread")]
async fn response_body_past_the_limit_is_inspected_up_to_it_and_counted() {
    let app = app::http().await;
    let (eng, trace) = start(app.addr, Mode::Block);
    // 600 KB: over the default 512 KiB response limit (process_partial).
    let body: Vec<u8> = (0..600_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let resp = client::get(eng.listen[0], "/big?n=600000").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body().as_ref(), &body[..], "released whole");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        trace.lock().unwrap().contains(&"4:524288".to_string()),
        "{:?}",
        trace.lock().unwrap()
    );
    assert_eq!(
        metric(
            eng.admin,
            "palisade_uninspected_total{part=\"response_body\"}"
        )
        .await,
        1.0
    );
}
