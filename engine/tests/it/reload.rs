use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nix::sys::signal::Signal;

use crate::support::{Engine, app, client};

async fn wait_metric(engine: &Engine, name: &str, at_least: f64) {
    let start = Instant::now();
    while engine.metric(name).await < at_least {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{name} never reached {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const OK: &str = "palisade_config_reloads_total{result=\"success\"}";
const FAILED: &str = "palisade_config_reloads_total{result=\"failure\"}";

#[tokio::test(flavor = "multi_thread")]
async fn twenty_reloads_under_load_fail_no_request() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "limits:\n  max_uri_bytes: 4000\n");
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let addr = engine.addr;
        workers.push(tokio::spawn(async move {
            let mut sender = client::connect(addr).await;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                // Alternate kept-alive and fresh connections.
                if i.is_multiple_of(5) {
                    sender = client::connect(addr).await;
                }
                let body = format!("worker {w} request {i}");
                let resp =
                    client::send(&mut sender, client::request("POST", "/echo", body.clone())).await;
                if resp.status() == 200 && resp.body() == body.as_bytes() {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for n in 1..=20 {
        // Each reload really changes the config.
        engine.write_config(&format!("limits:\n  max_uri_bytes: {}\n", 4000 + n));
        engine.signal(Signal::SIGHUP);
        wait_metric(&engine, OK, n as f64).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    assert!(engine.metric(OK).await >= 20.0);
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(ok.load(Ordering::Relaxed) > 20, "the load loop ran");
    let _ = Bytes::new();
}

#[tokio::test(flavor = "multi_thread")]
async fn config_file_change_applies_without_restart() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "");
    let long = format!("/{}", "p".repeat(100));
    assert_eq!(client::get(engine.addr, &long).await.status(), 200);
    engine.write_config("limits:\n  max_uri_bytes: 50\n");
    wait_metric(&engine, OK, 1.0).await;
    assert_eq!(client::get(engine.addr, &long).await.status(), 414);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_reload_is_rejected_and_serving_continues() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "limits:\n  max_uri_bytes: 50\n");
    let mut kept = client::connect(engine.addr).await;
    assert_eq!(
        client::send(&mut kept, client::request("GET", "/", Bytes::new()))
            .await
            .status(),
        200
    );
    engine.write_config("limits:\n  max_uri_bytes: 5000\ninspection:\n  mode: blok\n");
    wait_metric(&engine, FAILED, 1.0).await;
    engine.signal(Signal::SIGHUP);
    wait_metric(&engine, FAILED, 2.0).await;
    assert_eq!(engine.metric(OK).await, 0.0);
    // The old config still serves, on the open connection and on new ones.
    let long = format!("/{}", "p".repeat(100));
    let resp = client::send(&mut kept, client::request("GET", &long, Bytes::new())).await;
    assert_eq!(resp.status(), 414, "old limit still applies");
    assert_eq!(client::get(engine.addr, "/").await.status(), 200);
    assert_eq!(engine.admin_get("/readyz").await.0, 200);
}
