//! A go-ftw test-file reader and in-process stage runner.
//! Shared by several test binaries; each uses a part of it.
#![allow(dead_code)]
use base64::Engine as _;
use palisade_inspect::{ConnInfo, RequestHead, RuleSet};
use serde_yaml::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// (rule id, test id) -> reason, from an upstream-format overrides file.
pub fn load_overrides(path: &Path) -> HashMap<(u64, u64), String> {
    let v: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = HashMap::new();
    for o in v["test_overrides"].as_sequence().into_iter().flatten() {
        if !o["output"].is_null() {
            continue; // scored against its own output: see `load_output_overrides`
        }
        let rule = o["rule_id"].as_u64().expect("override without rule_id");
        let reason = o["reason"]
            .as_str()
            .expect("override without reason")
            .trim()
            .to_string();
        for t in o["test_ids"]
            .as_sequence()
            .expect("override without test_ids")
        {
            out.insert((rule, t.as_u64().unwrap()), reason.clone());
        }
    }
    out
}

/// (rule id, test id) -> (reason, output), for the overrides that replace a
/// case's expected output rather than leave it unscored (go-ftw's semantics).
pub fn load_output_overrides(path: &Path) -> HashMap<(u64, u64), (String, Value)> {
    let v: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = HashMap::new();
    for o in v["test_overrides"].as_sequence().into_iter().flatten() {
        if o["output"].is_null() {
            continue;
        }
        let rule = o["rule_id"].as_u64().expect("override without rule_id");
        let reason = o["reason"].as_str().expect("override without reason");
        for t in o["test_ids"]
            .as_sequence()
            .expect("override without test_ids")
        {
            out.insert(
                (rule, t.as_u64().unwrap()),
                (reason.trim().to_string(), o["output"].clone()),
            );
        }
    }
    out
}

pub struct Stage {
    input: Value,
    output: Value,
}

pub struct Case {
    pub rule_id: u64,
    pub test_id: u64,
    stages: Vec<Stage>,
}

pub fn parse_file(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap();
    let v: Value =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rule_id = v["rule_id"].as_u64().unwrap_or(0);
    let mut out = Vec::new();
    for t in v["tests"].as_sequence().into_iter().flatten() {
        let stages = t["stages"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|s| {
                // Older files nest the stage under `stage:`.
                let s = if s.get("stage").is_some() {
                    &s["stage"]
                } else {
                    s
                };
                Stage {
                    input: s["input"].clone(),
                    output: s["output"].clone(),
                }
            })
            .collect();
        out.push(Case {
            rule_id,
            test_id: t["test_id"].as_u64().unwrap_or(0),
            stages,
        });
    }
    out
}

