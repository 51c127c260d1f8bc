//! First contact with a client connection: decide HTTP/1, HTTP/2 (prior knowledge) or
//! not HTTP from the first bytes, then hand it to the matching pingora HTTP app or
//! relay it as raw TCP.
//!
//! A connection counts as HTTP when its first line is an HTTP request line: a method
//! token, a space, a target, a space and `HTTP/` (leading empty lines allowed, as RFC
//! 9112 lets servers skip them), or the HTTP/2 preface. Anything else cannot be parsed
//! as HTTP by the app either, so relaying it does not let HTTP bypass inspection. A
//! client that stays silent, or sends a partial line, within
//! `timeouts.protocol_detect_ms` is treated as HTTP and falls under the request-header
//! deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::proxy::HttpProxy;
use pingora::server::ShutdownWatch;
use serde::Serialize;

use super::Engine;
use super::stream::FrontStream;
use crate::accesslog::now_rfc3339;
use crate::config::NonHttp;
use crate::state::Shared;

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Longest method token considered (longer first words are not HTTP).
const MAX_METHOD: usize = 32;
/// A request line longer than this is left to the HTTP parser and its limits.
const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    Http1,
    Http2,
    Other,
    Undecided,
}

/// Classify the bytes seen so far.
pub(crate) fn classify(bytes: &[u8]) -> Proto {
    let start = bytes
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(bytes.len());
    let rest = &bytes[start..];
    if start > 4 {
        return Proto::Other;
    }
    let common = rest.len().min(H2_PREFACE.len());
    if start == 0 && rest[..common] == H2_PREFACE[..common] {
        return if common == H2_PREFACE.len() {
            Proto::Http2
        } else {
            Proto::Undecided
        };
    }
    for (i, b) in rest.iter().enumerate() {
        if *b == b' ' {
            return if i == 0 {
                Proto::Other
            } else {
                request_line(&rest[i + 1..])
            };
        }
        if !is_tchar(*b) || i >= MAX_METHOD {
            return Proto::Other;
        }
    }
    Proto::Undecided
}

/// After `METHOD `: the line must end with ` HTTP/`version.
fn request_line(rest: &[u8]) -> Proto {
    let Some(end) = rest.iter().position(|b| *b == b'\n') else {
        // A very long target: HTTP's own limits (414) answer it.
        return if rest.len() > MAX_LINE {
            Proto::Http1
        } else {
            Proto::Undecided
        };
    };
    let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
    match line.iter().rposition(|b| *b == b' ') {
        Some(sp) if sp > 0 && line[sp + 1..].starts_with(b"HTTP/") => Proto::Http1,
        _ => Proto::Other,
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

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
        if stream.get_ssl_digest().is_some() {
            // TLS: ALPN already chose h1 or h2.
            return self.h2c.process_new(stream, shutdown).await;
        }
        let t = &snap.config.timeouts;
        let mut fs = FrontStream::new(
            stream,
            Duration::from_millis(t.request_header_ms),
            self.shared.conns.clone(),
            m.slow_clients.with_label_values(&["head"]),
        );
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
            _ => self.h1.process_new(Box::new(fs), shutdown).await,
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

impl Front {
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

#[cfg(test)]
mod tests {
    use super::{Proto, classify};

    #[test]
    fn first_bytes_decide_the_protocol() {
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), Proto::Http1);
        assert_eq!(classify(b"\r\nPOST /x HTTP/1.0\n"), Proto::Http1);
        assert_eq!(classify(b"\r\nPOST /x"), Proto::Undecided);
        assert_eq!(classify(b"hello world\n"), Proto::Other);
        assert_eq!(classify(b"GE"), Proto::Undecided);
        assert_eq!(classify(b""), Proto::Undecided);
        assert_eq!(classify(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Proto::Http2);
        assert_eq!(classify(b"PRI * HT"), Proto::Undecided);
        assert_eq!(classify(b"PRI /x HTTP/1.1\r\n"), Proto::Http1);
        assert_eq!(classify(b"hello\n"), Proto::Other);
        assert_eq!(classify(b"\x16\x03\x01\x02"), Proto::Other);
        assert_eq!(classify(b" GET"), Proto::Other);
        assert_eq!(classify(&[b'A'; 40]), Proto::Other);
    }
}
