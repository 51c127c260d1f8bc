//! First contact with a client connection: decide HTTP/1, HTTP/2 (prior knowledge) or
//! not HTTP from the first bytes ([`detect`]), then hand it to the matching pingora
//! HTTP app or relay it as raw TCP.
//!
//! For HTTP/1 the front runs the keep-alive loop itself instead of pingora's: before
//! pingora reads each request head, [`head`] checks the buffered head with pingora's own
//! parser and the engine's framing policy. A head that would not reach inspection is
//! refused here with a `refused` log line and `palisade_refused_requests_total`, so
//! nothing is dropped or answered without a trace. A client that stays silent, or
//! sends a partial line, within `timeouts.protocol_detect_ms` is treated as HTTP and
//! falls under the request-header deadline.

pub mod detect;
pub mod head;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ServerApp};
use pingora::protocols::Stream;
use pingora::protocols::http::ServerSession;
use pingora::proxy::HttpProxy;
use pingora::server::ShutdownWatch;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

pub use detect::{Proto, classify};
use head::Refusal;

use super::Engine;
use super::stream::FrontStream;
use crate::accesslog::now_rfc3339;
use crate::config::NonHttp;
use crate::state::{Shared, Snapshot};

/// The pingora app for every listener: detection, then HTTP or TCP.
pub struct Front {
    pub(crate) h1: Arc<HttpProxy<Engine>>,
    pub(crate) h2c: Arc<HttpProxy<Engine>>,
    pub(crate) shared: Arc<Shared>,
}

#[async_trait]
impl ServerApp for Front {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let snap = self.shared.snapshot();
        let m = &self.shared.metrics;
        let max = snap.config.limits.max_connections;
        let Some(_conn) = self.shared.conns.admit(max, &m.active_connections) else {
            m.connections_rejected.inc();
            super::conns::refuse(stream).await;
            return None;
        };
        let t = &snap.config.timeouts;
        let tls = stream.get_ssl_digest().is_some();
        if tls
            && matches!(
                stream.selected_alpn_proto(),
                Some(pingora::protocols::ALPN::H2)
            )
        {
            // TLS with ALPN h2: pingora's HTTP/2 server.
            return self.h2c.process_new(stream, shutdown).await;
        }
        let mut fs = FrontStream::new(
            stream,
            Duration::from_millis(t.request_header_ms),
            self.shared.conns.clone(),
            m.slow_clients.with_label_values(&["head"]),
        );
        if tls {
            // HTTP/1 over TLS (ALPN http/1.1 or none): the same checked loop; the bytes
            // inside TLS are HTTP by the client's own choice, so no detection.
            return self.http1(fs, shutdown).await;
        }
        let detect = tokio::time::timeout(Duration::from_millis(t.protocol_detect_ms), async {
            loop {
                match classify(fs.buffered()) {
                    Proto::Undecided => {}
                    p => return Ok(p),
                }
                if fs.fill().await? == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
                }
            }
        })
        .await;
        let proto = match detect {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return None,
            // Silent or still ambiguous: HTTP rules apply (head deadline, parser).
            Err(_) => Proto::Http1,
        };
        match proto {
            Proto::Http2 => self.h2c.process_new(Box::new(fs), shutdown).await,
            Proto::Other => {
                self.non_http(fs, snap.config.non_http).await;
                None
            }
            _ => self.http1(fs, shutdown).await,
        }
    }

    async fn cleanup(&self) {
        // Wakes idle keep-alive connections so a drain does not wait for them.
        ServerApp::cleanup(self.h1.as_ref()).await;
        ServerApp::cleanup(self.h2c.as_ref()).await;
    }
}

#[derive(Serialize)]
struct TcpRecord {
    #[serde(rename = "type")]
    kind: &'static str,
    time: String,
    client: String,
    action: &'static str,
    upstream: Option<String>,
    bytes_in: u64,
    bytes_out: u64,
    duration_ms: f64,
    error: Option<String>,
}

/// The outcome of waiting for the next request head.
enum Head {
    /// A complete head pingora will accept is buffered.
    Ready,
    /// The client went away, idled out, or the server is draining.
    Closed,
    Refused(Refusal),
}

