//! Running one request through the CRS on the fast path and on the reference path
//! (`disable_prefilter`: every rule on every value), and comparing what each decided.

use palisade_inspect::{
    ConnInfo, Intervention, LoadOptions, MatchedRule, RECOMMENDED_BASE_RULES, RequestHead, RuleSet,
};
use std::path::Path;
use std::sync::Arc;

/// A fixed-seed xorshift64* generator: the same inputs on every run, no extra crates.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Everything a transaction decided, in order.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub interventions: Vec<Option<Intervention>>,
    pub matched: Vec<MatchedRule>,
    pub scores: Vec<Option<Vec<u8>>>,
}

/// Phases 1-5 of one request with a fixed response; `fast` false turns the prefilter off.
pub fn evaluate(rs: &Arc<RuleSet>, head: &RequestHead, body: &[u8], fast: bool) -> Outcome {
    let mut tx = rs.transaction(ConnInfo {
        client_ip: "192.0.2.7".into(),
        client_port: 51000,
        server_ip: "192.0.2.1".into(),
        server_port: 8080,
        unique_id: "differential".into(),
    });
    if !fast {
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
        "rce_score",
        "lfi_score",
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

/// The recommended base rules with the CRS blocking at paranoia level `pl`.
pub fn prelude_at(pl: u8) -> String {
    format!(
        "{RECOMMENDED_BASE_RULES}\nSecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level={pl}\"\n"
    )
}

/// The CRS in `crs`, with `setup` (if any) between crs-setup.conf and the rules.
pub fn load(crs: &Path, prelude: String, setup: Option<&Path>) -> Arc<RuleSet> {
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

/// Replays `requests` (label, head, body) both ways and fails on any difference;
/// returns (requests with a match, requests blocked).
pub fn compare(
    rs: &Arc<RuleSet>,
    requests: &[(String, RequestHead, Vec<u8>)],
    what: &str,
) -> (usize, usize) {
    let mut diffs = Vec::new();
    let (mut matched, mut blocked) = (0, 0);
    for (label, head, body) in requests {
        let fast = evaluate(rs, head, body, true);
        let reference = evaluate(rs, head, body, false);
        matched += usize::from(!fast.matched.is_empty());
        blocked += usize::from(fast.interventions.iter().any(Option::is_some));
        if fast != reference {
            let ids = |o: &Outcome| o.matched.iter().map(|m| m.id).collect::<Vec<_>>();
            diffs.push(format!(
                "{label}: {} {} body {:?}: fast {:?} vs reference {:?}",
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
        "{what}: {} of {} requests differ on the fast path, e.g.:\n{}",
        diffs.len(),
        requests.len(),
        diffs[..diffs.len().min(10)].join("\n")
    );
    (matched, blocked)
}