fn ids(v: &Value) -> Vec<u32> {
    match v {
        Value::Sequence(s) => s
            .iter()
            .filter_map(Value::as_u64)
            .map(|n| n as u32)
            .collect(),
        Value::Number(n) => n.as_u64().map(|n| vec![n as u32]).unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Case {
    /// Expects `output` from every stage instead of what the test file says.
    pub fn override_output(&mut self, output: &Value) {
        for s in &mut self.stages {
            s.output = output.clone();
        }
    }

    /// Why this case cannot be scored without a live web server, if so.
    pub fn unscorable(&self) -> Option<String> {
        for s in &self.stages {
            let o = &s.output;
            if o["expect_error"].as_bool() == Some(true) {
                return Some(
                    "expects the web server to reject the request (connection error)".into(),
                );
            }
            let log = &o["log"];
            let has_log = !ids(&log["expect_ids"]).is_empty()
                || !ids(&log["no_expect_ids"]).is_empty()
                || log["match_regex"].is_string()
                || log["no_match_regex"].is_string()
                || o["log_contains"].is_string()
                || o["no_log_contains"].is_string();
            if !has_log {
                return Some(format!(
                    "checks only the web server's answer ({}), not the rule engine's log",
                    if o["status"].is_null() {
                        "response body".to_string()
                    } else {
                        format!("status {:?}", o["status"])
                    }
                ));
            }
        }
        None
    }

    /// The synthesized log of every stage, for FTW_ONLY debugging.
    pub fn debug_log(&self, rs: &Arc<RuleSet>) -> String {
        let mut out = String::new();
        for s in &self.stages {
            if let Ok(req) = build_request(&s.input) {
                out.push_str(&format!(
                    "{:?}\nbody: {:?}\n",
                    req.head,
                    String::from_utf8_lossy(&req.body)
                ));
            }
            if let Ok(log) = run_stage(rs, &s.input) {
                out.push_str(&log.lines.join("\n"));
            }
        }
        out
    }

    /// Every stage's request as the suite builds it (stages that do not build are left out).
    pub fn requests(&self) -> Vec<(RequestHead, Vec<u8>)> {
        self.stages
            .iter()
            .filter_map(|s| build_request(&s.input).ok())
            .map(|r| (r.head, r.body))
            .collect()
    }

    pub fn run(&self, rs: &Arc<RuleSet>) -> Result<(), String> {
        for (n, s) in self.stages.iter().enumerate() {
            let log = run_stage(rs, &s.input).map_err(|e| format!("stage {n}: {e}"))?;
            check(&s.output, &log).map_err(|e| format!("stage {n}: {e}"))?;
        }
        Ok(())
    }
}

struct Log {
    ids: BTreeSet<u32>,
    lines: Vec<String>,
}

fn check(o: &Value, log: &Log) -> Result<(), String> {
    let l = &o["log"];
    let missing: Vec<u32> = ids(&l["expect_ids"])
        .into_iter()
        .filter(|i| !log.ids.contains(i))
        .collect();
    let unwanted: Vec<u32> = ids(&l["no_expect_ids"])
        .into_iter()
        .filter(|i| log.ids.contains(i))
        .collect();
    let mut errs = Vec::new();
    if !missing.is_empty() {
        errs.push(format!("expected {missing:?}"));
    }
    if !unwanted.is_empty() {
        errs.push(format!("unexpected {unwanted:?}"));
    }
    let all = log.lines.join("\n");
    for (key, want) in [
        ("match_regex", true),
        ("no_match_regex", false),
        ("log_contains", true),
        ("no_log_contains", false),
    ] {
        let pat = if key.contains("log_contains") {
            &o[key]
        } else {
            &l[key]
        };
        if let Some(p) = pat.as_str() {
            let re = regex::Regex::new(p).map_err(|e| format!("bad {key} {p:?}: {e}"))?;
            if re.is_match(&all) != want {
                errs.push(format!(
                    "{key} {p:?} {}",
                    if want { "not found" } else { "found" }
                ));
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("{} (matched {:?})", errs.join(", "), log.ids))
    }
}

struct Request {
    head: RequestHead,
    body: Vec<u8>,
}

fn build_request(input: &Value) -> Result<Request, String> {
    if let Some(enc) = input["encoded_request"].as_str() {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(enc.split_whitespace().collect::<String>())
            .map_err(|e| format!("encoded_request: {e}"))?;
        return Ok(parse_raw(&raw));
    }
    let method = text(&input["method"]).unwrap_or_else(|| "GET".into());
    let uri = text(&input["uri"]).unwrap_or_else(|| "/".into());
    let protocol = text(&input["version"]).unwrap_or_else(|| "HTTP/1.1".into());
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(m) = input["headers"].as_mapping() {
        for (k, v) in m {
            headers.push((
                text(k).unwrap_or_default(),
                text(v).unwrap_or_default().into_bytes(),
            ));
        }
    }
    let body = text(&input["data"]).unwrap_or_default().into_bytes();
    let auto = input["autocomplete_headers"].as_bool().unwrap_or(true);
    let has = |h: &[(String, Vec<u8>)], n: &str| h.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if auto && !body.is_empty() {
        if !has(&headers, "Content-Length") {
            headers.push(("Content-Length".into(), body.len().to_string().into_bytes()));
        }
        if !has(&headers, "Content-Type") {
            headers.push((
                "Content-Type".into(),
                b"application/x-www-form-urlencoded".to_vec(),
            ));
        }
    }
    if auto && !has(&headers, "Connection") {
        headers.push(("Connection".into(), b"close".to_vec()));
    }
    Ok(Request {
        head: RequestHead {
            method,
            uri,
            protocol,
            headers,
        },
        body,
    })
}

fn parse_raw(raw: &[u8]) -> Request {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, p + 4))
        .or_else(|| {
            raw.windows(2)
                .position(|w| w == b"\n\n")
                .map(|p| (p, p + 2))
        })
        .unwrap_or((raw.len(), raw.len()));
    let head = String::from_utf8_lossy(&raw[..split.0]).into_owned();
    let mut lines = head.lines();
    let line = lines.next().unwrap_or_default();
    let mut parts = line.splitn(3, ' ');
    let method = parts.next().unwrap_or_default().to_string();
    let uri = parts.next().unwrap_or_default().to_string();
    let protocol = parts.next().unwrap_or("HTTP/1.1").trim().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().as_bytes().to_vec()))
        .collect();
    Request {
        head: RequestHead {
            method,
            uri,
            protocol,
            headers,
        },
        body: raw[split.1..].to_vec(),
    }
}

/// The suite's backend: `/reflect` answers with the status, headers and body the
/// request's JSON names; everything else is a plain 200.
type Response = (u16, Vec<(String, Vec<u8>)>, Vec<u8>);

fn backend(req: &Request) -> Response {
    let path = req.head.uri.split('?').next().unwrap_or("");
    if path == "/reflect"
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&req.body)
    {
        {
            let status = v["status"].as_u64().unwrap_or(200) as u16;
            let mut headers: Vec<(String, Vec<u8>)> = v["headers"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str().unwrap_or_default().as_bytes().to_vec(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let body = match (v["body"].as_str(), v["encodedBody"].as_str()) {
                (Some(b), _) => b.as_bytes().to_vec(),
                (None, Some(e)) => base64::engine::general_purpose::STANDARD
                    .decode(e)
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("Content-Type".into(), b"text/plain".to_vec()));
            }
            return (status, headers, body);
        }
    }
    (
        200,
        vec![("Content-Type".into(), b"text/html".to_vec())],
        b"<html><body>ok</body></html>".to_vec(),
    )
}

fn run_stage(rs: &Arc<RuleSet>, input: &Value) -> Result<Log, String> {
    let req = build_request(input)?;
    let mut tx = rs.transaction(ConnInfo {
        client_ip: "127.0.0.1".into(),
        client_port: 40000,
        server_ip: "127.0.0.1".into(),
        server_port: 80,
        unique_id: "ftw".into(),
    });
    let _ = tx.process_request_headers(&req.head);
    let _ = tx.process_request_body(&req.body);
    let (status, headers, body) = backend(&req);
    let _ = tx.process_response_headers(status, "HTTP/1.1", &headers);
    let _ = tx.process_response_body(&body);
    tx.process_logging();
    let m = tx.matched_rules();
    Ok(Log {
        ids: m.iter().map(|r| r.id).collect(),
        lines: m
            .iter()
            .map(|r| {
                format!(
                    "[id \"{}\"] [msg \"{}\"] [data \"{}\"]",
                    r.id,
                    r.msg,
                    r.data.escape_debug()
                )
            })
            .collect(),
    })
}
