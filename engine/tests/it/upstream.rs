use std::time::Duration;

use crate::support::{self, Engine, app, client};

#[tokio::test(flavor = "multi_thread")]
async fn upstream_down_gives_502_json_then_recovers() {
    let first = app::http().await;
    let addr = first.addr;
    let engine = Engine::start(addr, "");
    assert_eq!(client::get(engine.addr, "/").await.status(), 200);
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let resp = client::get(engine.addr, "/").await;
    assert_eq!(resp.status(), 502);
    let json: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(json["status"], 502);
    assert_eq!(
        json["request_id"],
        resp.headers()["x-request-id"].to_str().unwrap()
    );
    assert!(
        engine
            .metric("palisade_upstream_errors_total{kind=\"connect\"}")
            .await
            >= 1.0
    );
    let settled = support::settled_metrics(engine.admin).await;
    assert!(
        support::sample(
            &settled,
            "palisade_requests_total{code_class=\"5xx\",decision=\"error\",method=\"GET\"}"
        ) >= 1.0
    );

    let _back = app::http_on(addr).await;
    let resp = client::get(engine.addr, "/").await;
    assert_eq!(
        resp.status(),
        200,
        "recovered without restarting the engine"
    );
    assert_eq!(resp.body(), "hello from app");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_upstream_gets_504_after_response_timeout() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "timeouts:\n  upstream_response_ms: 300\n");
    let start = std::time::Instant::now();
    let resp = client::get(engine.addr, "/slow?ms=3000").await;
    assert_eq!(resp.status(), 504);
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "{:?}",
        start.elapsed()
    );
    let json: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(json["error"], "upstream timeout");
    assert!(
        engine
            .metric("palisade_upstream_errors_total{kind=\"timeout\"}")
            .await
            >= 1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_keep_alive_connection_is_closed_after_idle_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = app::http().await;
    let engine = Engine::start(app.addr, "timeouts:\n  idle_ms: 1000\n");
    let mut s = tokio::net::TcpStream::connect(engine.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let start = std::time::Instant::now();
    // Kept alive, then closed by the engine once idle for a second.
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("still open after 10 s idle")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
}
