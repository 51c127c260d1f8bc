//! The built-in limits inspector: request size and method checks that every
//! deployment wants, whatever the rule set. Its verdicts are always enforced.

use super::{Action, Inspection, Inspector, RequestHead, Verdict};
use crate::config::Limits;

/// Checks the request head against [`Limits`]. Body bytes beyond `Content-Length`
/// (chunked, HTTP/2) are counted by the proxy while streaming, with the same limit.
#[derive(Clone, Debug)]
pub struct LimitsInspector {
    limits: Limits,
}

impl LimitsInspector {
    pub fn new(limits: Limits) -> Self {
        LimitsInspector { limits }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Phase 1 without the per-request allocation of [`Inspector::begin`].
    pub fn check_head(&self, head: &RequestHead<'_>) -> Option<Verdict> {
        let l = &self.limits;
        if !l.allowed_methods.iter().any(|m| m == head.method) {
            return Some(deny(405, "allowed_methods", "method not allowed"));
        }
        if head.uri.len() > l.max_uri_bytes {
            return Some(deny(414, "max_uri_bytes", "request URI too long"));
        }
        if head.headers.len() > l.max_header_count {
            return Some(deny(431, "max_header_count", "too many request headers"));
        }
        // Counted as on the wire: request line plus `name: value\r\n` per header.
        let line = head.method.len() + head.uri.len() + head.protocol.len() + 4;
        let bytes: usize = head
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>()
            + line;
        if bytes > l.max_header_bytes {
            return Some(deny(
                431,
                "max_header_bytes",
                "request header block too large",
            ));
        }
        let declared = head
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > l.max_body_bytes) {
            return Some(body_too_large());
        }
        None
    }
}

/// The verdict for a body over `limits.max_body_bytes`.
pub fn body_too_large() -> Verdict {
    deny(413, "max_body_bytes", "request body too large")
}

fn deny(status: u16, limit: &'static str, message: &str) -> Verdict {
    Verdict {
        status,
        action: Action::Deny,
        rule_id: 0,
        message: format!("{message} (limits.{limit})"),
        limit: Some(limit),
    }
}

impl Inspector for LimitsInspector {
    fn name(&self) -> &str {
        "limits"
    }

    fn begin(&self, _conn: &super::ConnInfo) -> Box<dyn Inspection> {
        Box::new(LimitsInspection(self.clone()))
    }
}

struct LimitsInspection(LimitsInspector);

impl Inspection for LimitsInspection {
    fn request_headers(&mut self, head: &RequestHead<'_>) -> Option<Verdict> {
        self.0.check_head(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head<'a>(
        method: &'a str,
        uri: &'a str,
        headers: Vec<(&'a str, &'a [u8])>,
    ) -> RequestHead<'a> {
        RequestHead {
            method,
            uri,
            protocol: "HTTP/1.1",
            headers,
        }
    }

    #[test]
    fn oversized_parts_get_their_status_codes() {
        let lim = LimitsInspector::new(Limits {
            max_uri_bytes: 20,
            max_header_count: 2,
            max_header_bytes: 300,
            max_body_bytes: 10,
            ..Limits::default()
        });
        assert!(
            lim.check_head(&head("GET", "/", vec![("host", b"a")]))
                .is_none()
        );
        let v = lim.check_head(&head("BREW", "/", vec![])).unwrap();
        assert_eq!((v.status, v.limit), (405, Some("allowed_methods")));
        let long = "/".repeat(21);
        assert_eq!(
            lim.check_head(&head("GET", &long, vec![])).unwrap().status,
            414
        );
        let many = vec![("a", &b"1"[..]), ("b", b"2"), ("c", b"3")];
        assert_eq!(lim.check_head(&head("GET", "/", many)).unwrap().status, 431);
        let big = vec![0x61u8; 400];
        let v = lim
            .check_head(&head("GET", "/", vec![("x", &big)]))
            .unwrap();
        assert_eq!((v.status, v.label()), (431, "max_header_bytes".to_string()));
        let v = lim
            .check_head(&head("POST", "/", vec![("Content-Length", b"11")]))
            .unwrap();
        assert_eq!(v.status, 413);
    }
}
