//! The front's own look at each HTTP/1 request head before pingora reads it, so that
//! every request the engine does not inspect is refused *here*, where it is logged and
//! counted, and never silently by pingora.
//!
//! The check runs pingora's own parser (the same `HttpSession::read_request`, with its
//! URI escaping, Content-Length reconciliation, Transfer-Encoding and authority rules)
//! on a copy of the buffered head, so it refuses exactly what pingora would refuse,
//! and adds the engine's policy for framings that apps read differently.

use std::io::Cursor;

use pingora::protocols::http::v1::server::HttpSession;

/// Why a head is refused; becomes a `refused` log line and a metric sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    /// Bounded label: `parse`, `framing`, `method`, `too_large`.
    pub kind: &'static str,
    pub reason: String,
}

impl Refusal {
    fn new(status: u16, kind: &'static str, reason: impl Into<String>) -> Self {
        Refusal {
            status,
            kind,
            reason: reason.into(),
        }
    }
}

/// The length of the request head at the start of `buf` (through the empty line that
/// ends it; bare LF line ends count, as httparse accepts them), if it is all there.
pub fn head_len(buf: &[u8]) -> Option<usize> {
    // httparse skips empty lines before the request line.
    let start = buf
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(buf.len());
    let mut i = start;
    while let Some(nl) = buf[i..].iter().position(|b| *b == b'\n') {
        let after = i + nl + 1;
        match (buf.get(after), buf.get(after + 1)) {
            (Some(b'\n'), _) => return Some(after + 1),
            (Some(b'\r'), Some(b'\n')) => return Some(after + 2),
            _ => i = after,
        }
    }
    None
}

/// True when the head, complete or not, already fails to parse in a way pingora would
/// not repair by escaping the target: no need to wait for the rest of it.
pub fn hopeless(buf: &[u8]) -> bool {
    // As many header slots as pingora gives httparse (its `MAX_HEADERS`).
    let mut headers = [httparse::EMPTY_HEADER; 256];
    let mut req = httparse::Request::new(&mut headers);
    matches!(
        req.parse(buf),
        Err(e) if !matches!(e, httparse::Error::Token | httparse::Error::Version)
    )
}

/// A refusal decided by the request line alone, once it is complete and the rest of
/// the head is not: a line without a version (`GET /path`, which Python's http.server
/// serves at once as HTTP/0.9) must not wait for headers that will never come.
pub async fn check_line(buf: &[u8]) -> Option<Refusal> {
    let start = buf.iter().position(|b| *b != b'\r' && *b != b'\n')?;
    let end = buf[start..].iter().position(|b| *b == b'\n')? + start;
    let mut line = buf[..end].to_vec();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    line.extend_from_slice(b"\r\n\r\n");
    let line = escape_target(&line).unwrap_or(line);
    check(&line).await.err().filter(|r| r.kind == "parse")
}

