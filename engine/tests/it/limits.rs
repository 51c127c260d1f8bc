use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Engine, app, client};

fn status_of(raw: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(raw);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_header_block_gets_431_with_json() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "");
    // The default limit is 60 KiB for the whole block: 4 headers of 16 KiB exceed it.
    let mut req = String::from("GET / HTTP/1.1\r\nHost: app.test\r\n");
    for i in 0..4 {
        req.push_str(&format!("X-Fill-{i}: {}\r\n", "a".repeat(16 * 1024)));
    }
    req.push_str("\r\n");
    let out = client::raw(engine.addr, req.as_bytes()).await;
    assert_eq!(status_of(&out), 431, "{}", String::from_utf8_lossy(&out));
    let body = String::from_utf8_lossy(&out);
    let json: serde_json::Value =
        serde_json::from_str(&body[body.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(json["status"], 431);
    assert_eq!(json["request_id"].as_str().unwrap().len(), 36);
    assert!(
        engine
            .metric("palisade_blocked_requests_total{rule_id=\"max_header_bytes\"}")
            .await
            >= 1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn long_uri_gets_414_and_bad_method_405() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "limits:\n  max_uri_bytes: 100\n");
    let long = format!("/{}", "x".repeat(200));
    assert_eq!(client::get(engine.addr, &long).await.status(), 414);
    assert_eq!(client::get(engine.addr, "/short").await.status(), 200);
    let out = client::raw(engine.addr, b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(status_of(&out), 405);
}

#[tokio::test(flavor = "multi_thread")]
async fn body_over_limit_gets_413_declared_or_chunked() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "limits:\n  max_body_bytes: 1000\n");
    let mut s = client::connect(engine.addr).await;
    let ok = client::send(&mut s, client::request("POST", "/count", vec![b'a'; 1000])).await;
    assert_eq!(ok.status(), 200);
    let resp = client::get(engine.addr, "/").await;
    assert_eq!(resp.status(), 200);
    let mut s = client::connect(engine.addr).await;
    let big = client::send(&mut s, client::request("POST", "/count", vec![b'a'; 1001])).await;
    assert_eq!(big.status(), 413);
    // Chunked: no length up front; the engine counts while streaming.
    let mut req = b"POST /count HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        req.extend_from_slice(b"190\r\n");
        req.extend_from_slice(&[b'b'; 400]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let out = client::raw(engine.addr, &req).await;
    assert_eq!(status_of(&out), 413, "{}", String::from_utf8_lossy(&out));
    let _ = Bytes::new();
}

#[tokio::test(flavor = "multi_thread")]
async fn slowloris_connection_is_closed_after_header_timeout() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "timeouts:\n  request_header_ms: 1500\n");
    let mut s = tokio::net::TcpStream::connect(engine.addr).await.unwrap();
    let start = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n").await.unwrap();
    // One header byte every 200 ms: each read is quick, the head never completes.
    let mut closed_after = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if s.write_all(b"X").await.is_err() {
            closed_after = Some(start.elapsed());
            break;
        }
        let mut buf = [0u8; 512];
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await
            && matches!(r, Ok(0) | Err(_))
        {
            closed_after = Some(start.elapsed());
            break;
        }
    }
    let after = closed_after.expect("connection still open after 20 s of slow headers");
    assert!(
        after >= Duration::from_millis(1400),
        "closed too early: {after:?}"
    );
    assert!(after < Duration::from_secs(10), "closed late: {after:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_header_does_not_exempt_a_body_from_max_body_bytes() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "limits:\n  max_body_bytes: 1000\n");
    // Chunked (no length to check up front) with an Upgrade header the app never accepts.
    let mut req = b"POST /count HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: foo\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..5 {
        req.extend_from_slice(b"190\r\n");
        req.extend_from_slice(&[b'b'; 400]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let out = client::raw(engine.addr, &req).await;
    assert_eq!(status_of(&out), 413, "{}", String::from_utf8_lossy(&out));
}

/// Write `first`, then one byte of `rest` every `every`, until the engine closes the
/// connection; returns when (from the first trickled byte) and what it answered.
async fn trickle(
    s: &mut tokio::net::TcpStream,
    rest: &[u8],
    every: Duration,
) -> (Option<Duration>, Vec<u8>) {
    let start = Instant::now();
    let mut answer = Vec::new();
    for b in rest {
        tokio::time::sleep(every).await;
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (Some(start.elapsed()), answer),
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        if s.write_all(&[*b]).await.is_err() {
            return (Some(start.elapsed()), answer);
        }
    }
    (None, answer)
}

#[tokio::test(flavor = "multi_thread")]
async fn trickled_later_request_head_on_a_keepalive_connection_is_cut_off() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "timeouts:\n  request_header_ms: 1500\n");
    let mut s = tokio::net::TcpStream::connect(engine.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert_eq!(status_of(&buf[..n]), 200);
    // Idle keep-alive time does not count against the next head's deadline.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ".to_vec();
    s.write_all(&head[..5]).await.unwrap();
    let (closed, _) = trickle(&mut s, &[b'x'; 100], Duration::from_millis(200)).await;
    let after = closed.expect("second head trickled for 20 s without being cut");
    assert!(after < Duration::from_secs(5), "cut late: {after:?}");
    assert!(
        engine
            .metric("palisade_slow_clients_total{part=\"head\"}")
            .await
            >= 1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn trickled_request_body_is_cut_off() {
    let app = app::http().await;
    let engine = Engine::start(
        app.addr,
        "timeouts:\n  request_body_read_ms: 1000\nlimits:\n  min_request_body_rate: 100\n",
    );
    let mut s = tokio::net::TcpStream::connect(engine.addr).await.unwrap();
    s.write_all(b"POST /count HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n")
        .await
        .unwrap();
    // 5 bytes a second, 20 times slower than the minimum rate.
    let (closed, answer) = trickle(&mut s, &[b'y'; 1000], Duration::from_millis(200)).await;
    let after = closed.expect("body trickled for 200 s without being cut");
    assert!(after < Duration::from_secs(6), "cut late: {after:?}");
    if !answer.is_empty() {
        assert_eq!(
            status_of(&answer),
            408,
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    assert!(
        engine
            .metric("palisade_slow_clients_total{part=\"body\"}")
            .await
            >= 1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_past_the_cap_get_503_and_the_cap_holds() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "limits:\n  max_connections: 3\n");
    // Three keep-alive connections, each after one answered request.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = client::connect(engine.addr).await;
        let r = client::send(&mut s, client::request("GET", "/", Bytes::new())).await;
        assert_eq!(r.status(), 200);
        held.push(s);
    }
    for _ in 0..3 {
        let out = client::raw(engine.addr, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert_eq!(status_of(&out), 503, "{}", String::from_utf8_lossy(&out));
    }
    assert_eq!(
        engine.metric("palisade_connections_rejected_total").await,
        3.0
    );
    // The held connections still work; freeing one admits a new client.
    let r = client::send(&mut held[0], client::request("GET", "/", Bytes::new())).await;
    assert_eq!(r.status(), 200);
    held.pop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = client::raw(
        engine.addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&out), 200, "{}", String::from_utf8_lossy(&out));
}
