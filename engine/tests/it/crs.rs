//! The OWASP CRS v4 (from `../shared`, read in place) running inside the engine through
//! the `palisade-inspect` rule engine: attacks are answered by the engine before the app
//! sees them, benign traffic passes, `monitor` forwards but logs, a broken rule file is a
//! load error naming the file and line.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::{Engine, app, client};

/// The CRS tree in `../shared`; fails under CI=true, skips (returns None) otherwise.
pub(crate) fn crs_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/crs/v4.28.0");
    if dir.join("rules").is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "CRS not found at {} (../shared must sit beside the checkout)",
        dir.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}");
    }
    eprintln!("skipping: {msg}");
    None
}

pub(crate) fn crs_config(crs: &std::path::Path, mode: &str) -> String {
    format!(
        "inspection:\n  mode: {mode}\n  paranoia_level: 1\n  rules:\n    - {setup}\n    - {rules}\n",
        setup = crs.join("crs-setup.conf.example").display(),
        rules = crs.join("rules/*.conf").display(),
    )
}

const ATTACKS: &[(&str, u32)] = &[
    ("/?id=1%27%20or%201%3D1--", 942100),
    ("/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", 941100),
    ("/?file=..%2F..%2F..%2Fetc%2Fpasswd", 930100),
    ("/?cmd=%3Bcat%20%2Fetc%2Fpasswd", 932160),
];

#[tokio::test(flavor = "multi_thread")]
async fn crs_blocks_attacks_before_the_app_and_passes_benign_requests() {
    let Some(crs) = crs_dir() else { return };
    let app = app::http().await;
    let mut engine = Engine::start(app.addr, &crs_config(&crs, "block"));
    let benign = client::get(engine.addr, "/products?id=42&sort=price").await;
    assert_eq!(benign.status(), 200);
    let served = app.accepted();
    for (path, rule) in ATTACKS {
        let resp = client::get(engine.addr, path).await;
        assert_eq!(resp.status(), 403, "{path} should be blocked");
        let line = engine.wait_event(
            |v| {
                v["type"] == "access"
                    && v["status"] == 403
                    && v["rule_ids"]
                        .as_array()
                        .is_some_and(|ids| ids.iter().any(|id| id == rule))
            },
            Duration::from_secs(10),
        );
        assert_eq!(line["decision"], "block", "{line}");
        assert!(
            line["rule_ids"]
                .as_array()
                .unwrap()
                .iter()
                .any(|id| id == 949110),
            "the anomaly score rule decides: {line}"
        );
    }
    assert_eq!(app.accepted(), served, "no blocked request reached the app");
    assert!(
        engine
            .metric("palisade_blocked_requests_total{rule_id=\"949110\"}")
            .await
            >= 4.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn crs_inspects_form_bodies_in_phase_two() {
    let Some(crs) = crs_dir() else { return };
    let app = app::http().await;
    let engine = Engine::start(app.addr, &crs_config(&crs, "block"));
    let form = |body: &'static str| {
        let mut req = client::request("POST", "/login", body);
        req.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        req
    };
    let mut s = client::connect(engine.addr).await;
    let ok = client::send(&mut s, form("user=alice&password=hunter2")).await;
    assert_eq!(ok.status(), 200);
    let mut s = client::connect(engine.addr).await;
    let bad = client::send(
        &mut s,
        form("user=admin%27%20or%20%271%27%3D%271&password=x"),
    )
    .await;
    assert_eq!(bad.status(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn crs_in_monitor_mode_forwards_attacks_and_logs_the_rules() {
    let Some(crs) = crs_dir() else { return };
    let app = app::http().await;
    let mut engine = Engine::start(app.addr, &crs_config(&crs, "monitor"));
    let resp = client::get(engine.addr, ATTACKS[0].0).await;
    assert_eq!(resp.status(), 200, "monitor mode never blocks");
    let line = engine.wait_event(|v| v["type"] == "access", Duration::from_secs(10));
    let ids = line["rule_ids"].as_array().unwrap();
    assert!(ids.iter().any(|id| id == 942100), "{line}");
}

#[test]
fn broken_rule_file_is_rejected_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("bad.conf");
    std::fs::write(
        &rules,
        "SecRuleEngine On\nSecRulez ARGS \"@rx x\" \"id:1,deny\"\n",
    )
    .unwrap();
    let config = dir.path().join("engine.yaml");
    std::fs::write(
        &config,
        format!(
            "upstream: 127.0.0.1:1\ninspection:\n  rules:\n    - {}\n",
            rules.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_palisade-engine"))
        .arg("--check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("bad.conf:2"), "names file:line: {text}");
    assert!(text.contains("SecRulez"), "names the directive: {text}");
}