/// The request line of a head: (offset of the target, the target).
fn target_span(head: &[u8]) -> Option<(usize, &[u8])> {
    let start = head.iter().position(|b| *b != b'\r' && *b != b'\n')?;
    let rest = &head[start..];
    let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    let line = &rest[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // httparse takes runs of spaces and tabs between the parts; the target is what
    // lies between the method and the version.
    let ws = |b: &u8| *b == b' ' || *b == b'\t';
    let first = line.iter().position(ws)?;
    let last = line.iter().rposition(ws)?;
    let lead = line[first..].iter().take_while(|b| ws(b)).count();
    let from = first + lead;
    if last < from {
        return None;
    }
    let middle = &line[from..last];
    let trail = middle.iter().rev().take_while(|b| ws(b)).count();
    let target = &middle[..middle.len() - trail];
    (!target.is_empty()).then_some((start + from, target))
}

/// Whether the request line separates method, target and version by single spaces.
/// httparse is stricter, but pingora's fallback for targets it rejects re-reads the
/// line with a regex that keeps extra separators inside the target (`GET  /a` reaches
/// the app as `%20/a`), so such lines are refused rather than seen two ways.
fn single_spaced(head: &[u8]) -> bool {
    let Some((at, target)) = target_span(head) else {
        return true;
    };
    let before = head[..at]
        .iter()
        .rev()
        .take_while(|b| **b == b' ' || **b == b'\t');
    let after = head[at + target.len()..]
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t');
    before.eq(b" ".iter()) && after.eq(b" ".iter())
}

/// The request target as the client sent it (fragment and all), for the rules.
pub fn request_target(head: &[u8]) -> Option<Vec<u8>> {
    target_span(head).map(|(_, t)| t.to_vec())
}

/// Bytes in a target that pingora's `RequestHeader` (the `http` crate's URI) cannot
/// hold, though nginx and the rest take them: raw quotes, angle brackets, backslash,
/// braces, `|`, `^`, a backtick, and anything outside printable ASCII.
fn needs_escape(b: u8) -> bool {
    !b.is_ascii_graphic() || b"\"<>\\^`{|}".contains(&b)
}

/// The head with its target percent-encoded where pingora would otherwise refuse it
/// (`/a"b` becomes `/a%22b`), or `None` when nothing needs escaping. This is what
/// pingora already does for the bytes httparse rejects; the app receives the encoded
/// target, which decodes to the same values the rules inspect.
pub fn escape_target(head: &[u8]) -> Option<Vec<u8>> {
    let (at, target) = target_span(head)?;
    if !target.iter().any(|b| needs_escape(*b)) {
        return None;
    }
    let mut out = Vec::with_capacity(head.len() + 16);
    out.extend_from_slice(&head[..at]);
    for &b in target {
        if needs_escape(b) {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(&head[at + target.len()..]);
    Some(out)
}

/// Check a complete head: what pingora would refuse, then the engine's policy.
pub async fn check(head: &[u8]) -> Result<(), Refusal> {
    let mut s = HttpSession::new(Box::new(Cursor::new(head.to_vec())));
    match s.read_request().await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(Refusal::new(400, "parse", "empty request head")),
        Err(e) => return Err(Refusal::new(400, "parse", reason(&e))),
    }
    if !single_spaced(head) {
        return Err(Refusal::new(
            400,
            "parse",
            "request line parts not separated by single spaces",
        ));
    }
    let req = s.req_header();
    if req.method == http::Method::CONNECT {
        return Err(Refusal::new(
            405,
            "method",
            "CONNECT is not proxied (the engine is not a forward proxy)",
        ));
    }
    framing(head)
}

/// Framing the app could read differently from the engine: pingora drops
/// `Content-Length` when `Transfer-Encoding` is present and forwards any coding list
/// that ends in `chunked`; an app behind it may honour either header or decode the
/// other codings, so only a lone `Transfer-Encoding: chunked` is accepted.
fn framing(head: &[u8]) -> Result<(), Refusal> {
    let mut te = Vec::new();
    let mut cl = 0;
    // pingora accepted the head, so every line after the first is `name: value`.
    for line in head
        .split(|b| *b == b'\n')
        .skip_while(|l| l.trim_ascii().is_empty())
        .skip(1)
    {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te.push(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            cl += 1;
        }
    }
    if te.is_empty() {
        return Ok(());
    }
    if cl > 0 {
        return Err(Refusal::new(
            400,
            "framing",
            "both Transfer-Encoding and Content-Length (request smuggling)",
        ));
    }
    if te.len() > 1 || !te[0].eq_ignore_ascii_case(b"chunked") {
        return Err(Refusal::new(
            400,
            "framing",
            format!(
                "Transfer-Encoding other than a single `chunked`: {}",
                printable(&te.concat(), 100)
            ),
        ));
    }
    Ok(())
}

/// pingora's explanation without its dump of the whole buffer.
fn reason(e: &pingora::Error) -> String {
    let context = e
        .context
        .as_ref()
        .map(|c| c.to_string())
        .unwrap_or_default();
    let r = if context.is_empty() || context.starts_with("buf:") {
        match &e.cause {
            Some(c) => format!("unparseable request head: {c}"),
            None => "unparseable request head".to_string(),
        }
    } else {
        context
    };
    printable(r.as_bytes(), 200)
}

/// `bytes` escaped to printable ASCII and cut at `max` bytes, for log fields.
pub fn printable(bytes: &[u8], max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    let mut s = cut.escape_ascii().to_string();
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}

/// The first line of `buf`, for the log (the request line of a refused head).
pub fn first_line(buf: &[u8]) -> String {
    let start = buf
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(buf.len());
    let rest = &buf[start..];
    let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    printable(rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]), 256)
}

