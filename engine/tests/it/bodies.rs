//! Request bodies inspected whole (far past pingora's 64 KiB retry buffer), replayed to
//! the app byte for byte, and the body limits with ModSecurity's meaning.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::support::{Engine, app, client};

/// A phase-2 rule on the arguments (form fields and multipart text parts).
const TAIL_RULE: &str = r#"SecRule ARGS "@contains evil-payload-7731" "id:9001,phase:2,deny,status:403,log,msg:'attack at the end of the body'"
"#;

/// The engine in front of `upstream` with [`TAIL_RULE`] and `extra` config lines.
fn start(upstream: std::net::SocketAddr, mode: &str, extra: &str) -> Engine {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("tail.conf");
    std::fs::write(&rules, TAIL_RULE).unwrap();
    let engine = Engine::start(
        upstream,
        &format!(
            "inspection:\n  mode: {mode}\n  rules:\n    - {}\n{extra}",
            rules.display()
        ),
    );
    // The rules are loaded at start; the file may go.
    drop(dir);
    engine
}

const BOUNDARY: &str = "palisade-test-boundary-5b1f";

/// A multipart upload: one `size`-byte file, then a text field `comment`.
fn upload(size: usize, comment: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(size + 512);
    b.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    // Deterministic, varied bytes (no boundary inside: it starts with "--p").
    let mut x: u32 = 0x1234_5678;
    for _ in 0..size {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b.push(b'a' + (x % 26) as u8);
    }
    b.extend_from_slice(
        format!(
            "\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\n{comment}\r\n--{BOUNDARY}--\r\n"
        )
        .as_bytes(),
    );
    b
}

fn multipart_request(path: &str, body: Vec<u8>) -> Request<http_body_util::Full<Bytes>> {
    let mut req = client::request("POST", path, body);
    req.headers_mut().insert(
        "content-type",
        format!("multipart/form-data; boundary={BOUNDARY}")
            .parse()
            .unwrap(),
    );
    req
}

/// A urlencoded form of about `size` bytes (2 KB per field) whose last field is `last`.
fn form(size: usize, last: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(size + 64);
    let mut i = 0;
    while b.len() + last.len() + 16 < size {
        // Long values: few arguments (SecArgumentsLimit stays out of the way).
        b.extend_from_slice(format!("field{i}=value-{i}-").as_bytes());
        b.extend_from_slice(&[b'v'; 2000]);
        b.push(b'&');
        i += 1;
    }
    b.extend_from_slice(format!("last={last}").as_bytes());
    b
}

fn form_request(body: Vec<u8>) -> Request<http_body_util::Full<Bytes>> {
    let mut req = client::request("POST", "/digest", body);
    req.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    req
}

/// Send `body` chunked (no Content-Length), in 64 KiB frames.
async fn send_chunked(addr: std::net::SocketAddr, content_type: &str, body: &[u8]) -> (u16, Bytes) {
    let frames: Vec<_> = body
        .chunks(64 * 1024)
        .map(|c| {
            Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::copy_from_slice(c)))
        })
        .collect();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::post("/digest")
        .header("host", "app.test")
        .header("content-type", content_type)
        .body(StreamBody::new(futures::stream::iter(frames)))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

