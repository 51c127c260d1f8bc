use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Engine, app, client};

#[tokio::test(flavor = "multi_thread")]
async fn h2c_prior_knowledge_is_proxied_to_http1_app() {
    let app = app::http().await;
    let mut engine = Engine::start(app.addr, "");
    let req = Request::get("http://app.test/headers")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = client::h2c(engine.addr, req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    let seen: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(seen["headers"]["host"], "app.test");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "http");
    let line = engine.wait_event(|v| v["type"] == "access", Duration::from_secs(5));
    assert_eq!(line["protocol"], "HTTP/2.0");
}

#[tokio::test(flavor = "multi_thread")]
async fn h2_over_tls_with_configured_certificate() {
    let app = app::http().await;
    let dir = tempfile::tempdir().unwrap();
    let (yaml, ck) = client::tls_files(dir.path());
    let engine = Engine::start(app.addr, &yaml);
    let tls_addr = engine.tls.expect("TLS listener reported");
    let mut sender = client::h2_tls(tls_addr, &ck).await;
    let req = Request::get("https://localhost/headers")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(seen["headers"]["x-forwarded-proto"], "https");
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_upgrade_echoes_through_engine() {
    let ws_app = app::websocket().await;
    let engine = Engine::start(ws_app.addr, "");
    let tcp = tokio::net::TcpStream::connect(engine.addr).await.unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async(format!("ws://{}/ws", engine.addr), tcp)
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    for i in 0..10 {
        ws.send(Message::text(format!("message {i}")))
            .await
            .unwrap();
        let back = ws.next().await.unwrap().unwrap();
        assert_eq!(back, Message::text(format!("message {i}")));
    }
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::binary(vec![0u8, 1, 2, 255])
    );
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn non_http_line_protocol_is_passed_through() {
    let echo = app::line_echo().await;
    let mut engine = Engine::start(echo.addr, "");
    let stream = tokio::net::TcpStream::connect(engine.addr).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    // A one-word first line is no request line for any HTTP server (front/detect.rs);
    // later lines are the protocol's business.
    for line in ["PING", "second line", "GET is not a request line here"] {
        w.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        let back = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back.as_deref(), Some(format!("echo: {line}").as_str()));
    }
    drop(w);
    drop(lines);
    let ev = engine.wait_event(|v| v["type"] == "tcp", Duration::from_secs(5));
    assert_eq!(ev["action"], "passthrough");
    assert_eq!(ev["upstream"], echo.addr.to_string());
    assert!(
        engine
            .metric("palisade_non_http_connections_total{action=\"passthrough\"}")
            .await
            >= 1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn non_http_is_closed_when_configured_to_reject() {
    let echo = app::line_echo().await;
    let engine = Engine::start(echo.addr, "non_http: reject\n");
    let mut s = tokio::net::TcpStream::connect(engine.addr).await.unwrap();
    s.write_all(b"PING\n").await.unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "nothing relayed: {:?}", String::from_utf8_lossy(&buf));
    assert!(
        engine
            .metric("palisade_non_http_connections_total{action=\"reject\"}")
            .await
            >= 1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hundred_megabyte_streamed_body_keeps_rss_bounded() {
    const TOTAL: u64 = 100 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let app = app::http().await;
    let engine = Engine::start(app.addr, "limits:\n  max_body_bytes: 209715200\n");
    // Warm up so the baseline includes the connection pools and buffers.
    assert_eq!(client::get(engine.addr, "/").await.status(), 200);
    let baseline = engine.rss_kib();

    let chunks = (0..TOTAL / CHUNK as u64).map(|_| {
        Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::from(vec![b'z'; CHUNK])))
    });
    let body = StreamBody::new(futures::stream::iter(chunks));
    let tcp = tokio::net::TcpStream::connect(engine.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::post("/count")
        .header("host", "app.test")
        .body(body)
        .unwrap();
    let upload = tokio::spawn(async move {
        let resp = sender.send_request(req).await.unwrap();
        let status = resp.status();
        (status, resp.into_body().collect().await.unwrap().to_bytes())
    });
    let mut peak = baseline;
    while !upload.is_finished() {
        peak = peak.max(engine.rss_kib());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, body) = upload.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, TOTAL.to_string(), "the app received every byte");
    let grew_mib = peak.saturating_sub(baseline) / 1024;
    eprintln!("engine RSS baseline {baseline} KiB, peak {peak} KiB");
    assert!(
        grew_mib < 32,
        "RSS grew by {grew_mib} MiB while streaming 100 MiB"
    );
}