/// The value of the first `name` header line in a (possibly incomplete or malformed) head,
/// read line by line up to the empty line: a refused head never reaches a header map.
/// `name` is lower-case.
pub fn raw_header<'a>(buf: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let start = buf.iter().position(|b| *b != b'\r' && *b != b'\n')?;
    buf[start..]
        .split(|b| *b == b'\n')
        .skip(1)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let colon = l.iter().position(|b| *b == b':')?;
            l[..colon]
                .eq_ignore_ascii_case(name.as_bytes())
                .then(|| l[colon + 1..].trim_ascii())
        })
}

#[cfg(test)]
mod tests {
    use super::{check, head_len, raw_header};

    #[test]
    fn raw_header_reads_a_refused_head() {
        let head = b"\r\nGET https://a:443/ HTTP/1.1\r\nHost: a\r\nX-Request-ID:  r-1 \r\n\r\nX-Request-Id: body";
        assert_eq!(raw_header(head, "x-request-id"), Some(&b"r-1"[..]));
        assert_eq!(
            raw_header(b"GET / HTTP/1.1\nx-request-id: lf\n", "x-request-id"),
            Some(&b"lf"[..])
        );
        // The request line is not a header; the head ends at the empty line.
        assert_eq!(
            raw_header(b"x-request-id: no HTTP/1.1\r\n\r\n", "x-request-id"),
            None
        );
        assert_eq!(
            raw_header(
                b"GET / HTTP/1.1\r\n\r\nx-request-id: late\r\n",
                "x-request-id"
            ),
            None
        );
    }

    #[test]
    fn head_ends_at_the_first_empty_line() {
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody"), Some(24));
        assert_eq!(head_len(b"GET / HTTP/1.1\nA: b\n\nbody"), Some(21));
        assert_eq!(head_len(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"), Some(22));
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nA: b\r"), None);
        assert_eq!(head_len(b"GET / HTTP/1.1\r\n\r"), None);
    }

    async fn refused(head: &str) -> Option<(u16, &'static str)> {
        check(head.as_bytes())
            .await
            .err()
            .map(|r| (r.status, r.kind))
    }

    #[tokio::test]
    async fn pingora_refusals_and_policy_are_named() {
        assert_eq!(refused("GET / HTTP/1.1\r\nHost: a\r\n\r\n").await, None);
        let raw = b"GET /a\"<b>\\{|}^`\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n";
        let escaped = super::escape_target(raw).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&escaped),
            "GET /a%22%3Cb%3E%5C%7B%7C%7D%5E%60%C3%A9 HTTP/1.1\r\nHost: a\r\n\r\n"
        );
        assert_eq!(check(&escaped).await, Ok(()));
        assert_eq!(super::escape_target(b"GET /a?b=1 HTTP/1.1\r\n\r\n"), None);
        assert_eq!(
            super::request_target(b"\r\nGET /a#f HTTP/1.1\r\n\r\n").as_deref(),
            Some(&b"/a#f"[..])
        );
        for bad in [
            "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            "GET /path\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET\t/ HTTP/1.1\r\n\r\n",
            "GET  /a HTTP/1.1\r\n\r\n",
            "GET \t/a HTTP/1.1\r\n\r\n",
            "GET /a\"  HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(refused(bad).await.map(|r| r.1), Some("parse"), "{bad:?}");
        }
        for bad in [
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(refused(bad).await.map(|r| r.1), Some("framing"), "{bad:?}");
        }
        assert_eq!(
            refused("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n").await,
            Some((405, "method"))
        );
    }
}