fn access_for(engine: &mut Engine, path: &str) -> serde_json::Value {
    engine.wait_event(
        |v| v["type"] == "access" && v["path"] == path,
        Duration::from_secs(10),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_megabyte_upload_reaches_the_app_byte_identical_by_length_chunked_and_h2() {
    let app = app::http().await;
    let mut engine = start(app.addr, "block", "");
    let body = upload(10_000_000, "a holiday photo");
    let want = app::digest(&body);

    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, multipart_request("/digest", body.clone())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), want.as_bytes(), "Content-Length body");

    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let (status, got) = send_chunked(engine.addr, &ct, &body).await;
    assert_eq!(status, 200);
    assert_eq!(got, want.as_bytes(), "chunked body");

    let mut req = multipart_request("http://app.test/digest", body.clone());
    *req.version_mut() = hyper::Version::HTTP_2;
    let resp = client::h2c(engine.addr, req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), want.as_bytes(), "HTTP/2 body");

    let log = access_for(&mut engine, "/digest");
    assert_eq!(log["decision"], "allow", "{log}");
    assert_eq!(log["uninspected"], serde_json::json!([]), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_in_the_last_kilobyte_of_a_ten_megabyte_upload_is_blocked() {
    let app = app::http().await;
    let engine = start(app.addr, "block", "");
    let body = upload(10_000_000, "nice photo evil-payload-7731");
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, multipart_request("/digest", body.clone())).await;
    assert_eq!(resp.status(), 403, "{:?}", resp.body());
    let json: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(json["rule_id"], 9001);

    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let (status, _) = send_chunked(engine.addr, &ct, &body).await;
    assert_eq!(status, 403, "chunked");
    assert_eq!(
        engine
            .metric("palisade_blocked_requests_total{rule_id=\"9001\"}")
            .await,
        2.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_at_the_end_of_a_large_upload_is_logged_in_monitor_mode() {
    let app = app::http().await;
    let mut engine = start(app.addr, "monitor", "");
    let body = upload(10_000_000, "nice photo evil-payload-7731");
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, multipart_request("/digest", body.clone())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), app::digest(&body).as_bytes());
    let log = access_for(&mut engine, "/digest");
    assert_eq!(log["decision"], "monitor", "{log}");
    assert!(
        log["rule_ids"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(9001)),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_in_the_last_kilobyte_of_a_one_megabyte_form_is_blocked_or_logged() {
    let app = app::http().await;
    // A 1 MB form is over the default no-files limit (128 KiB): raise it.
    let extra = "  request_body_no_files_limit: 2097152\n";
    let body = form(1_000_000, "evil-payload-7731");
    assert!(body.len() >= 1_000_000);

    let engine = start(app.addr, "block", extra);
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, form_request(body.clone())).await;
    assert_eq!(resp.status(), 403, "{:?}", resp.body());
    let benign = form(1_000_000, "harmless");
    // A blocked request's connection is closed: a new one.
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, form_request(benign.clone())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), app::digest(&benign).as_bytes());
    drop(engine);

    let mut engine = start(app.addr, "monitor", extra);
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, form_request(body.clone())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), app::digest(&body).as_bytes());
    let log = access_for(&mut engine, "/digest");
    assert_eq!(log["decision"], "monitor", "{log}");
    assert!(
        log["rule_ids"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(9001))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn form_over_the_no_files_limit_is_refused_or_partly_inspected() {
    let app = app::http().await;
    // Default limits: a 200 KB form is over the 128 KiB no-files limit.
    let early_attack = {
        let mut b = b"first=evil-payload-7731&".to_vec();
        b.extend_from_slice(&form(200_000, "x"));
        b
    };
    let late_attack = form(200_000, "evil-payload-7731");

    let mut engine = start(app.addr, "block", "");
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, form_request(late_attack.clone())).await;
    assert_eq!(resp.status(), 413);
    let json: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("request_body_no_files_limit"),
        "{json}"
    );
    // Chunked: the limit is found while the body streams in.
    let (status, _) = send_chunked(
        engine.addr,
        "application/x-www-form-urlencoded",
        &late_attack,
    )
    .await;
    assert_eq!(status, 413, "chunked");
    assert_eq!(
        engine
            .metric("palisade_blocked_requests_total{rule_id=\"request_body_no_files_limit\"}")
            .await,
        2.0
    );
    drop(engine);

    // ProcessPartial: the first 128 KiB are inspected, the rest passes and the log says so.
    engine = start(
        app.addr,
        "block",
        "  request_body_limit_action: process_partial\n",
    );
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, form_request(early_attack)).await;
    assert_eq!(resp.status(), 403, "attack inside the inspected part");
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, form_request(late_attack.clone())).await;
    assert_eq!(resp.status(), 200, "attack past the limit is not seen");
    assert_eq!(resp.body(), app::digest(&late_attack).as_bytes());
    let log = engine.wait_event(
        |v| v["type"] == "access" && v["status"] == 200,
        Duration::from_secs(10),
    );
    assert_eq!(
        log["uninspected"],
        serde_json::json!(["request_body"]),
        "{log}"
    );
    // Both were over the limit, so both were only partly inspected.
    assert_eq!(
        engine
            .metric("palisade_uninspected_total{part=\"request_body\"}")
            .await,
        2.0
    );
    drop(engine);

    // Monitor mode with `reject`: forwarded, logged as a would-be block and uninspected.
    engine = start(app.addr, "monitor", "");
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, form_request(late_attack.clone())).await;
    assert_eq!(resp.status(), 200);
    let log = access_for(&mut engine, "/digest");
    assert_eq!(log["decision"], "monitor", "{log}");
    assert_eq!(
        log["uninspected"],
        serde_json::json!(["request_body"]),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_fields_beyond_the_no_files_limit_are_a_body_error_files_are_not() {
    let app = app::http().await;
    let engine = start(app.addr, "block", "");
    // 2 MB of file contents: only the request body limit applies to them.
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(
        &mut s,
        multipart_request("/digest", upload(2_000_000, "ok")),
    )
    .await;
    assert_eq!(resp.status(), 200);
    // 200 KB in a form field: over the no-files limit (128 KiB), as in ModSecurity.
    let big_field = "w".repeat(200_000);
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, multipart_request("/digest", upload(10, &big_field))).await;
    assert_eq!(resp.status(), 400, "{:?}", resp.body());
}

#[tokio::test(flavor = "multi_thread")]
async fn crs_blocks_an_xss_in_the_last_kilobyte_of_a_one_megabyte_form() {
    let Some(crs) = crate::crs::crs_dir() else {
        return;
    };
    let app = app::http().await;
    let cfg = format!(
        "{}  request_body_no_files_limit: 2097152\n",
        crate::crs::crs_config(&crs, "block")
    );
    let engine = Engine::start(app.addr, &cfg);
    let benign = form(1_000_000, "thanks");
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, form_request(benign.clone())).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.body());
    assert_eq!(resp.body(), app::digest(&benign).as_bytes());
    let attack = form(
        1_000_000,
        "%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E",
    );
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, form_request(attack)).await;
    assert_eq!(resp.status(), 403, "{:?}", resp.body());
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_past_the_spill_budget_get_503_and_the_budget_is_released() {
    let app = app::http().await;
    let engine = start(app.addr, "block", "limits:\n  max_spooled_bytes: 1000000\n");
    // 2 MB would spill past the 1 MB budget.
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(
        &mut s,
        multipart_request("/digest", upload(2_000_000, "ok")),
    )
    .await;
    assert_eq!(resp.status(), 503, "{:?}", resp.body());
    // Nothing stays reserved: bodies within the budget keep passing, one after another.
    for _ in 0..3 {
        let body = upload(900_000, "ok");
        let mut s = client::connect(engine.addr).await;
        let resp = client::send(&mut s, multipart_request("/digest", body.clone())).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.body(), app::digest(&body).as_bytes());
    }
}
