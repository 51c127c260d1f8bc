//! Which protocol a connection speaks, from its first bytes. Pure, so it is unit
//! tested and fuzzed (`engine/fuzz`).
//!
//! Safe by construction: the rule is written from what lenient HTTP/1 servers accept,
//! not from what a well-formed request looks like. Python's `http.server` splits the
//! request line on any whitespace (including VT, FF, `\x1c`-`\x1f`, `\x85`, `\xa0`),
//! nginx skips any number of leading empty lines, and both serve `GET /path` without
//! a version (HTTP/0.9). So a connection is HTTP/1 unless its first line cannot be a
//! request line for any of them:
//!
//! - after skipping leading whitespace and empty lines, the first byte is not an ASCII
//!   token character (no server takes such a method): binary protocols, a TLS
//!   ClientHello (`0x16 0x03`), PostgreSQL (`0x00`), most database handshakes;
//! - or the first line is a single word (`PING`, `*1` of Redis RESP, `QUIT`): a
//!   request line has at least a method and a target.
//!
//! Everything else is HTTP/1 and goes to the parser, which inspects it or refuses it
//! (and logs the refusal). The HTTP/2 preface is HTTP/2.

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// A first line longer than this without its end is left to the HTTP parser and its
/// limits (414/431), never relayed raw.
pub(crate) const MAX_LINE: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Http1,
    Http2,
    /// Not HTTP for any mainstream server; `non_http` decides.
    Other,
    /// Not enough bytes yet.
    Undecided,
}

/// Whitespace as the most lenient request-line splitter (Python's `str.split` on a
/// latin-1 decoded line) sees it, CR and LF included.
fn is_space(b: u8) -> bool {
    matches!(
        b,
        b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f | b' ' | 0x85 | 0xa0
    )
}

/// RFC 9110 `tchar`.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Classify the bytes seen so far.
pub fn classify(bytes: &[u8]) -> Proto {
    if bytes.is_empty() {
        return Proto::Undecided;
    }
    let common = bytes.len().min(H2_PREFACE.len());
    if bytes[..common] == H2_PREFACE[..common] {
        return if common == H2_PREFACE.len() {
            Proto::Http2
        } else {
            Proto::Undecided
        };
    }
    let Some(start) = bytes.iter().position(|b| !is_space(*b)) else {
        // Only whitespace so far: wait (the detection timeout then means HTTP).
        return if bytes.len() > MAX_LINE {
            Proto::Http1
        } else {
            Proto::Undecided
        };
    };
    let rest = &bytes[start..];
    if !is_tchar(rest[0]) {
        return Proto::Other;
    }
    let line_end = rest.iter().position(|b| *b == b'\n');
    let line = &rest[..line_end.unwrap_or(rest.len())];
    let words = line
        .split(|b| is_space(*b))
        .filter(|w| !w.is_empty())
        .count();
    match line_end {
        _ if words >= 2 => Proto::Http1,
        Some(_) => Proto::Other,
        None if rest.len() > MAX_LINE => Proto::Http1,
        None => Proto::Undecided,
    }
}

#[cfg(test)]
mod tests {
    use super::{Proto, classify};

