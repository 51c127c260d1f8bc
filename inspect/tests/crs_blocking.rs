//! Both CRS releases, loaded as a user would (blocking mode, paranoia level 1), block
//! a basic attack set before the application and let ordinary requests through.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use palisade_inspect::{
    ConnInfo, Intervention, LoadOptions, RECOMMENDED_BASE_RULES, RequestHead, RuleSet,
};
use std::path::PathBuf;
use std::sync::Arc;

fn load(files: Vec<PathBuf>) -> Arc<RuleSet> {
    let rs = RuleSet::load(&LoadOptions {
        prelude: RECOMMENDED_BASE_RULES.to_string(),
        files,
        ..Default::default()
    });
    Arc::new(rs.unwrap_or_else(|e| panic!("{e}")))
}

fn request(rs: &Arc<RuleSet>, method: &str, uri: &str, body: &[u8]) -> Option<Intervention> {
    let mut headers = vec![
        ("Host".to_string(), b"shop.example".to_vec()),
        (
            "User-Agent".to_string(),
            b"Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0".to_vec(),
        ),
        (
            "Accept".to_string(),
            b"text/html,application/xhtml+xml".to_vec(),
        ),
    ];
    if !body.is_empty() {
        headers.push((
            "Content-Type".into(),
            b"application/x-www-form-urlencoded".to_vec(),
        ));
        headers.push(("Content-Length".into(), body.len().to_string().into_bytes()));
    }
    let mut t = rs.transaction(ConnInfo {
        client_ip: "192.0.2.10".into(),
        client_port: 40000,
        server_ip: "192.0.2.20".into(),
        server_port: 8080,
        unique_id: "blk".into(),
    });
    let head = RequestHead {
        method: method.into(),
        uri: uri.into(),
        protocol: "HTTP/1.1".into(),
        headers,
    };
    t.process_request_headers(&head)
        .or_else(|| t.process_request_body(body))
}

const ATTACKS: &[(&str, &str, &str)] = &[
    ("sqli", "/products?id=1%27%20OR%20%271%27%3D%271", ""),
    (
        "sqli-union",
        "/products?id=1%20UNION%20SELECT%20username,password%20FROM%20users--",
        "",
    ),
    (
        "xss",
        "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
        "",
    ),
    (
        "path-traversal",
        "/download?file=../../../../etc/passwd",
        "",
    ),
    (
        "command-injection",
        "/ping?host=127.0.0.1%3Bcat%20/etc/passwd",
        "",
    ),
    ("sqli-in-body", "/login", "user=admin'--&pass=x' or 1=1--"),
];

const BENIGN: &[(&str, &str, &str)] = &[
    ("home", "/", ""),
    ("search", "/search?q=red+running+shoes&page=2", ""),
    (
        "form",
        "/account",
        "name=Jane+Doe&email=jane%40example.com&city=Berlin",
    ),
];

fn check(rs: &Arc<RuleSet>) {
    for (name, uri, body) in ATTACKS {
        let method = if body.is_empty() { "GET" } else { "POST" };
        let i = request(rs, method, uri, body.as_bytes())
            .unwrap_or_else(|| panic!("{name} was not blocked"));
        assert_eq!(i.status, 403, "{name}: {i:?}");
    }
    for (name, uri, body) in BENIGN {
        let method = if body.is_empty() { "GET" } else { "POST" };
        assert_eq!(
            request(rs, method, uri, body.as_bytes()),
            None,
            "{name} was blocked"
        );
    }
}

#[test]
fn crs_v4_blocks_basic_attacks_at_paranoia_level_1() {
    let Some(crs) = common::crs4() else { return };
    check(&load(vec![
        crs.join("crs-setup.conf.example"),
        crs.join("rules/*.conf"),
    ]));
}

#[test]
fn debian_crs_v3_blocks_basic_attacks_at_paranoia_level_1() {
    let Some((setup, rules)) = common::crs3_debian() else {
        return;
    };
    check(&load(vec![setup, rules.join("*.conf")]));
}

#[test]
fn hostile_inputs_neither_crash_nor_hang() {
    let Some(crs) = common::crs4() else { return };
    let rs = load(vec![
        crs.join("crs-setup.conf.example"),
        crs.join("rules/*.conf"),
    ]);
    let many_args: String = (0..10_000).map(|i| format!("a{i}=v{i}&")).collect();
    let deep_json = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let mut nul_utf8 = b"x=\x00\xff\xfe\xc3\x28".to_vec();
    nul_utf8.extend_from_slice(&[b'%'; 3]);
    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        ("10k args", "/".into(), many_args.into_bytes()),
        (
            "nul and invalid utf-8",
            "/%00%ff?%c3%28=%00".into(),
            nul_utf8,
        ),
        (
            "long uri",
            format!("/?q={}", "a'".repeat(20_000)),
            Vec::new(),
        ),
    ];
    for (name, uri, body) in cases {
        let method = if body.is_empty() { "GET" } else { "POST" };
        let _ = request(&rs, method, &uri, &body);
        eprintln!("{name}: evaluated");
    }
    // 100-level JSON through the JSON processor.
    let mut t = rs.transaction(ConnInfo::default());
    let head = RequestHead {
        method: "POST".into(),
        uri: "/api".into(),
        protocol: "HTTP/1.1".into(),
        headers: vec![
            ("Host".into(), b"x".to_vec()),
            ("Content-Type".into(), b"application/json".to_vec()),
            (
                "Content-Length".into(),
                deep_json.len().to_string().into_bytes(),
            ),
        ],
    };
    let _ = t.process_request_headers(&head);
    let _ = t.process_request_body(deep_json.as_bytes());
}

#[test]
fn crs_options_apply_mode_and_paranoia_without_seclang() {
    use palisade_inspect::{CrsOptions, EngineMode};
    let Some(crs) = common::crs4() else { return };
    let opts = |mode, paranoia_level| CrsOptions {
        crs_dir: crs.clone(),
        mode,
        paranoia_level,
        inbound_anomaly_threshold: None,
        rules_before: Vec::new(),
        rules_after: Vec::new(),
    };
    let err = opts(EngineMode::On, 5)
        .load_options()
        .unwrap_err()
        .to_string();
    assert_eq!(err, "paranoia_level 5: allowed values are 1, 2, 3 and 4");
    let monitor = Arc::new(
        RuleSet::load(&opts(EngineMode::DetectionOnly, 1).load_options().unwrap()).unwrap(),
    );
    assert_eq!(
        request(
            &monitor,
            "GET",
            "/products?id=1%27%20OR%20%271%27%3D%271",
            b""
        ),
        None
    );
    let block = Arc::new(RuleSet::load(&opts(EngineMode::On, 4).load_options().unwrap()).unwrap());
    assert!(
        request(
            &block,
            "GET",
            "/products?id=1%27%20OR%20%271%27%3D%271",
            b""
        )
        .is_some()
    );
}
