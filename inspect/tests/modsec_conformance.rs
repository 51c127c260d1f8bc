//! Rule-level behaviour pinned against libmodsecurity3 3.0.9, one test per difference the
//! differential test (tests/tests/modsec_diff.rs) found and Palisade now shares, and per
//! ModSecurity bug Palisade deliberately does not share.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palisade_inspect::{ConnInfo, LoadOptions, RequestHead, RuleSet, Transaction};
use std::sync::Arc;

fn rules(text: &str) -> Arc<RuleSet> {
    Arc::new(
        RuleSet::load(&LoadOptions {
            extra_rules: format!("SecRuleEngine DetectionOnly\nSecRequestBodyAccess On\n{text}"),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}")),
    )
}

fn tx(rs: &Arc<RuleSet>) -> Transaction {
    rs.transaction(ConnInfo {
        client_ip: "10.1.2.3".into(),
        client_port: 5555,
        server_ip: "10.9.9.9".into(),
        server_port: 8080,
        unique_id: "t1".into(),
    })
}

fn head(method: &str, uri: &str, headers: &[(&str, &str)]) -> RequestHead {
    let mut h = vec![("Host".to_string(), b"example.com".to_vec())];
    h.extend(
        headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())),
    );
    RequestHead {
        method: method.into(),
        uri: uri.into(),
        protocol: "HTTP/1.1".into(),
        headers: h,
    }
}

/// The (id, logdata) of every rule that matched a GET of `uri`.
fn get(rs: &Arc<RuleSet>, uri: &str) -> Vec<(u32, String)> {
    let mut t = tx(rs);
    t.process_request_headers(&head("GET", uri, &[]));
    t.process_request_body(b"");
    t.matched_rules()
        .iter()
        .map(|m| (m.id, m.data.clone()))
        .collect()
}

fn post(rs: &Arc<RuleSet>, ct: &str, body: &[u8]) -> Vec<(u32, String)> {
    let mut t = tx(rs);
    let len = body.len().to_string();
    t.process_request_headers(&head(
        "POST",
        "/",
        &[("Content-Type", ct), ("Content-Length", &len)],
    ));
    t.process_request_body(body);
    t.matched_rules()
        .iter()
        .map(|m| (m.id, m.data.clone()))
        .collect()
}

/// A rule that logs ARGS:p after `transforms`, hex-encoded.
fn probe(transforms: &str) -> Arc<RuleSet> {
    rules(&format!(
        "SecRule ARGS:p \"@rx ^(.*)$\" \"id:1,phase:2,pass,log,capture,t:none,{transforms},t:hexEncode,logdata:'%{{TX.1}}'\""
    ))
}

fn hex(s: &[u8]) -> String {
    s.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn utf8_to_unicode_drops_nul_in_an_otherwise_ascii_value() {
    // `.\0.\0/\0e\0t\0c` reads `../etc` after utf8toUnicode in ModSecurity, so CRS 930120
    // (t:utf8toUnicode,t:urlDecodeUni,t:normalizePathWin) finds `etc/passwd`; a value
    // that is all ASCII must not skip the transformation.
    let rs = probe("t:utf8toUnicode");
    assert_eq!(
        get(&rs, "/?p=.%00.%00/%00e%00t%00c"),
        vec![(1, hex(b"../etc"))]
    );
}

#[test]
fn url_decode_uni_folds_the_ideographic_full_stops_as_modsecurity_does() {
    // libmodsecurity3 adds U+3002 and U+FF61 to the code page 20127 table it loads.
    let rs = probe("t:urlDecodeUni");
    assert_eq!(
        get(&rs, "/?p=..%u3002/..%uff61/etc"),
        vec![(1, hex(b".../.../etc"))]
    );
}

#[test]
fn css_decode_reads_past_a_nul_where_modsecurity_stops() {
    // libmodsecurity3 3.0.9 cuts cssDecode's output at the first NUL (upstream issue
    // 1976), so `a%00<script>` (a NUL from t:urlDecodeUni) hides the tag from CRS's
    // XSS rules; palisade keeps the whole value.
    let rs = probe("t:urlDecodeUni,t:cssDecode");
    assert_eq!(
        get(&rs, "/?p=a%2500%3Cs%5C63ript%3E"),
        vec![(1, hex(b"a\0<script>"))]
    );
}

#[test]
fn a_multipart_field_keeps_its_line_breaks() {
    // libmodsecurity3 3.0.9 drops them (`x\r\nSet-Cookie: a=b` reads `xSet-Cookie: a=b`);
    // the application gets them, so CRS 921120 must see them.
    let rs = rules(
        "SecRule ARGS:q \"@rx ^(.*)$\" \"id:1,phase:2,pass,log,capture,t:none,t:hexEncode,logdata:'%{TX.1}'\"",
    );
    let body = b"--B\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nx\r\nSet-Cookie: a=b\r\n--B--\r\n";
    assert_eq!(
        post(&rs, "multipart/form-data; boundary=B", body),
        vec![(1, hex(b"x\r\nSet-Cookie: a=b"))]
    );
}
