//! Arbitrary requests through the full CRS v4 at paranoia level 4 (all phases).
//! Input layout: byte 0 picks the content type, then `uri \n header-value \n body`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_inspect::{ConnInfo, LoadOptions, RECOMMENDED_BASE_RULES, RequestHead, RuleSet};
use std::sync::{Arc, OnceLock};

fn rules() -> &'static Arc<RuleSet> {
    static RULES: OnceLock<Arc<RuleSet>> = OnceLock::new();
    RULES.get_or_init(|| {
        let crs = std::env::var("CRS_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/crs/v4.28.0").into());
        let crs = std::path::PathBuf::from(crs);
        Arc::new(
            RuleSet::load(&LoadOptions {
                prelude: format!("{RECOMMENDED_BASE_RULES}\nSecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=4\"\n"),
                files: vec![crs.join("crs-setup.conf.example"), crs.join("rules/*.conf")],
                ..Default::default()
            })
            .expect("CRS loads"),
        )
    })
}

const TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/json",
    "text/xml",
    "multipart/form-data; boundary=b",
    "text/plain",
];

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |&c| c == b'\n');
    let uri = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let header = parts.next().unwrap_or_default().to_vec();
    let body = parts.next().unwrap_or_default();
    let ct = TYPES[usize::from(kind) % TYPES.len()];
    let mut t = rules().transaction(ConnInfo::default());
    let head = RequestHead {
        method: "POST".into(),
        uri: format!("/{uri}"),
        protocol: "HTTP/1.1".into(),
        headers: vec![
            ("Host".into(), b"fuzz".to_vec()),
            ("Content-Type".into(), ct.as_bytes().to_vec()),
            ("Cookie".into(), header.clone()),
            ("User-Agent".into(), header),
        ],
    };
    let _ = t.process_request_headers(&head);
    let _ = t.process_request_body(body);
    let _ = t.process_response_headers(
        200,
        "HTTP/1.1",
        &[("Content-Type".into(), b"text/html".to_vec())],
    );
    let _ = t.process_response_body(body);
    t.process_logging();
});
