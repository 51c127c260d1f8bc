use bytes::Bytes;
use http_body_util::{Full, StreamBody};

use crate::support::{self, Engine, app, client};

#[tokio::test(flavor = "multi_thread")]
async fn get_is_proxied_with_forwarded_headers_and_request_id() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "");
    let resp = client::get(engine.addr, "/headers?q=1").await;
    assert_eq!(resp.status(), 200);
    let seen: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    let h = &seen["headers"];
    assert_eq!(h["host"], "app.test", "Host is preserved");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(seen["uri"], "/headers?q=1");
    let id = h["x-request-id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID request id: {id}");
    assert_eq!(
        resp.headers()["x-request-id"],
        id,
        "the client sees the same id"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn incoming_request_id_is_replaced_unless_trusted() {
    let app = app::http().await;
    for (trust, expect_kept) in [(false, false), (true, true)] {
        let engine = Engine::start(app.addr, &format!("trust_request_id: {trust}\n"));
        let mut s = client::connect(engine.addr).await;
        let mut req = client::request("GET", "/headers", Bytes::new());
        req.headers_mut()
            .insert("x-request-id", "client-chosen-id".parse().unwrap());
        req.headers_mut()
            .insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        let resp = client::send(&mut s, req).await;
        let seen: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        let kept = seen["headers"]["x-request-id"] == "client-chosen-id";
        assert_eq!(kept, expect_kept, "trust_request_id: {trust}");
        assert_eq!(seen["headers"]["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_alive_connection_serves_several_requests() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "");
    let mut s = client::connect(engine.addr).await;
    for i in 0..5 {
        let resp = client::send(&mut s, client::request("POST", "/echo", format!("req {i}"))).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.body(), format!("req {i}").as_bytes());
    }
    let clients: std::collections::HashSet<String> = engine
        .wait_access(5, std::time::Duration::from_secs(10))
        .iter()
        .map(|v| v["client"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(clients.len(), 1, "all five came over one client connection");
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_upload_reaches_the_app_whole() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "");
    let chunks: Vec<Result<hyper::body::Frame<Bytes>, std::convert::Infallible>> = (0..64)
        .map(|i| {
            Ok(hyper::body::Frame::data(Bytes::from(vec![
                b'a' + (i % 26)
                    as u8;
                1000
            ])))
        })
        .collect();
    let body = StreamBody::new(futures::stream::iter(chunks));
    let stream = tokio::net::TcpStream::connect(engine.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::post("/count")
        .header("host", "app.test")
        .body(body)
        .unwrap();
    assert!(req.headers().get("content-length").is_none());
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body, "64000");
    let _ = Full::new(Bytes::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn http10_request_is_answered() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "");
    let out = client::raw(engine.addr, b"GET / HTTP/1.0\r\nHost: app.test\r\n\r\n").await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1."), "{text}");
    assert!(text.contains(" 200 "), "{text}");
    assert!(text.ends_with("hello from app"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn access_log_line_describes_the_request() {
    let app = app::http().await;
    let mut engine = Engine::start(app.addr, "");
    let resp = client::get(engine.addr, "/some/path?x=1").await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let line = engine.wait_event(
        |v| v["type"] == "access" && v["request_id"] == id.as_str(),
        std::time::Duration::from_secs(5),
    );
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/some/path");
    assert_eq!(line["status"], 200);
    assert_eq!(line["decision"], "allow");
    assert_eq!(line["rule_ids"], serde_json::json!([]));
    assert_eq!(line["bytes_out"], 14);
    assert_eq!(line["upstream"], app.addr.to_string());
    assert!(line["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(line["upstream_ms"].as_f64().is_some());
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
    assert!(line["client"].as_str().unwrap().starts_with("127.0.0.1:"));
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_reports_health_readiness_and_metrics() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "");
    assert_eq!(engine.admin_get("/healthz").await.0, 200);
    assert_eq!(
        engine.admin_get("/readyz").await,
        (200, "ready\n".to_string())
    );
    client::get(engine.addr, "/").await;
    assert_eq!(engine.admin_get("/metrics").await.0, 200);
    let body = support::settled_metrics(engine.admin).await;
    for name in [
        "palisade_requests_total{code_class=\"2xx\",decision=\"allow\",method=\"GET\"} 1",
        "palisade_request_duration_seconds_count 1",
        "palisade_upstream_duration_seconds_count 1",
        "palisade_upstream_errors_total{kind=\"connect\"} 0",
        "palisade_active_connections",
        "palisade_config_reloads_total{result=\"success\"} 0",
        "palisade_build_info{version=",
    ] {
        assert!(body.contains(name), "missing {name} in:\n{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn app_connections_are_reused_across_client_connections() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "");
    for _ in 0..20 {
        // A new client connection each time, one request at a time.
        assert_eq!(client::get(engine.addr, "/").await.status(), 200);
    }
    assert!(
        app.accepted() <= 2,
        "app saw {} connections for 20 requests",
        app.accepted()
    );
}
