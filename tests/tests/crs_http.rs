//! The CRS v4.28.0 regression suite (go-ftw YAML, `*.yaml` and `*.yml`) replayed over real
//! sockets against a running `palisade-engine`, the way go-ftw runs it: each stage's bytes
//! built as go-ftw builds them, two marker requests carrying `X-CRS-Test: <uuid>` around
//! it, and the stage scored on the engine's access-log lines between the markers, behind
//! an albedo-compatible backend. The engine runs the suite's own setup
//! (`tests/data/crs-http-setup.conf`: DetectionOnly, blocking paranoia level 4).
//!
//! Every case the engine does not pass is listed with its reason in
//! `tests/data/crs-http-known-failures.yaml`; the test fails when an unlisted case fails
//! or the pass rate falls below the floor written there. `FTW_ONLY=920100-4,942100-1`
//! replays just those cases and prints what was sent and logged.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use palisade_tests::ftw::{self, FtwCase, StageResult};
use palisade_tests::{
    LocalEngine, LogTail, require, send_raw, shared_dir, start_albedo, workspace_root,
};
use serde_yaml::Value;

const MARKER_WAIT: Duration = Duration::from_secs(5);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

struct Known {
    floor: f64,
    cases: BTreeMap<String, String>,
    /// Cases scored against the output the suite's own `nginx-overrides.yaml` expects,
    /// where the engine behaves as nginx + libmodsecurity3 for the override's reason.
    nginx: BTreeMap<String, Value>,
}

fn title_list(o: &Value) -> Vec<String> {
    let rule = o["rule_id"].as_u64().expect("override without rule_id");
    o["test_ids"]
        .as_sequence()
        .expect("override without test_ids")
        .iter()
        .map(|t| format!("{rule}-{}", t.as_u64().expect("test id")))
        .collect()
}

fn known_failures() -> Known {
    let path = workspace_root().join("tests/data/crs-http-known-failures.yaml");
    let v: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let floor = v["meta"]["pass_rate_floor"]
        .as_f64()
        .expect("meta.pass_rate_floor (a percentage) in crs-http-known-failures.yaml");
    let mut cases = BTreeMap::new();
    for o in v["test_overrides"].as_sequence().into_iter().flatten() {
        let rule = o["rule_id"].as_u64().expect("override without rule_id");
        let reason = o["reason"]
            .as_str()
            .expect("override without reason")
            .trim();
        assert!(!reason.is_empty(), "rule {rule}: empty reason");
        for t in o["test_ids"]
            .as_sequence()
            .expect("override without test_ids")
        {
            let t = t.as_u64().expect("test id");
            cases.insert(format!("{rule}-{t}"), reason.to_string());
        }
    }
    let upstream_path = shared_dir().join("crs/v4.28.0/tests/regression/nginx-overrides.yaml");
    let upstream: Value = serde_yaml::from_str(&std::fs::read_to_string(&upstream_path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", upstream_path.display()));
    let mut theirs = BTreeMap::new();
    for o in upstream["test_overrides"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        for t in title_list(o) {
            theirs.insert(t, o["output"].clone());
        }
    }
    let mut nginx = BTreeMap::new();
    for o in v["nginx_overrides"].as_sequence().into_iter().flatten() {
        assert!(
            o["reason"].as_str().is_some_and(|r| !r.trim().is_empty()),
            "nginx_overrides entry without reason"
        );
        for t in title_list(o) {
            let output = theirs
                .get(&t)
                .filter(|v| !v.is_null())
                .unwrap_or_else(|| panic!("{t}: nginx-overrides.yaml has no output for it"));
            nginx.insert(t, output.clone());
        }
    }
    Known {
        floor,
        cases,
        nginx,
    }
}

/// The engine's access-log line as ModSecurity error-log lines, one per logged match;
/// control characters escaped, as ModSecurity's log escapes them.
fn modsec_lines(line: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
        return vec![line.to_string()];
    };
    v["matches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "[id \"{}\"] [msg \"{}\"] [data \"{}\"]",
                m["id"],
                m["msg"].as_str().unwrap_or_default().escape_debug(),
                m["data"].as_str().unwrap_or_default().escape_debug()
            )
        })
        .collect()
}

struct Runner {
    engine: LocalEngine,
    tail: LogTail,
}

impl Runner {
    /// Sends a marker and returns the index of its log line.
    fn mark(&mut self, stage_id: &str) -> Result<usize, String> {
        let from = self.tail.lines.len();
        for _ in 0..2 {
            send_raw(
                self.engine.addr,
                &ftw::marker_request(stage_id),
                RESPONSE_TIMEOUT,
            )
            .map_err(|e| format!("marker request: {e}"))?;
            if let Some(i) = self.tail.wait_for(from, stage_id, MARKER_WAIT) {
                return Ok(i);
            }
        }
        Err(format!("marker {stage_id} never reached the engine's log"))
    }