    #[test]
    fn first_bytes_decide_the_protocol() {
        let cases: &[(&[u8], Proto)] = &[
            (b"GET / HTTP/1.1\r\n", Proto::Http1),
            (b"\r\nPOST /x HTTP/1.0\n", Proto::Http1),
            (b"\r\nPOST /x", Proto::Http1),
            (b"GE", Proto::Undecided),
            (b"", Proto::Undecided),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Proto::Http2),
            (b"PRI * HT", Proto::Undecided),
            (b"PRI /x HTTP/1.1\r\n", Proto::Http1),
            (b"PING\r\n", Proto::Other),
            (b"*1\r\n$4\r\nPING\r\n", Proto::Other),
            (b"\x16\x03\x01\x02\x00\x01", Proto::Other),
            (b"\x00\x00\x00\x08\x04\xd2\x16\x2f", Proto::Other),
            (&[b'A'; 40], Proto::Undecided),
            (b"{\"jsonrpc\":\"2.0\"}\n", Proto::Other),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                classify(bytes),
                *want,
                "{:?}",
                bytes.escape_ascii().to_string()
            );
        }
    }

    /// Every form issue #9 saw served by nginx or Python's http.server is HTTP.
    #[test]
    fn lenient_request_lines_are_http() {
        let cases: &[&[u8]] = &[
            b"\r\n\r\n\r\n\r\n\r\nGET /?q=1%27%20or%201%3D1-- HTTP/1.1\r\n",
            b"\n\n\n\n\n\n\n\n\n\nGET / HTTP/1.1\r\n",
            b"GET / HTTP/1.1 \r\n",
            b"GET\t/\tHTTP/1.1\r\n",
            b" GET / HTTP/1.1\r\n",
            b"\x0cGET / HTTP/1.1\r\n",
            b"\x0bGET\x0b/\x0bHTTP/1.1\r\n",
            b"GET /path\r\n",
            b"GET /path\n",
            b"get / HTTP/1.1\r\n",
            b"GET\xa0/ HTTP/1.1\r\n",
            b"hello world\n",
        ];
        for bytes in cases {
            assert_eq!(
                classify(bytes),
                Proto::Http1,
                "{:?}",
                bytes.escape_ascii().to_string()
            );
        }
    }

    /// A long whitespace prefix or first word is left to the parser's limits.
    #[test]
    fn long_prefixes_are_http() {
        assert_eq!(classify(&[b'\n'; 20_000]), Proto::Http1);
        assert_eq!(classify(&[b'A'; 20_000]), Proto::Http1);
    }
}

/// Generated inputs against the property that matters: whatever a lenient HTTP/1
/// server would take as a request line is never classified as something to relay raw.
#[cfg(test)]
mod generated {
    use super::{Proto, classify, is_space};

    /// Python's `http.server` (the most lenient of the three servers the differential
    /// test runs) serves a line that splits into 2 or 3 words on whitespace when the
    /// first word names a handler method (ASCII letters); nginx skips empty lines and
    /// wants an upper-case method. Either way the line starts, after whitespace, with an
    /// ASCII letter and has at least two words.
    fn lenient_server_takes(line: &[u8]) -> bool {
        let words: Vec<&[u8]> = line
            .split(|b| is_space(*b))
            .filter(|w| !w.is_empty())
            .collect();
        (2..=3).contains(&words.len()) && words[0].iter().all(u8::is_ascii_alphabetic)
    }

    #[test]
    fn request_lines_a_lenient_server_takes_are_never_relayed() {
        const ALPHABET: &[u8] = b"GETPOSTgetHpt/ \t\r\n\x0b\x0c\x1c\x85\xa0\x00\x16\x03?#=\"<>:*1";
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        let mut checked = 0;
        for _ in 0..200_000 {
            let len = 1 + next() % 24;
            let mut bytes: Vec<u8> = (0..len)
                .map(|_| ALPHABET[next() % ALPHABET.len()])
                .collect();
            bytes.push(b'\n');
            let got = classify(&bytes);
            let line_end = bytes
                .iter()
                .position(|b| *b == b'\n')
                .unwrap_or(bytes.len());
            if lenient_server_takes(&bytes[..line_end]) {
                checked += 1;
                assert_eq!(got, Proto::Http1, "{:?}", bytes.escape_ascii().to_string());
            }
            // httparse (pingora's parser) takes it as a request: never relayed either.
            let mut headers = [httparse::EMPTY_HEADER; 4];
            let mut req = httparse::Request::new(&mut headers);
            if req.parse(&bytes).is_ok_and(|s| s.is_complete()) {
                assert_ne!(got, Proto::Other, "{:?}", bytes.escape_ascii().to_string());
            }
        }
        assert!(
            checked > 1000,
            "only {checked} request-like lines generated"
        );
    }
}