#[derive(Serialize)]
struct RefusedRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    time: String,
    request_id: &'a str,
    client: String,
    status: u16,
    reason_kind: &'static str,
    reason: &'a str,
    request_line: String,
}

impl Front {
    /// pingora's HTTP/1 keep-alive loop, with each head checked before pingora reads it.
    async fn http1(&self, mut fs: FrontStream, shutdown: &ShutdownWatch) -> Option<Stream> {
        let mut settings: Option<HttpPersistentSettings> = None;
        loop {
            let snap = self.shared.snapshot();
            match next_head(&mut fs, &snap, shutdown).await {
                Head::Ready => {}
                Head::Closed => return None,
                Head::Refused(r) => {
                    self.refuse(fs, &snap, r).await;
                    return None;
                }
            }
            let mut session = ServerSession::new_http1(Box::new(fs));
            match settings.take() {
                Some(s) => s.apply_to_session(&mut session),
                // What pingora's own loop sets on a new connection.
                None if *shutdown.borrow() => session.set_keepalive(None),
                None => session.set_keepalive(Some(60)),
            }
            let reused = self.h1.process_new_http(session, shutdown).await?;
            let (stream, s) = reused.consume();
            settings = s;
            // The stream pingora hands back is the one boxed above.
            fs = *stream.into_any().downcast::<FrontStream>().ok()?;
        }
    }

    /// Answer a refused head, log it and count it; the connection is closed after.
    async fn refuse(&self, mut fs: FrontStream, snap: &Snapshot, r: Refusal) {
        let m = &self.shared.metrics;
        m.refused.with_label_values(&[r.kind]).inc();
        if r.kind == "timeout" {
            // The same slowloris cut the stream's own head deadline counts.
            m.slow_clients.with_label_values(&["head"]).inc();
        }
        // A trusted client request id survives a refusal too, so the refusal can be found
        // by the id the client (or the load balancer in front) logged.
        let request_id = snap
            .config
            .trust_request_id
            .then(|| head::raw_header(fs.buffered(), "x-request-id"))
            .flatten()
            .and_then(super::headers::well_formed_request_id)
            .unwrap_or_else(super::headers::fresh_request_id);
        let client = fs
            .socket_digest()
            .and_then(|d| d.peer_addr().map(|a| a.to_string()))
            .unwrap_or_default();
        tracing::debug!(status = r.status, kind = r.kind, reason = %r.reason, "request refused before inspection");
        if snap.config.access_log {
            let rec = RefusedRecord {
                kind: "refused",
                time: now_rfc3339(),
                request_id: &request_id,
                client,
                status: r.status,
                reason_kind: r.kind,
                reason: &r.reason,
                request_line: head::first_line(fs.buffered()),
            };
            if !self.shared.access_log.emit(&rec) {
                m.access_log_dropped.inc();
            }
        }
        if r.status == 0 {
            return;
        }
        let body = serde_json::json!({
            "status": r.status,
            "error": "bad request",
            "request_id": request_id,
        })
        .to_string();
        let phrase = http::StatusCode::from_u16(r.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Bad Request");
        let resp = format!(
            "HTTP/1.1 {} {phrase}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: {request_id}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
            r.status,
            body.len()
        );
        let write = async {
            fs.write_all(resp.as_bytes()).await?;
            fs.flush().await?;
            fs.shutdown().await
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), write).await;
    }

