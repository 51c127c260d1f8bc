//! A backend with the behaviour of albedo, the reflector go-ftw's CRS setups proxy to:
//! `POST /reflect` answers with the status, headers and body that its JSON request body
//! names (`status`, `headers`, `body`, or base64 `encodedBody`); every other request that
//! parses gets `200` with an empty body. Keep-alive, `Content-Length` and chunked request
//! bodies, so a proxy's pooled connections work.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use base64::Engine as _;

/// Starts the backend on `127.0.0.1:0` (threads, one per connection); returns its address.
pub fn start_albedo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the albedo backend");
    let addr = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || serve(conn));
        }
    });
    addr
}

fn serve(conn: TcpStream) {
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    loop {
        let Some((line, headers)) = read_head(&mut reader) else {
            return;
        };
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let chunked =
            header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let body = if chunked {
            match read_chunked(&mut reader) {
                Some(b) => b,
                None => return,
            }
        } else {
            let len = header("content-length")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let mut b = Vec::new();
            if (&mut reader).take(len).read_to_end(&mut b).is_err() {
                return;
            }
            b
        };
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default();
        let path = parts
            .next()
            .unwrap_or_default()
            .split('?')
            .next()
            .unwrap_or_default();
        let response = if method == "POST" && path == "/reflect" {
            reflect(&body)
        } else {
            (200, Vec::new(), Vec::new())
        };
        if out.write_all(&render(response, close)).is_err() || close {
            return;
        }
    }
}

type Response = (u16, Vec<(String, String)>, Vec<u8>);

fn reflect(body: &[u8]) -> Response {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (400, Vec::new(), b"invalid reflection spec".to_vec());
    };
    let status = v["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| *s >= 100)
        .unwrap_or(200);
    let headers: Vec<(String, String)> = v["headers"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let body = match (v["encodedBody"].as_str(), v["body"].as_str()) {
        (Some(e), _) if !e.is_empty() => base64::engine::general_purpose::STANDARD
            .decode(e)
            .unwrap_or_default(),
        (_, Some(b)) => b.as_bytes().to_vec(),
        _ => Vec::new(),
    };
    let mut headers: Vec<(String, String)> = headers;
    if !body.is_empty()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), sniff(&body).into()));
    }
    (status, headers, body)
}

/// The `Content-Type` Go's `net/http` (albedo's server) gives a body it was not told the
/// type of: its content sniffing, reduced to the cases the suite's bodies hit.
fn sniff(body: &[u8]) -> &'static str {
    let start = body
        .iter()
        .position(|b| !matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' '))
        .unwrap_or(body.len());
    let head = body[start..].to_ascii_uppercase();
    const HTML: &[&[u8]] = &[
        b"<!DOCTYPE HTML",
        b"<HTML",
        b"<HEAD",
        b"<SCRIPT",
        b"<IFRAME",
        b"<H1",
        b"<DIV",
        b"<FONT",
        b"<TABLE",
        b"<A",
        b"<STYLE",
        b"<TITLE",
        b"<B",
        b"<BODY",
        b"<BR",
        b"<P",
        b"<!--",
    ];
    let tag_end = |n: usize| head.get(n).is_some_and(|&c| c == b' ' || c == b'>');
    if HTML.iter().any(|t| head.starts_with(t) && tag_end(t.len())) {
        return "text/html; charset=utf-8";
    }
    if head.starts_with(b"<?XML") {
        return "text/xml; charset=utf-8";
    }
    let binary = body.iter().take(512).any(|&b| {
        b <= 0x08 || b == 0x0b || (0x0e..=0x1a).contains(&b) || (0x1c..=0x1f).contains(&b)
    });
    if binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

fn render((status, headers, body): Response, close: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status)).into_bytes();
    for (k, v) in &headers {
        if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding") {
            continue;
        }
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

fn read_head(reader: &mut impl BufRead) -> Option<(String, Vec<(String, String)>)> {
    let mut line = String::new();
    // Tolerate empty lines before a request line, as HTTP servers do.
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Some((line.trim().to_string(), headers))
}

fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            // Trailers up to the empty line.
            loop {
                let mut t = String::new();
                if reader.read_line(&mut t).ok()? == 0 || t.trim().is_empty() {
                    return Some(body);
                }
            }
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        chunk.truncate(size);
        body.extend_from_slice(&chunk);
    }
}
