//! Minimal HTTP clients over hyper's connection API.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

pub type Sender = http1::SendRequest<Full<Bytes>>;

/// Open an HTTP/1.1 connection.
pub async fn connect(addr: SocketAddr) -> Sender {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    sender
}

/// Send `req` on `sender` and collect the response body.
pub async fn send(sender: &mut Sender, req: Request<Full<Bytes>>) -> Response<Bytes> {
    sender.ready().await.unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Response::from_parts(parts, body)
}

pub fn request(method: &str, path: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "app.test")
        .body(Full::new(body.into()))
        .unwrap()
}

/// One GET on a fresh connection.
pub async fn get(addr: SocketAddr, path: &str) -> Response<Bytes> {
    let mut s = connect(addr).await;
    send(&mut s, request("GET", path, Bytes::new())).await
}

/// One request on a fresh HTTP/2 prior-knowledge connection.
pub async fn h2c(addr: SocketAddr, req: Request<Full<Bytes>>) -> Response<Bytes> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Response::from_parts(parts, body)
}

/// Write raw bytes, read until EOF (or `limit` bytes), return what came back.
pub async fn raw(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(data).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out)).await;
    out
}

/// A self-signed `localhost` certificate written to `dir`; returns the engine's `tls`
/// config (a listener on a free port) and the certificate, for the client to trust.
pub fn tls_files(dir: &std::path::Path) -> (String, rcgen::CertifiedKey<rcgen::KeyPair>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let yaml = format!(
        "tls:\n  listen: 127.0.0.1:0\n  cert: {}\n  key: {}\n",
        cert.display(),
        key.display()
    );
    (yaml, ck)
}

/// An HTTP/2 connection over TLS to `addr`, trusting only `ck`, after checking that the
/// server chose `h2` by ALPN.
pub async fn h2_tls(
    addr: SocketAddr,
    ck: &rcgen::CertifiedKey<rcgen::KeyPair>,
) -> http2::SendRequest<Full<Bytes>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ck.cert.der().clone()).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}