    async fn non_http(&self, mut fs: FrontStream, mode: NonHttp) {
        let start = Instant::now();
        let digest = fs.socket_digest();
        let client = digest
            .as_ref()
            .and_then(|d| d.peer_addr())
            .map(|a| a.to_string())
            .unwrap_or_default();
        let action = match mode {
            NonHttp::Passthrough => "passthrough",
            NonHttp::Reject => "reject",
        };
        self.shared
            .metrics
            .non_http
            .with_label_values(&[action])
            .inc();
        let mut rec = TcpRecord {
            kind: "tcp",
            time: now_rfc3339(),
            client,
            action,
            upstream: None,
            bytes_in: 0,
            bytes_out: 0,
            duration_ms: 0.0,
            error: None,
        };
        if mode == NonHttp::Passthrough {
            let snap = self.shared.snapshot();
            let target = snap.upstream.or_else(|| {
                let orig = digest.as_ref().and_then(|d| d.original_dst())?.as_inet()?;
                super::upstream::loopback_for(orig, &self.shared.own_ports)
            });
            rec.upstream = target.map(|t| t.to_string());
            match target {
                Some(target) => {
                    let connect = Duration::from_millis(snap.config.timeouts.upstream_connect_ms);
                    match relay(&mut fs, target, connect).await {
                        Ok((i, o)) => (rec.bytes_in, rec.bytes_out) = (i, o),
                        Err(e) => {
                            self.shared
                                .metrics
                                .upstream_errors
                                .with_label_values(&["connect"])
                                .inc();
                            rec.error = Some(e.to_string());
                        }
                    }
                }
                None => rec.error = Some("no original destination to relay to".into()),
            }
        }
        rec.duration_ms = start.elapsed().as_secs_f64() * 1000.0;
        if self.shared.snapshot().config.access_log && !self.shared.access_log.emit(&rec) {
            self.shared.metrics.access_log_dropped.inc();
        }
    }
}

async fn relay(
    fs: &mut FrontStream,
    target: SocketAddr,
    connect: Duration,
) -> std::io::Result<(u64, u64)> {
    let mut up = tokio::time::timeout(connect, tokio::net::TcpStream::connect(target))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    up.set_nodelay(true)?;
    tokio::io::copy_bidirectional(fs, &mut up).await
}

/// Wait for the next request head on `fs` and check it (see [`head`]).
async fn next_head(fs: &mut FrontStream, snap: &Snapshot, shutdown: &ShutdownWatch) -> Head {
    let t = &snap.config.timeouts;
    let l = &snap.config.limits;
    if fs.buffered().is_empty() {
        // Between requests: the idle timeout, and a drain ends the wait.
        let mut shutdown = shutdown.clone();
        if *shutdown.borrow() {
            return Head::Closed;
        }
        let first = tokio::select! {
            r = tokio::time::timeout(Duration::from_millis(t.idle_ms), fs.fill()) => r,
            _ = shutdown.changed() => return Head::Closed,
        };
        match first {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Head::Closed,
        }
    }
    // The request line and every header, plus slack for line ends; pingora's own
    // limits and the limits inspector answer heads that are large but complete.
    let max = l.max_header_bytes + l.max_uri_bytes + 4096;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(t.request_header_ms);
    fs.set_target(None);
    loop {
        let buf = fs.buffered();
        if let Some(n) = head::head_len(buf) {
            let target = head::request_target(&buf[..n]);
            let escaped = head::escape_target(&buf[..n]);
            if let Some(e) = &escaped {
                fs.rewrite_prefix(n, e);
            }
            let len = escaped.as_ref().map_or(n, Vec::len);
            fs.set_target(target);
            return match head::check(&fs.buffered()[..len]).await {
                Ok(()) => Head::Ready,
                Err(r) => Head::Refused(r),
            };
        }
        if let Some(r) = head::check_line(buf).await {
            return Head::Refused(r);
        }
        if head::hopeless(buf) {
            return match head::check(buf).await {
                Ok(()) => Head::Ready,
                Err(r) => Head::Refused(r),
            };
        }
        if buf.len() > max {
            return Head::Refused(Refusal {
                status: 431,
                kind: "too_large",
                reason: format!("request head larger than {max} bytes"),
            });
        }
        match tokio::time::timeout_at(deadline, fs.fill()).await {
            Ok(Ok(n)) if n > 0 => {}
            // EOF or a reset in the middle of a head: nothing to answer.
            Ok(_) if fs.buffered().iter().all(|b| b.is_ascii_whitespace()) => return Head::Closed,
            Ok(_) => {
                return Head::Refused(Refusal {
                    status: 0,
                    kind: "incomplete",
                    reason: "connection closed in the middle of a request head".into(),
                });
            }
            Err(_) => {
                return Head::Refused(Refusal {
                    status: 408,
                    kind: "timeout",
                    reason: "request head not complete before timeouts.request_header_ms".into(),
                });
            }
        }
    }
}
