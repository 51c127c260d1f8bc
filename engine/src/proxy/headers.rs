//! Reading the request head for inspection and writing the forwarding headers.

use std::borrow::Cow;

use http::Version;
use pingora::http::RequestHeader;
use pingora::proxy::Session;

use super::stream::FrontStream;

use crate::inspect::RequestHead;

/// The longest incoming `X-Request-Id` kept when it is trusted.
const MAX_REQUEST_ID: usize = 128;

pub fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/3.0",
    }
}

/// The URI as received (raw bytes, lossily decoded only if not UTF-8).
pub fn raw_uri(req: &RequestHeader) -> Cow<'_, str> {
    String::from_utf8_lossy(req.raw_path())
}

/// The target the rules inspect: the client's own bytes where the front recorded them
/// (HTTP/1: with the `#fragment` pingora drops and the raw `"<>` it escapes for the
/// app, as nginx hands them to ModSecurity), else pingora's.
pub fn inspected_uri(session: &Session) -> Cow<'_, str> {
    let front = session
        .as_downstream()
        .stream()
        .and_then(|s| s.as_any().downcast_ref::<FrontStream>());
    match front.and_then(FrontStream::target) {
        Some(t) => String::from_utf8_lossy(t),
        None => raw_uri(session.req_header()),
    }
}

/// A borrowed view of `req` for inspectors: what the app will receive. An HTTP/2
/// request carries its host in `:authority`; the app gets it as `Host` (see
/// [`forwarded`]), and nginx hands ModSecurity the same, so the view has it too.
pub fn head_view<'a>(req: &'a RequestHeader, uri: &'a str) -> RequestHead<'a> {
    let mut headers: Vec<(&str, &[u8])> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    if !req.headers.contains_key(http::header::HOST)
        && let Some(authority) = req.uri.authority()
    {
        headers.insert(0, ("host", authority.as_str().as_bytes()));
    }
    RequestHead {
        method: req.method.as_str(),
        uri,
        protocol: protocol(req.version),
        headers,
    }
}

/// The request id: the client's when trusted and well-formed, else a fresh UUID.
pub fn request_id(req: &RequestHeader, trust: bool) -> String {
    trust
        .then(|| req.headers.get("x-request-id"))
        .flatten()
        .and_then(|v| well_formed_request_id(v.as_bytes()))
        .unwrap_or_else(fresh_request_id)
}

/// A client's `X-Request-Id` value, if it is one the engine may keep: 1-128 visible
/// ASCII characters.
pub(crate) fn well_formed_request_id(b: &[u8]) -> Option<String> {
    (!b.is_empty() && b.len() <= MAX_REQUEST_ID && b.iter().all(|c| c.is_ascii_graphic()))
        .then(|| String::from_utf8_lossy(b).into_owned())
}

/// A fresh request id in UUID format: a per-process random seed mixed with a counter.
/// Unique within the process (splitmix64 is a bijection on the counter) and
/// unpredictable across processes, without a `getrandom` call per request.
pub(crate) fn fresh_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: OnceLock<(u64, u64)> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (s1, s2) = *SEED.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = uuid::Uuid::from_u64_pair(splitmix64(s1 ^ n), splitmix64(s2.wrapping_add(n)));
    id.hyphenated().to_string()
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `Content-Length` when present and valid.
pub fn content_length(req: &RequestHeader) -> Option<u64> {
    req.headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Add `X-Forwarded-For`/`-Proto` and set `X-Request-Id` on the upstream request.
pub fn forwarded(
    up: &mut RequestHeader,
    client_ip: Option<String>,
    tls: bool,
    request_id: &str,
) -> pingora::Result<()> {
    if let Some(ip) = client_ip {
        let xff = match up
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
            Some(prev) if !prev.trim().is_empty() => format!("{prev}, {ip}"),
            _ => ip,
        };
        up.insert_header("x-forwarded-for", xff)?;
    }
    // HTTP/2 carries the host in :authority; the app speaks HTTP/1.1 and wants Host.
    if !up.headers.contains_key(http::header::HOST)
        && let Some(authority) = up.uri.authority().map(|a| a.as_str().to_string())
    {
        up.insert_header(http::header::HOST, authority)?;
    }
    up.insert_header("x-forwarded-proto", if tls { "https" } else { "http" })?;
    up.insert_header("x-request-id", request_id)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_request_ids_are_distinct_uuids() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| super::fresh_request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|i| uuid::Uuid::parse_str(i).is_ok()));
    }
}
