//! The request-view builder (`set_request`: method, target forms, headers, cookies,
//! Host, content type) with arbitrary heads, under rules that read every variable it
//! fills. Input layout: `method \n target \n protocol \n name:value \n ...`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_inspect::{ConnInfo, LoadOptions, RECOMMENDED_BASE_RULES, RequestHead, RuleSet};
use std::sync::{Arc, OnceLock};

const RULES: &str = r#"
SecRule REQUEST_URI|REQUEST_URI_RAW|REQUEST_FILENAME|REQUEST_BASENAME|QUERY_STRING|REQUEST_LINE "@rx ." "id:1,phase:1,pass,log"
SecRule ARGS|ARGS_NAMES|REQUEST_COOKIES|REQUEST_COOKIES_NAMES|REQUEST_HEADERS|SERVER_NAME "@rx ." "id:2,phase:1,pass,log,t:urlDecodeUni"
SecRule &ARGS "@gt 0" "id:3,phase:2,pass,log"
"#;

fn rules() -> &'static Arc<RuleSet> {
    static SET: OnceLock<Arc<RuleSet>> = OnceLock::new();
    SET.get_or_init(|| {
        Arc::new(
            RuleSet::load(&LoadOptions {
                prelude: format!("{RECOMMENDED_BASE_RULES}\n{RULES}"),
                ..Default::default()
            })
            .expect("rules load"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or("GET").to_string();
    let uri = lines.next().unwrap_or("/").to_string();
    let protocol = lines.next().unwrap_or("HTTP/1.1").to_string();
    let headers = lines
        .map(|l| match l.split_once(':') {
            Some((n, v)) => (n.to_ascii_lowercase(), v.as_bytes().to_vec()),
            None => (l.to_ascii_lowercase(), Vec::new()),
        })
        .collect();
    let mut tx = rules().transaction(ConnInfo {
        client_ip: "10.0.0.1".into(),
        client_port: 1234,
        server_ip: "10.0.0.2".into(),
        server_port: 8080,
        unique_id: "fuzz".into(),
    });
    let _ = tx.process_request_headers(&RequestHead { method, uri, protocol, headers });
    let _ = tx.process_request_body(data);
    tx.process_logging();
});
