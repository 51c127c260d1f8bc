//! The protected app: a small hyper HTTP/1.1 server, plus WebSocket and TCP echo servers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinHandle};

/// A running server, stopped on drop: the listener and every open connection.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
    conns: Conns,
}

impl Server {
    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.conns.lock().unwrap().len()
    }
}

type Conns = Arc<Mutex<Vec<AbortHandle>>>;

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

fn track(conns: &Conns, task: JoinHandle<()>) {
    conns.lock().unwrap().push(task.abort_handle());
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let reply = |s: String| Ok(Response::new(Full::new(Bytes::from(s))));
    match path.as_str() {
        "/headers" => {
            let mut map = serde_json::Map::new();
            for (n, v) in &parts.headers {
                map.insert(
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned().into(),
                );
            }
            let v = serde_json::json!({
                "method": parts.method.as_str(),
                "uri": parts.uri.to_string(),
                "version": format!("{:?}", parts.version),
                "headers": map,
            });
            reply(v.to_string())
        }
        "/count" => {
            // Streams the body without keeping it.
            let mut body = body;
            let mut n: u64 = 0;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.map(|f| f.into_data()) {
                    n += data.map(|d| d.len() as u64).unwrap_or(0);
                } else {
                    break;
                }
            }
            reply(format!("{n}"))
        }
        "/digest" => {
            // Streams the body through SHA-1: `<length> <hex digest>`.
            use sha1::Digest;
            let mut body = body;
            let mut h = sha1::Sha1::new();
            let mut n: u64 = 0;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                if let Ok(d) = frame.into_data() {
                    n += d.len() as u64;
                    h.update(&d);
                }
            }
            reply(format!("{n} {}", hex(&h.finalize())))
        }
        "/big" => {
            // `?n=<bytes>` of a repeating alphabet.
            let n: usize = parts
                .uri
                .query()
                .and_then(|q| q.strip_prefix("n="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            let data: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            Ok(Response::new(Full::new(Bytes::from(data))))
        }
        "/echo" => {
            let data = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            Ok(Response::new(Full::new(data)))
        }
        "/slow" => {
            let ms: u64 = parts
                .uri
                .query()
                .and_then(|q| q.strip_prefix("ms="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            reply("slow done".into())
        }
        "/secret-header" => {
            let mut r = Response::new(Full::new(Bytes::from("fine body")));
            r.headers_mut().insert("x-secret", "1".parse().unwrap());
            Ok(r)
        }
        "/leak" => reply("this body has leaked data in it".into()),
        _ => reply("hello from app".into()),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `<length> <hex SHA-1>` of `data`, as `/digest` answers.
pub fn digest(data: &[u8]) -> String {
    use sha1::Digest;
    format!("{} {}", data.len(), hex(&sha1::Sha1::digest(data)))
}

/// Start the HTTP app on `addr` (use port 0 for any).
pub async fn http_on(addr: SocketAddr) -> Server {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns: Conns = Arc::default();
    let tracked = conns.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let t = tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .with_upgrades()
                    .await;
            });
            track(&tracked, t);
        }
    });
    Server { addr, task, conns }
}

pub async fn http() -> Server {
    http_on("127.0.0.1:0".parse().unwrap()).await
}

/// A WebSocket server echoing every message.
pub async fn websocket() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns: Conns = Arc::default();
    let tracked = conns.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let t = tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            });
            track(&tracked, t);
        }
    });
    Server { addr, task, conns }
}

/// A line-based TCP echo server (not HTTP): answers `echo: <line>` per line.
pub async fn line_echo() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns: Conns = Arc::default();
    let tracked = conns.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let t = tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if w.write_all(format!("echo: {line}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
            track(&tracked, t);
        }
    });
    Server { addr, task, conns }
}
