//! Deterministic random inputs (a fixed-seed generator, no extra crates) through every
//! transformation, the SecLang parser and full-CRS evaluation: nothing may panic.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::differential::Rng;
use palisade_inspect::{ConnInfo, LoadOptions, RequestHead, RuleSet, apply_transform_by_name};
use std::sync::Arc;

/// Bytes biased towards the characters decoders and parsers care about.
fn bytes(rng: &mut Rng, max: usize) -> Vec<u8> {
    const SPECIAL: &[u8] = b"%u+&#;x\\/*-<!>.'\"=:,|@{}()[] \t\r\n\x000123456789abcdefABCDEF";
    let n = (rng.next() % max as u64) as usize;
    (0..n)
        .map(|_| {
            let r = rng.next();
            if r.is_multiple_of(3) {
                (r >> 8) as u8
            } else {
                SPECIAL[(r >> 8) as usize % SPECIAL.len()]
            }
        })
        .collect()
}

const TRANSFORMS: &[&str] = &[
    "base64Decode",
    "base64DecodeExt",
    "base64Encode",
    "cmdLine",
    "compressWhitespace",
    "cssDecode",
    "escapeSeqDecode",
    "hexDecode",
    "hexEncode",
    "htmlEntityDecode",
    "jsDecode",
    "length",
    "lowercase",
    "md5",
    "normalizePath",
    "normalizePathWin",
    "parityEven7bit",
    "parityOdd7bit",
    "parityZero7bit",
    "removeComments",
    "removeCommentsChar",
    "removeNulls",
    "removeWhitespace",
    "replaceComments",
    "replaceNulls",
    "sha1",
    "sqlHexDecode",
    "trim",
    "trimLeft",
    "trimRight",
    "uppercase",
    "urlDecode",
    "urlDecodeUni",
    "urlEncode",
    "utf8toUnicode",
];

#[test]
fn transformations_never_panic_on_random_bytes() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for _ in 0..20_000 {
        let input = bytes(&mut rng, 64);
        for t in TRANSFORMS {
            let _ = apply_transform_by_name(t, &input).unwrap();
        }
    }
}

#[test]
fn the_parser_rejects_or_accepts_random_text_without_panicking() {
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    let pieces = [
        "SecRule ",
        "SecAction ",
        "ARGS",
        "|!ARGS:",
        "&TX:",
        " \"@rx ",
        "\" \"",
        "id:1",
        ",phase:2",
        ",chain",
        ",t:urlDecodeUni",
        ",setvar:tx.a=+1",
        ",ctl:ruleRemoveTargetById=1;ARGS:x",
        "'",
        "\\\n",
        "%{tx.a}",
        "\n",
        "/x/",
    ];
    for _ in 0..5_000 {
        let mut text = String::new();
        for _ in 0..(rng.next() % 12) {
            text.push_str(pieces[(rng.next() % pieces.len() as u64) as usize]);
        }
        text.push_str(&String::from_utf8_lossy(&bytes(&mut rng, 8)));
        let _ = RuleSet::load(&LoadOptions {
            extra_rules: text,
            ..Default::default()
        });
    }
}

#[test]
fn random_requests_through_full_crs_never_panic() {
    let Some(crs) = common::crs4() else { return };
    let rs = Arc::new(
        RuleSet::load(&LoadOptions {
            prelude: format!(
                "{}\nSecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=4\"\n",
                palisade_inspect::RECOMMENDED_BASE_RULES
            ),
            files: vec![crs.join("crs-setup.conf.example"), crs.join("rules/*.conf")],
            ..Default::default()
        })
        .unwrap(),
    );
    let mut rng = Rng(0xfeed_face_0000_0042);
    let cts = [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/xml",
        "multipart/form-data; boundary=b",
        "text/plain",
    ];
    for _ in 0..300 {
        let body = bytes(&mut rng, 400);
        let uri = format!(
            "/{}?{}",
            String::from_utf8_lossy(&bytes(&mut rng, 30)),
            String::from_utf8_lossy(&bytes(&mut rng, 60))
        );
        let ct = cts[(rng.next() % cts.len() as u64) as usize];
        let mut t = rs.transaction(ConnInfo::default());
        let head = RequestHead {
            method: "POST".into(),
            uri,
            protocol: "HTTP/1.1".into(),
            headers: vec![
                ("Host".into(), b"x".to_vec()),
                ("Content-Type".into(), ct.as_bytes().to_vec()),
                ("Cookie".into(), bytes(&mut rng, 40)),
                ("X-Random".into(), bytes(&mut rng, 40)),
            ],
        };
        let _ = t.process_request_headers(&head);
        let _ = t.process_request_body(&body);
        let _ = t.process_response_headers(
            200,
            "HTTP/1.1",
            &[("Content-Type".into(), b"text/html".to_vec())],
        );
        let _ = t.process_response_body(&bytes(&mut rng, 200));
        t.process_logging();
    }
}
