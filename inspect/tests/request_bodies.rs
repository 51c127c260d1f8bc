//! Request bodies through the whole engine: the streaming body API, and CRS v4 (PL1,
//! blocking, ModSecurity's recommended base settings) on multipart, JSON, XML and
//! URL-encoded bodies shaped the way attackers and ordinary clients shape them.
mod common;

use palisade_inspect::{
    ConnInfo, Intervention, LoadOptions, RECOMMENDED_BASE_RULES, RequestHead, RuleSet, Transaction,
};
use std::sync::Arc;

fn crs() -> Option<Arc<RuleSet>> {
    let crs = common::crs4()?;
    let rs = RuleSet::load(&LoadOptions {
        prelude: RECOMMENDED_BASE_RULES.to_string(),
        files: vec![crs.join("crs-setup.conf.example"), crs.join("rules/*.conf")],
        ..Default::default()
    });
    Some(Arc::new(rs.unwrap_or_else(|e| panic!("{e}"))))
}

fn rules(text: &str) -> Arc<RuleSet> {
    Arc::new(
        RuleSet::load(&LoadOptions {
            prelude: RECOMMENDED_BASE_RULES.to_string(),
            extra_rules: text.to_string(),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}")),
    )
}

fn tx(rs: &Arc<RuleSet>, ct: &str, len: usize) -> Transaction {
    tx_to(rs, "/upload", ct, len)
}

fn tx_to(rs: &Arc<RuleSet>, uri: &str, ct: &str, len: usize) -> Transaction {
    let mut t = rs.transaction(ConnInfo {
        client_ip: "192.0.2.10".into(),
        client_port: 40000,
        server_ip: "192.0.2.20".into(),
        server_port: 8080,
        unique_id: "body".into(),
    });
    let head = RequestHead {
        method: "POST".into(),
        uri: uri.into(),
        protocol: "HTTP/1.1".into(),
        headers: vec![
            ("Host".into(), b"shop.example".to_vec()),
            (
                "User-Agent".into(),
                b"Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0".to_vec(),
            ),
            ("Accept".into(), b"text/html,application/xhtml+xml".to_vec()),
            ("Content-Type".into(), ct.as_bytes().to_vec()),
            ("Content-Length".into(), len.to_string().into_bytes()),
        ],
    };
    assert_eq!(t.process_request_headers(&head), None, "headers blocked");
    t
}

/// Sends `body` in `chunk`-byte pieces through the streaming API.
fn send(
    rs: &Arc<RuleSet>,
    ct: &str,
    body: &[u8],
    chunk: usize,
) -> (Option<Intervention>, Vec<u32>) {
    let mut t = tx(rs, ct, body.len());
    let mut verdict = None;
    for c in body.chunks(chunk.max(1)) {
        if let Some(i) = t.request_body_chunk(c) {
            verdict = Some(i);
            break;
        }
    }
    let verdict = verdict.or_else(|| t.request_body_end());
    let ids = t.matched_rules().iter().map(|m| m.id).collect();
    (verdict, ids)
}

fn multipart(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, file, content) in parts {
        b.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let cd = match file {
            Some(f) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        b.extend_from_slice(cd.as_bytes());
        b.extend_from_slice(content);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    b
}

#[test]
fn a_streamed_body_gets_the_same_verdict_as_one_slice() {
    let rs = rules(
        r#"SecRule FILES_SIZES:f "@eq 300000" "id:2,phase:2,pass,log"
SecRule ARGS_POST:q "@contains attack" "id:1,phase:2,deny,status:403,log""#,
    );
    let file: Vec<u8> = (0..300_000u32).map(|i| (i % 256) as u8).collect();
    let body = multipart(
        "XyZ",
        &[("f", Some("a.bin"), &file), ("q", None, b"an attack")],
    );
    let ct = "multipart/form-data; boundary=XyZ";
    let whole = {
        let mut t = tx(&rs, ct, body.len());
        let v = t.process_request_body(&body);
        (
            v.map(|i| i.status),
            t.matched_rules().iter().map(|m| m.id).collect::<Vec<_>>(),
        )
    };
    assert_eq!(whole, (Some(403), vec![2, 1]));
    for chunk in [1usize, 1000, 4096, 65_536] {
        let (v, ids) = send(&rs, ct, &body, chunk);
        assert_eq!((v.map(|i| i.status), ids), whole, "chunk {chunk}");
    }
}

#[test]
fn a_body_over_the_request_body_limit_is_refused_while_it_streams() {
    let rs = rules("SecRequestBodyLimit 1000");
    let mut t = tx(&rs, "application/octet-stream", 5000);
    assert_eq!(t.request_body_chunk(&[b'a'; 600]), None);
    let i = t.request_body_chunk(&[b'a'; 600]).expect("413");
    assert_eq!(i.status, 413);
    assert_eq!(t.request_body_chunk(&[b'a'; 600]), None);
    assert_eq!(t.request_body_end(), None);
}

#[test]
fn repeated_multipart_boundary_is_blocked_not_read_one_way() {
    let Some(rs) = crs() else { return };
    // Issue 9: the engine read the AAA structure, Flask the BBB one inside it.
    let inner = b"--BBB\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\n1' UNION SELECT password FROM users--\r\n--BBB--";
    let body = multipart("AAA", &[("f", Some("a.txt"), inner)]);
    let (v, ids) = send(
        &rs,
        "multipart/form-data; boundary=AAA; boundary=BBB",
        &body,
        512,
    );
    assert!(v.is_some_and(|i| i.status == 400), "{ids:?}");
    assert!(ids.contains(&200002), "REQBODY_ERROR rule: {ids:?}");
    let (v, _) = send(
        &rs,
        "multipart/form-data; boundary=BBB; boundary=AAA",
        &body,
        512,
    );
    assert!(v.is_some());
}

#[test]
fn nul_in_a_multipart_filename_is_blocked() {
    let Some(rs) = crs() else { return };
    let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"info.php\0.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n<?php system($_GET['c']); ?>\r\n--XyZ--\r\n";
    let (v, ids) = send(&rs, "multipart/form-data; boundary=XyZ", body, 4096);
    assert!(v.is_some_and(|i| i.status == 400), "{ids:?}");
    // REQBODY_ERROR (200002) blocks before the MULTIPART_STRICT_ERROR rule runs.
    assert!(ids.contains(&200002), "{ids:?}");
}

#[test]
fn binary_upload_with_bare_lf_bytes_is_not_blocked() {
    let Some(rs) = crs() else { return };
    // A PNG-like file: binary bytes, bare LFs, CRs and NULs inside the content.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    for i in 0..50_000u32 {
        png.push(match i % 97 {
            0 => b'\n',
            1 => b'\r',
            n => (n * 31 % 256) as u8,
        });
    }
    let body = multipart(
        "----WebKitFormBoundary7MA4YWxkTrZu0gW",
        &[
            ("title", None, b"holiday"),
            ("photo", Some("beach.png"), &png),
        ],
    );
    let (v, ids) = send(
        &rs,
        "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
        &body,
        8192,
    );
    assert_eq!(v, None, "{ids:?}");
}

#[test]
fn lf_only_multipart_framing_is_blocked_as_modsecurity_blocks_it() {
    let Some(rs) = crs() else { return };
    let body = b"--XyZ\nContent-Disposition: form-data; name=\"a\"\n\nhello\n--XyZ--\n";
    let (v, ids) = send(&rs, "multipart/form-data; boundary=XyZ", body, 4096);
    assert!(v.is_some() && ids.contains(&200003), "{ids:?}");
}

#[test]
fn json_duplicate_key_attack_in_the_first_value_is_blocked() {
    let Some(rs) = crs() else { return };
    let body = br#"{"id":"1' UNION SELECT username, password FROM users--","id":"7"}"#;
    let (v, ids) = send(&rs, "application/json", body, 16);
    assert!(v.is_some(), "{ids:?}");
    assert!(
        ids.iter().any(|id| (942000..943000).contains(id)),
        "{ids:?}"
    );
}

#[test]
fn json_array_elements_are_named_as_modsecurity_names_them() {
    let rs = rules(
        r#"SecRule ARGS:json.user.roles.array_1 "@streq admin" "id:1,phase:2,deny,status:403,log"
SecRule ARGS_NAMES "@streq json.user.roles.1" "id:2,phase:2,deny,status:409,log""#,
    );
    let (v, _) = send(
        &rs,
        "application/json",
        br#"{"user":{"roles":["x","admin"]}}"#,
        7,
    );
    assert_eq!(v.map(|i| i.status), Some(403));
}

#[test]
fn xml_entity_expansion_is_a_body_error() {
    let Some(rs) = crs() else { return };
    let big = "x".repeat(20_000);
    let refs = "&e;".repeat(12_000);
    let body = format!(r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "{big}">]><a>{refs}</a>"#);
    let msg = rules(
        "SecRule REQBODY_ERROR_MSG \"@contains entity expansion\" \"id:1,phase:1,pass,log\"\n\
         SecRule REQBODY_ERROR_MSG \"@contains entity expansion\" \"id:2,phase:2,pass,log\"",
    );
    let (v, ids) = send(&msg, "application/xml", body.as_bytes(), 65_536);
    assert_eq!(v.map(|i| i.status), Some(400));
    assert!(ids.contains(&200002), "{ids:?}");
    let (v, ids) = send(&rs, "application/xml", body.as_bytes(), 65_536);
    assert!(v.is_some() && ids.contains(&200002), "{ids:?}");
}

#[test]
fn xml_body_fills_request_body() {
    let rs =
        rules(r#"SecRule REQUEST_BODY "@contains <secret>" "id:1,phase:2,deny,status:403,log""#);
    let (v, _) = send(&rs, "text/xml", b"<a><secret>1</secret></a>", 5);
    assert_eq!(v.map(|i| i.status), Some(403));
}

#[test]
fn more_arguments_than_sec_arguments_limit_is_a_body_error() {
    // Without the base rules, so that this rule (not 200002) reports the error.
    let rs = Arc::new(
        RuleSet::load(&LoadOptions {
            extra_rules: "SecRuleEngine On\nSecRequestBodyAccess On\nSecArgumentsLimit 50\n\
                SecRule REQBODY_ERROR_MSG \"@contains SecArgumentsLimit 50\" \
                \"id:1,phase:2,deny,status:400,log\""
                .into(),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}")),
    );
    let body: String = (0..60).map(|i| format!("a{i}=1&")).collect();
    let (v, ids) = send(
        &rs,
        "application/x-www-form-urlencoded",
        body.as_bytes(),
        100,
    );
    assert_eq!(v.map(|i| i.status), Some(400));
    assert!(ids.contains(&1), "{ids:?}");
    let body: String = (0..40).map(|i| format!("a{i}=1&")).collect();
    let (v, _) = send(
        &rs,
        "application/x-www-form-urlencoded",
        body.as_bytes(),
        100,
    );
    assert_eq!(v, None);
    // The query counts too, with or without a body processor.
    let query: String = (0..60).map(|i| format!("q{i}=1&")).collect();
    for ct in ["application/x-www-form-urlencoded", "text/plain"] {
        let mut t = tx_to(&rs, &format!("/search?{query}"), ct, 0);
        assert_eq!(t.request_body_end().map(|i| i.status), Some(400), "{ct}");
    }
}

#[test]
fn sec_arguments_limit_rejects_a_bad_value() {
    let e = RuleSet::load(&LoadOptions {
        extra_rules: "SecArgumentsLimit lots".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("SecArgumentsLimit"), "{e}");
}

#[test]
fn urlencoded_body_over_the_no_files_limit_is_a_body_error() {
    let rs = rules("SecRequestBodyNoFilesLimit 1000");
    let body = format!("a={}", "b".repeat(2000));
    let (v, ids) = send(
        &rs,
        "application/x-www-form-urlencoded",
        body.as_bytes(),
        300,
    );
    assert_eq!(v.map(|i| i.status), Some(400));
    assert!(ids.contains(&200002), "{ids:?}");
}
