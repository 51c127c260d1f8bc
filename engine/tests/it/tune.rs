//! False-positive tuning: the access log says what matched (rule, variable with key, a
//! short value with credentials masked), and `palisade-engine tune` turns a monitor-mode
//! log into exclusions that let benign traffic through while attacks stay blocked.

use std::time::Duration;

use crate::crs::{crs_config, crs_dir};
use crate::support::{Engine, app, client};

#[tokio::test(flavor = "multi_thread")]
async fn access_log_names_rule_variable_and_masked_value_of_each_match() {
    let Some(crs) = crs_dir() else { return };
    let app = app::http().await;
    let mut engine = Engine::start(app.addr, &crs_config(&crs, "monitor"));
    let long = "a".repeat(500);
    let mut req = client::request(
        "GET",
        &format!("/search?comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E{long}"),
        bytes::Bytes::new(),
    );
    let h = req.headers_mut();
    h.insert("user-agent", http::HeaderValue::from_static("nikto/2.1.6"));
    h.insert(
        "cookie",
        http::HeaderValue::from_static("session=1%27%20or%201%3D1--"),
    );
    let mut s = client::connect(engine.addr).await;
    let resp = client::send(&mut s, req).await;
    assert_eq!(resp.status(), 200, "monitor mode never blocks");
    let line = engine.wait_event(|v| v["type"] == "access", Duration::from_secs(10));
    let matches = line["matches"].as_array().expect("matches array");
    let find = |id: u64| {
        matches
            .iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("rule {id} not in {line}"))
    };
    let xss = find(941100);
    assert_eq!(xss["var"], "ARGS:comment", "{xss}");
    let value = xss["value"].as_str().unwrap();
    assert!(value.contains("<script>"), "{value}");
    assert_eq!(value.chars().count(), 100, "cut to a safe length: {value}");
    let scanner = find(913100);
    // Header names are logged as the client sent them (hyper sends them lower-case).
    assert!(
        scanner["var"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("REQUEST_HEADERS:User-Agent"),
        "{scanner}"
    );
    assert!(scanner["value"].as_str().unwrap().contains("nikto"));
    let sqli = matches
        .iter()
        .find(|m| m["var"] == "REQUEST_COOKIES:session")
        .unwrap_or_else(|| panic!("no match on the cookie in {line}"));
    assert_eq!(sqli["value"], "***", "cookie values are masked: {sqli}");
    assert!(
        !line.to_string().contains("or 1=1"),
        "the cookie value appears nowhere: {line}"
    );
    let ids = line["rule_ids"].as_array().unwrap();
    assert!(matches.iter().all(|m| ids.contains(&m["id"])), "{line}");
}
