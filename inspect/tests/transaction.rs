//! Transaction semantics on small inline rule sets: modes, chains, flow, setvar, ctl.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palisade_inspect::{ConnInfo, Disruptive, LoadOptions, RequestHead, RuleSet, Transaction};
use std::sync::Arc;

fn rules(text: &str) -> Arc<RuleSet> {
    Arc::new(
        RuleSet::load(&LoadOptions {
            extra_rules: text.to_string(),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}")),
    )
}

fn get(uri: &str) -> RequestHead {
    RequestHead {
        method: "GET".into(),
        uri: uri.into(),
        protocol: "HTTP/1.1".into(),
        headers: vec![("Host".into(), b"example.com".to_vec())],
    }
}

fn post(uri: &str, ct: &str, body_len: usize) -> RequestHead {
    let mut h = get(uri);
    h.method = "POST".into();
    h.headers
        .push(("Content-Type".into(), ct.as_bytes().to_vec()));
    h.headers
        .push(("Content-Length".into(), body_len.to_string().into_bytes()));
    h
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

fn ids(t: &Transaction) -> Vec<u32> {
    t.matched_rules().iter().map(|m| m.id).collect()
}

const DENY_ATTACK: &str = r#"
SecRequestBodyAccess On
SecRule ARGS "@rx attack" "id:10,phase:1,deny,status:406,msg:'attack in %{MATCHED_VAR_NAME}',log"
"#;

#[test]
fn deny_in_on_mode_returns_the_rules_status_and_stops_evaluation() {
    let rs = rules(&format!("SecRuleEngine On\n{DENY_ATTACK}"));
    let mut t = tx(&rs);
    let i = t
        .process_request_headers(&get("/?q=an+attack"))
        .expect("intervention");
    assert_eq!(
        (i.status, i.rule_id, i.disruptive.clone()),
        (406, 10, Disruptive::Deny)
    );
    assert_eq!(i.message, "attack in ARGS:q");
    assert!(!t.wants_request_body());
    assert_eq!(t.process_request_body(b""), None);
}

#[test]
fn detection_only_matches_but_never_intervenes() {
    let rs = rules(&format!("SecRuleEngine DetectionOnly\n{DENY_ATTACK}"));
    let mut t = tx(&rs);
    assert_eq!(t.process_request_headers(&get("/?q=attack")), None);
    assert_eq!(ids(&t), vec![10]);
}

#[test]
fn engine_off_evaluates_nothing() {
    let rs = rules(&format!("SecRuleEngine Off\n{DENY_ATTACK}"));
    let mut t = tx(&rs);
    assert_eq!(t.process_request_headers(&get("/?q=attack")), None);
    assert!(ids(&t).is_empty());
}

#[test]
fn ctl_rule_engine_switches_one_transaction_to_detection_only() {
    let rs = rules(&format!(
        "SecRuleEngine On\nSecAction \"id:1,phase:1,pass,nolog,ctl:ruleEngine=DetectionOnly\"\n{DENY_ATTACK}"
    ));
    let mut t = tx(&rs);
    assert_eq!(t.process_request_headers(&get("/?q=attack")), None);
    assert_eq!(ids(&t), vec![10]);
}

#[test]
fn a_chain_matches_only_when_every_link_matches() {
    let rs = rules(
        r#"
SecRule REQUEST_METHOD "@streq POST" "id:20,phase:1,pass,log,chain"
    SecRule ARGS:a "@eq 1" "setvar:tx.chained=yes"
"#,
    );
    let mut t = tx(&rs);
    t.process_request_headers(&get("/?a=1"));
    assert!(ids(&t).is_empty());
    assert_eq!(t.tx_var("chained"), None);
    let mut t = tx(&rs);
    let mut h = get("/?a=1");
    h.method = "POST".into();
    t.process_request_headers(&h);
    assert_eq!(ids(&t), vec![20]);
    assert_eq!(t.tx_var("chained"), Some(&b"yes"[..]));
}

#[test]
fn skip_after_jumps_past_the_marker() {
    let rs = rules(
        r#"
SecAction "id:30,phase:1,pass,nolog,skipAfter:END"
SecAction "id:31,phase:1,pass,log"
SecMarker END
SecAction "id:32,phase:1,pass,log"
"#,
    );
    let mut t = tx(&rs);
    t.process_request_headers(&get("/"));
    assert_eq!(ids(&t), vec![32]);
}

#[test]
fn setvar_accumulates_scores_and_macros_expand() {
    let rs = rules(
        r#"
SecAction "id:40,phase:1,pass,nolog,setvar:tx.score=0,setvar:tx.crit=5"
SecRule ARGS "@rx x" "id:41,phase:1,pass,nolog,setvar:'tx.score=+%{tx.crit}'"
SecRule TX:SCORE "@ge 10" "id:42,phase:1,pass,log,msg:'score %{tx.score}'"
"#,
    );
    let mut t = tx(&rs);
    t.process_request_headers(&get("/?a=x&b=x"));
    assert_eq!(t.tx_var("score"), Some(&b"10"[..]));
    assert_eq!(t.matched_rules()[0].msg, "score 10");
}

#[test]
fn capture_fills_tx_groups() {
    let rs = rules(
        r#"SecRule ARGS:id "@rx ^(\d+)-(\w+)$" "id:50,phase:1,pass,log,capture,logdata:'%{tx.1}/%{tx.2}'""#,
    );
    let mut t = tx(&rs);
    t.process_request_headers(&get("/?id=42-abc"));
    assert_eq!(t.matched_rules()[0].data, "42/abc");
}

#[test]
fn ctl_remove_target_by_id_excludes_one_argument() {
    let rs = rules(
        r#"
SecRule REQUEST_FILENAME "@streq /login" "id:60,phase:1,pass,nolog,ctl:ruleRemoveTargetById=61;ARGS:password"
SecRule ARGS "@rx '" "id:61,phase:1,pass,log"
"#,
    );
    let mut t = tx(&rs);
    t.process_request_headers(&get("/login?password=it's"));
    assert!(ids(&t).is_empty());
    let mut t = tx(&rs);
    t.process_request_headers(&get("/login?user=it's"));
    assert_eq!(ids(&t), vec![61]);
}

#[test]
fn json_bodies_become_arguments() {
    let rs = rules(
        r#"
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:70,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule ARGS:json.user.name "@streq bob" "id:71,phase:2,pass,log"
"#,
    );
    let body = br#"{"user":{"name":"bob"}}"#;
    let mut t = tx(&rs);
    t.process_request_headers(&post("/", "application/json", body.len()));
    assert!(t.wants_request_body());
    t.process_request_body(body);
    assert_eq!(ids(&t), vec![71]);
}

#[test]
fn multipart_fields_and_files_are_parsed() {
    let rs = rules(
        r#"
SecRequestBodyAccess On
SecRule ARGS_POST:note "@streq hi" "id:80,phase:2,pass,log"
SecRule FILES "@endsWith .php" "id:81,phase:2,pass,log"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:82,phase:2,pass,log"
"#,
    );
    let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"shell.php\"\r\nContent-Type: text/plain\r\n\r\n<?php ?>\r\n--XyZ--\r\n";
    let mut t = tx(&rs);
    t.process_request_headers(&post("/", "multipart/form-data; boundary=XyZ", body.len()));
    t.process_request_body(body);
    assert_eq!(ids(&t), vec![80, 81]);
}

#[test]
fn response_phases_see_status_headers_and_body() {
    let rs = rules(
        r#"
SecResponseBodyAccess On
SecRule RESPONSE_STATUS "@eq 500" "id:90,phase:3,pass,log"
SecRule RESPONSE_BODY "@contains stack trace" "id:91,phase:4,deny,log"
"#,
    );
    let mut t = tx(&rs);
    t.process_request_headers(&get("/"));
    t.process_request_body(b"");
    t.process_response_headers(
        500,
        "HTTP/1.1",
        &[("Content-Type".into(), b"text/html".to_vec())],
    );
    assert!(t.wants_response_body());
    let i = t
        .process_response_body(b"a stack trace here")
        .expect("deny");
    assert_eq!((i.status, i.rule_id), (403, 91));
    assert_eq!(ids(&t), vec![90, 91]);
}

#[test]
fn body_over_the_limit_is_rejected_with_413() {
    let rs = rules(
        "SecRuleEngine On\nSecRequestBodyAccess On\nSecRequestBodyLimit 16\nSecRequestBodyLimitAction Reject\n",
    );
    let body = vec![b'a'; 17];
    let mut t = tx(&rs);
    assert_eq!(
        t.process_request_headers(&post("/", "text/plain", body.len())),
        None
    );
    let i = t.process_request_body(&body).expect("rejected");
    assert_eq!(i.status, 413);
}

#[test]
fn body_over_the_limit_is_inspected_partially_when_configured() {
    let rs = rules(
        "SecRuleEngine On\nSecRequestBodyAccess On\nSecRequestBodyLimit 8\nSecRequestBodyLimitAction ProcessPartial\n\
         SecRule REQUEST_BODY \"@contains tail\" \"id:1,phase:2,deny,log\"\n",
    );
    let body = b"12345678tail";
    let mut t = tx(&rs);
    t.process_request_headers(&post("/", "text/plain", body.len()));
    assert_eq!(t.process_request_body(body), None);
}

#[test]
fn catastrophic_backtracking_pattern_is_bounded() {
    // The look-ahead sends this to PCRE2; its match limit stops the exponential search.
    let rs = rules(r#"SecRule ARGS "@rx (?=a)(a|aa)+$" "id:1,phase:1,pass,log""#);
    let mut t = tx(&rs);
    let evil = format!("/?x={}b", "a".repeat(64));
    let start = std::time::Instant::now();
    t.process_request_headers(&get(&evil));
    assert!(ids(&t).is_empty());
    eprintln!("bounded evaluation took {:?}", start.elapsed());
}

#[test]
fn rule_sets_are_shared_across_threads_and_transactions_move_between_them() {
    fn shared<T: Send + Sync>() {}
    fn movable<T: Send>() {}
    shared::<RuleSet>();
    movable::<Transaction>();
    let rs = rules(DENY_ATTACK);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let rs = rs.clone();
            std::thread::spawn(move || {
                let mut t = tx(&rs);
                t.process_request_headers(&get("/?q=attack"))
                    .map(|i| i.rule_id)
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), Some(10));
    }
}

#[test]
fn matched_rule_names_the_variable_and_keeps_a_bounded_value() {
    let rs = rules(
        r#"
SecRule ARGS "@rx attack" "id:70,phase:1,pass,log"
SecRule REQUEST_HEADERS "@rx evil" "id:71,phase:1,pass,log"
"#,
    );
    let mut t = tx(&rs);
    let long = "x".repeat(1000);
    let mut head = get(&format!("/?q=ok&comment=an+attack+{long}"));
    head.headers
        .push(("User-Agent".into(), b"evil bot".to_vec()));
    t.process_request_headers(&head);
    let m = t.matched_rules();
    assert_eq!(m.len(), 2);
    assert_eq!((m[0].id, m[0].var.as_str()), (70, "ARGS:comment"));
    assert!(m[0].value.starts_with("an attack x"), "{}", m[0].value);
    assert_eq!(m[0].value.len(), palisade_inspect::MATCHED_VALUE_MAX);
    assert_eq!(
        (m[1].id, m[1].var.as_str()),
        (71, "REQUEST_HEADERS:User-Agent")
    );
    assert_eq!(m[1].value, "evil bot");
}

#[test]
fn phrase_match_rules_match_the_same_values_with_and_without_the_prefilter() {
    // @pm links take part in the prefilter: a value is skipped only when it holds none of
    // the phrases after the rule's transformations, in any ASCII case.
    let rs = rules(
        r#"
SecRule ARGS "@pm etc/passwd ; /bin/sh" "id:20,phase:1,pass,log,t:none,t:urlDecodeUni"
SecRule ARGS_NAMES|REQUEST_COOKIES "@pm DROP" "id:21,phase:1,pass,log,t:none,t:lowercase"
SecRule ARGS "@pm x" "id:22,phase:1,pass,log,multiMatch,t:none,t:removeWhitespace"
SecRule ARGS "!@pm benign" "id:23,phase:1,pass,log"
"#,
    );
    let cases: &[(&str, &[u32])] = &[
        ("/?a=hello", &[23]),
        ("/?a=%2525ETC%252fPasswd", &[20, 23]),
        ("/?a=cat%20%253b%20id", &[20, 23]),
        ("/?a=%2F%42in%2Fsh&b=benign", &[20, 23]),
        ("/?DrOp=1&c=benign", &[21, 23]),
        ("/?a=X&b=benign", &[22, 23]),
        ("/?a=benign", &[]),
    ];
    for (uri, want) in cases {
        for fast in [true, false] {
            let mut t = tx(&rs);
            if !fast {
                t.disable_prefilter();
            }
            assert!(t.process_request_headers(&get(uri)).is_none());
            assert_eq!(&ids(&t), want, "{uri} (prefilter {fast})");
        }
    }
}

#[test]
fn libinjection_verdicts_on_repeated_values_are_the_same_as_on_the_first() {
    // The fast path reuses a verdict (and the SQLi fingerprint it captures) for bytes it
    // has already checked in the transaction; the reference path runs libinjection every
    // time. `c` repeats `a` after `b` captured another fingerprint, so the last capture
    // shows whether the repeat captured its own.
    let rs = rules(
        r#"
SecRule ARGS "@detectSQLi" "id:30,phase:1,pass,log,capture,t:none,t:urlDecodeUni,logdata:'%{TX.0} in %{MATCHED_VAR_NAME}',setvar:tx.sqli=+1"
SecRule ARGS "@detectXSS" "id:31,phase:1,pass,log,t:none,t:urlDecodeUni,setvar:tx.xss=+1"
SecRule ARGS "!@detectSQLi" "id:32,phase:1,pass,log,t:none,setvar:tx.clean=+1"
"#,
    );
    let or = "1%27%20OR%20%271%27%3D%271";
    let union = "1%20UNION%20SELECT%20username%20FROM%20users--";
    let xss = "%3Cscript%3Ealert(1)%3C/script%3E";
    let uri = format!("/?a={or}&b={union}&c={or}&d={xss}&e={xss}&f=blue&g=blue");
    let mut outcomes = Vec::new();
    for fast in [true, false] {
        let mut t = tx(&rs);
        if !fast {
            t.disable_prefilter();
        }
        assert!(t.process_request_headers(&get(&uri)).is_none());
        let data: Vec<(u32, String)> = t
            .matched_rules()
            .iter()
            .map(|m| (m.id, m.data.clone()))
            .collect();
        let counts: Vec<Option<Vec<u8>>> = ["sqli", "xss", "clean"]
            .iter()
            .map(|v| t.tx_var(v).map(<[u8]>::to_vec))
            .collect();
        outcomes.push((data, counts));
    }
    assert_eq!(outcomes[0], outcomes[1]);
    let (data, counts) = &outcomes[0];
    assert_eq!(counts[0].as_deref(), Some(&b"3"[..]), "{data:?}");
    assert_eq!(counts[1].as_deref(), Some(&b"2"[..]), "{data:?}");
    assert_eq!(counts[2].as_deref(), Some(&b"4"[..]), "{data:?}");
    let first = libinjectionrs::detect_sqli(b"1' OR '1'='1")
        .fingerprint
        .unwrap();
    assert_eq!(data[0], (30, format!("{first} in ARGS:c")));
}