    fn stage(&mut self, input: &Value) -> Result<(StageResult, Vec<u8>), String> {
        let request = ftw::build_request(input)?;
        let stage_id = uuid::Uuid::new_v4().to_string();
        let start = self.mark(&stage_id)?;
        let response = send_raw(self.engine.addr, &request, RESPONSE_TIMEOUT);
        let end = self.mark(&stage_id)?;
        let mut between: Vec<String> = self.tail.lines[start + 1..end].to_vec();
        if between.is_empty() {
            // The stage's own line may be written after the end marker's (both are written
            // when a request finishes): wait briefly for it.
            if self
                .tail
                .wait_for(end + 1, "\"type\":\"access\"", Duration::from_millis(300))
                .is_some()
            {
                between = self.tail.lines[end + 1..]
                    .iter()
                    .filter(|l| !l.contains(&stage_id))
                    .cloned()
                    .collect();
            }
        }
        let log_lines = between.iter().flat_map(|l| modsec_lines(l)).collect();
        Ok((
            StageResult {
                response,
                log_lines,
            },
            request,
        ))
    }

    fn run(&mut self, case: &FtwCase, over: Option<&Value>, verbose: bool) -> Result<(), String> {
        for (n, s) in case.stages.iter().enumerate() {
            // go-ftw's platform overrides replace the expected output.
            let output = over.unwrap_or(&s.output);
            let mut attempts = if ftw::retry_once(&s.output) { 2 } else { 1 };
            loop {
                let (result, request) = self
                    .stage(&s.input)
                    .map_err(|e| format!("stage {n}: {e}"))?;
                let verdict = ftw::check(output, &result);
                if verbose {
                    eprintln!(
                        "--- {} stage {n}\n>>> {:?}\n<<< {:?}\nlog: {:#?}\n=> {verdict:?}",
                        case.title(),
                        String::from_utf8_lossy(&request)
                            .chars()
                            .take(2000)
                            .collect::<String>(),
                        result.response.as_ref().map(|r| String::from_utf8_lossy(r)
                            .chars()
                            .take(300)
                            .collect::<String>()),
                        result.log_lines
                    );
                }
                attempts -= 1;
                match verdict {
                    Ok(()) => break,
                    Err(e) if attempts == 0 => return Err(format!("stage {n}: {e}")),
                    Err(_) => continue,
                }
            }
        }
        Ok(())
    }
}

#[test]
fn crs_v4_regression_suite_over_http_passes_every_unlisted_case() {
    let crs = shared_dir().join("crs/v4.28.0");
    if !require(
        crs.join("tests/regression/tests").is_dir(),
        &format!("CRS v4.28.0 with its tests not found at {}", crs.display()),
    ) {
        return;
    }
    let setup = workspace_root().join("tests/data/crs-http-setup.conf");
    let yaml = format!(
        "inspection:\n  mode: monitor\n  paranoia_level: 4\n  rules:\n    - {}\n    - {}\n    - {}\n",
        crs.join("crs-setup.conf.example").display(),
        setup.display(),
        crs.join("rules/*.conf").display()
    );
    let backend = start_albedo();
    let engine = LocalEngine::start(&yaml, backend);
    let tail = LogTail::open(engine.log_path());
    let mut runner = Runner { engine, tail };
    let known = known_failures();
    let only: BTreeSet<String> = std::env::var("FTW_ONLY")
        .map(|v| v.split(',').map(String::from).collect())
        .unwrap_or_default();

    let suite = ftw::load_suite(&crs.join("tests/regression/tests"));
    let mut passed = 0usize;
    let mut failed = Vec::new();
    let mut unlisted = Vec::new();
    let mut fixed = Vec::new();
    let mut per_group: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for case in &suite {
        let title = case.title();
        if !only.is_empty() && !only.contains(&title) {
            continue;
        }
        let group = case
            .file
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let entry = per_group.entry(group).or_default();
        match runner.run(case, known.nginx.get(&title), !only.is_empty()) {
            Ok(()) => {
                passed += 1;
                entry.0 += 1;
                if known.cases.contains_key(&title) {
                    fixed.push(title);
                }
            }
            Err(why) => {
                entry.1 += 1;
                if !known.cases.contains_key(&title) {
                    unlisted.push(format!("{title}: {why}"));
                }
                failed.push(format!("{title}: {why}"));
            }
        }
    }
    for (g, (p, f)) in &per_group {
        eprintln!("{g}: {p} passed, {f} failed");
    }
    for f in &failed {
        eprintln!("FAILED {f}");
    }
    for f in &fixed {
        eprintln!("NOW PASSES (remove it from crs-http-known-failures.yaml): {f}");
    }
    if !only.is_empty() {
        return;
    }
    eprintln!(
        "{} cases scored against nginx-overrides.yaml's output (nginx_overrides)",
        known.nginx.len()
    );
    let total = passed + failed.len();
    let rate = 100.0 * passed as f64 / total.max(1) as f64;
    eprintln!(
        "crs-v4 over HTTP: {passed} of {total} cases passed ({rate:.2}%, floor {}%)",
        known.floor
    );
    assert!(
        total > 4000,
        "only {total} cases ran: the suite did not load"
    );
    assert!(
        unlisted.is_empty(),
        "{} cases failed that crs-http-known-failures.yaml does not list:\n{}\nengine stderr (tail): {}",
        unlisted.len(),
        unlisted.join("\n"),
        runner
            .engine
            .stderr()
            .chars()
            .rev()
            .take(2000)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
    );
    assert!(
        rate >= known.floor,
        "pass rate {rate:.2}% fell below the floor {}%",
        known.floor
    );
}
