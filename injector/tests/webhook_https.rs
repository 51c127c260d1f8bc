//! The running `palisade-injector` binary answers real AdmissionReview v1 requests over HTTPS,
//! and picks up a new serving certificate from its files without a restart.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Kills the injector when the test ends, whatever happens.
struct Injector {
    child: Child,
    addr: String,
}

impl Drop for Injector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_cert(dir: &Path) -> String {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    // Write the key first and the cert last, each by rename, as a Secret volume update would.
    for (name, body) in [
        ("tls.key", ck.signing_key.serialize_pem()),
        ("tls.crt", ck.cert.pem()),
    ] {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, body).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
    ck.cert.pem()
}

fn start(dir: &Path) -> Injector {
    std::fs::write(
        dir.join("injector.json"),
        common::base_config_json().to_string(),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade-injector"))
        .arg("--listen=127.0.0.1:0")
        .arg(format!("--config={}", dir.join("injector.json").display()))
        .arg(format!("--tls-cert={}", dir.join("tls.crt").display()))
        .arg(format!("--tls-key={}", dir.join("tls.key").display()))
        .arg("--tls-reload-seconds=1")
        .env("PALISADE_LOG", "info")
        // No cluster: labelled pods never need the API server.
        .env("KUBECONFIG", dir.join("no-such-kubeconfig"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start palisade-injector");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && let Some(addr) = v["fields"]["addr"].as_str()
            {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("injector logged its listening address");
    Injector { child, addr }
}

/// One HTTPS request trusting only `ca_pem`; returns status, body and the served certificate.
async fn request(
    addr: &str,
    ca_pem: &str,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (u16, Vec<u8>, Vec<u8>) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with the injector");
    let served: CertificateDer<'static> = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, bytes, served.to_vec())
}

fn review(uid: &str, pod: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "shop",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": pod,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_review_over_https_returns_base64_patch_and_denials() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_cert(dir.path());
    let injector = start(dir.path());

    let (status, body, _) = request(&injector.addr, &ca, "GET", "/healthz", vec![]).await;
    assert_eq!((status, body.as_slice()), (200, b"ok\n".as_slice()));

    let pod = common::fixture("web-labelled.yaml");
    let (status, body, _) = request(
        &injector.addr,
        &ca,
        "POST",
        "/mutate",
        review("7f3e1c2a-0001", pod.clone()),
    )
    .await;
    assert_eq!(status, 200);
    let reply: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(reply["kind"], "AdmissionReview");
    let resp = &reply["response"];
    assert_eq!(resp["uid"], "7f3e1c2a-0001", "uid echoed");
    assert_eq!(resp["allowed"], true);
    assert_eq!(resp["patchType"], "JSONPatch");
    let encoded = resp["patch"]
        .as_str()
        .expect("patch on the wire is a base64 string, not a number array");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("patch is valid base64");
    let patch: json_patch::Patch =
        serde_json::from_slice(&raw).expect("decoded patch is an RFC 6902 document");
    let mut patched = pod;
    json_patch::patch(&mut patched, &patch).unwrap();
    assert_eq!(
        patched["spec"]["initContainers"][0]["name"],
        "palisade-engine"
    );

    let mut bad = common::fixture("web-labelled.yaml");
    bad["metadata"]["annotations"] = json!({"palisade.dev/paranoia-level": "7"});
    let (_, body, _) = request(
        &injector.addr,
        &ca,
        "POST",
        "/mutate",
        review("7f3e1c2a-0002", bad),
    )
    .await;
    let reply: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply["response"]["uid"], "7f3e1c2a-0002");
    assert_eq!(reply["response"]["allowed"], false);
    let msg = reply["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("palisade.dev/paranoia-level") && msg.contains("1, 2, 3, 4"),
        "{msg}"
    );
    assert!(reply["response"].get("patch").is_none());

    let (_, body, _) = request(
        &injector.addr,
        &ca,
        "POST",
        "/mutate",
        b"{not json".to_vec(),
    )
    .await;
    let reply: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply["response"]["allowed"], false);

    let (_, body, _) = request(&injector.addr, &ca, "GET", "/metrics", vec![]).await;
    let text = String::from_utf8(body).unwrap();
    for want in [
        "palisade_injector_admissions_total{result=\"injected\"} 1",
        "palisade_injector_admissions_total{result=\"denied\"} 1",
        "palisade_injector_admissions_total{result=\"error\"} 1",
    ] {
        assert!(text.contains(want), "metrics lack {want}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_certificate_files_are_served_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_cert(dir.path());
    let injector = start(dir.path());
    let (_, _, served) = request(&injector.addr, &first, "GET", "/healthz", vec![]).await;
    let first_der = rustls_pemfile::certs(&mut first.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(served, first_der.to_vec());

    let second = write_cert(dir.path());
    let second_der = rustls_pemfile::certs(&mut second.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .to_vec();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Trust both while the swap happens; the served certificate tells which one is live.
        let both = format!("{first}{second}");
        let (status, _, served) = request(&injector.addr, &both, "GET", "/healthz", vec![]).await;
        assert_eq!(status, 200);
        if served == second_der {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new certificate not served within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
