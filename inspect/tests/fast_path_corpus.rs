//! The fast path (prefilter, transformation memo) changes nothing but speed, on two
//! more corpora than `prefilter_differential.rs` replays:
//!
//! - the differential corpus of `tests/src/corpus.rs` (attacks and benign values in
//!   many encodings and places: query, path, cookies, headers, forms, JSON, XML,
//!   multipart; read here as raw HTTP/1.1 requests, the file included unchanged);
//! - requests of many arguments at once, built so that values repeat, differ only in
//!   case, or need the transformations CRS chains share prefixes of (`%u`, entities,
//!   escapes, comments, whitespace runs, NULs): the inputs the per-value memo reuses.
//!
//! Each request runs through the CRS twice, fast and reference (`disable_prefilter`,
//! every rule on every value with the per-chain cache), and must give the same
//! interventions, the same matched rules in order (id, message, logdata, variable and
//! value) and the same anomaly scores.

// An integration-test crate: helpers outside #[test] fns panic to report a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[allow(dead_code)]
#[path = "../../tests/src/corpus.rs"]
mod corpus;

use common::differential::{Rng, compare, load, prelude_at};
use palisade_inspect::RequestHead;

/// A raw HTTP/1.1 request (Content-Length bodies, as the corpus writes them) as the
/// rule engine's input.
fn parse_raw(raw: &[u8]) -> (RequestHead, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("corpus request without an end of head");
    let head = &raw[..end];
    let body = raw[end + 4..].to_vec();
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = String::from_utf8_lossy(lines.next().unwrap()).into_owned();
    let mut parts = line.splitn(3, ' ');
    let method = parts.next().unwrap_or("").to_string();
    let uri = parts.next().unwrap_or("").to_string();
    let protocol = parts.next().unwrap_or("HTTP/1.1").to_string();
    let headers = lines
        .filter_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&l[..colon]).into_owned();
            Some((name, l[colon + 1..].trim_ascii().to_vec()))
        })
        .collect();
    (
        RequestHead {
            method,
            uri,
            protocol,
            headers,
        },
        body,
    )
}

fn corpus_requests() -> Vec<(String, RequestHead, Vec<u8>)> {
    corpus::corpus()
        .into_iter()
        .map(|r| {
            let (head, body) = parse_raw(&replace_id(&r.raw));
            (r.name, head, body)
        })
        .collect()
}

/// The request with its `{ID}` placeholder filled (the bytes are not always UTF-8).
fn replace_id(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i..].starts_with(b"{ID}") {
            out.extend_from_slice(b"fast-path");
            i += 4;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

/// Half of the corpus (requests alternate), so each test stays inside the time limit.
fn corpus_half(half: usize, pl: u8) {
    let Some(crs) = common::crs4() else { return };
    let all = corpus_requests();
    assert!(all.len() > 500, "only {} corpus requests", all.len());
    let mine: Vec<_> = all.into_iter().skip(half).step_by(2).collect();
    let rs = load(&crs, prelude_at(pl), None);
    let (matched, blocked) = compare(&rs, &mine, &format!("tests/src/corpus.rs at PL{pl}"));
    assert!(
        matched > mine.len() / 4 && blocked > mine.len() / 10,
        "PL{pl}: {matched} of {} matched, {blocked} blocked",
        mine.len()
    );
}

#[test]
fn fast_path_matches_reference_on_the_differential_corpus_pl1_first_half() {
    corpus_half(0, 1);
}

#[test]
fn fast_path_matches_reference_on_the_differential_corpus_pl1_second_half() {
    corpus_half(1, 1);
}

#[test]
fn fast_path_matches_reference_on_the_differential_corpus_pl4_first_half() {
    corpus_half(0, 4);
}

#[test]
fn fast_path_matches_reference_on_the_differential_corpus_pl4_second_half() {
    corpus_half(1, 4);
}

const PIECES: &[&str] = &[
    "select",
    "SELECT",
    "union",
    "UnIoN",
    "from",
    "users",
    "or",
    "1=1",
    "'",
    "\"",
    "--",
    "#",
    "/*",
    "*/",
    "<",
    ">",
    "script",
    "alert(1)",
    "onerror=",
    "javascript:",
    "../",
    "..\\",
    "etc/passwd",
    ";",
    "|",
    "$(",
    ")",
    "`",
    "cat",
    "id",
    "<?php",
    "${",
    "}",
    "{{",
    "%00",
    "%u0027",
    "%25",
    "&#x27;",
    "&lt;",
    "&quot;",
    "\\x27",
    "\\u003c",
    "\\",
    "  ",
    "\t",
    "\u{0}",
    "red",
    "Blue",
    "shoe",
    "42",
    "Jane Doe",
    "jane@example.com",
    "+",
    "=",
    "&amp;",
    " ",
    "0x41",
    "char(",
    "sleep(",
    "benchmark(",
    "eval(",
    "document.cookie",
    "cmd.exe",
    "/bin/sh",
    "ÄÖ",
    "\u{2019}",
    "\u{ff1c}",
];

/// A value of 1-6 pieces; often a repeat or a case variant of an earlier one.
fn value(rng: &mut Rng, seen: &mut Vec<String>) -> String {
    if !seen.is_empty() && rng.below(4) == 0 {
        let old = seen[rng.below(seen.len())].clone();
        return if rng.below(2) == 0 {
            old
        } else {
            old.to_uppercase()
        };
    }
    let v: String = (0..1 + rng.below(6))
        .map(|_| PIECES[rng.below(PIECES.len())])
        .collect();
    seen.push(v.clone());
    v
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One request carrying many values at once: query and body arguments, cookies and
/// headers, names and values, so lists hold repeats and near-repeats.
fn many_values(rng: &mut Rng, n: usize) -> (String, RequestHead, Vec<u8>) {
    let mut seen = Vec::new();
    let args = |rng: &mut Rng, k: usize, seen: &mut Vec<String>| {
        (0..k)
            .map(|j| {
                let name = if rng.below(5) == 0 {
                    value(rng, seen)
                } else {
                    format!("f{}", j % 7)
                };
                format!("{}={}", pct(&name), pct(&value(rng, seen)))
            })
            .collect::<Vec<_>>()
            .join("&")
    };
    let k = 1 + rng.below(12);
    let query = args(rng, k, &mut seen);
    let cookies: Vec<String> = (0..rng.below(5))
        .map(|j| format!("c{j}={}", pct(&value(rng, &mut seen))))
        .collect();
    let mut headers = vec![
        ("Host".to_string(), b"shop.example.com".to_vec()),
        ("User-Agent".to_string(), value(rng, &mut seen).into_bytes()),
        ("Referer".to_string(), value(rng, &mut seen).into_bytes()),
        ("X-Custom".to_string(), value(rng, &mut seen).into_bytes()),
    ];
    if !cookies.is_empty() {
        headers.push(("Cookie".into(), cookies.join("; ").into_bytes()));
    }
    let body = match n % 3 {
        0 => Vec::new(),
        1 => {
            headers.push((
                "Content-Type".into(),
                b"application/x-www-form-urlencoded".to_vec(),
            ));
            let k = 1 + rng.below(30);
            args(rng, k, &mut seen).into_bytes()
        }
        _ => {
            headers.push(("Content-Type".into(), b"application/json".to_vec()));
            let items: Vec<String> = (0..1 + rng.below(15))
                .map(|j| {
                    format!(
                        "{}:{}",
                        serde_json::Value::String(format!("k{}", j % 4)),
                        serde_json::Value::String(value(rng, &mut seen))
                    )
                })
                .collect();
            format!("{{{}}}", items.join(",")).into_bytes()
        }
    };
    if !body.is_empty() {
        headers.push(("Content-Length".into(), body.len().to_string().into_bytes()));
    }
    let method = if body.is_empty() { "GET" } else { "POST" };
    (
        format!("many/{n}"),
        RequestHead {
            method: method.into(),
            uri: format!("/app/items?{query}"),
            protocol: "HTTP/1.1".into(),
            headers,
        },
        body,
    )
}

#[test]
fn fast_path_matches_reference_on_requests_of_many_repeated_and_encoded_values() {
    let Some(crs) = common::crs4() else { return };
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let requests: Vec<_> = (0..600).map(|n| many_values(&mut rng, n)).collect();
    for pl in [1, 3] {
        let rs = load(&crs, prelude_at(pl), None);
        let (matched, blocked) = compare(&rs, &requests, &format!("many values at PL{pl}"));
        assert!(
            matched > requests.len() / 2 && blocked > requests.len() / 5,
            "PL{pl}: {matched} of {} matched, {blocked} blocked",
            requests.len()
        );
    }
}
