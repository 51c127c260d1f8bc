//! The go-ftw test format (CRS regression suite, `*.yaml` and `*.yml`) for replay over
//! real sockets: requests are built byte for byte as go-ftw builds them, and stage
//! outputs are scored as go-ftw scores them, against the log lines between two markers.
//!
//! What go-ftw does, and this module does the same:
//! - `encoded_request` (base64) is sent as is; nothing is added.
//! - Otherwise the request line is `METHOD URI VERSION` (defaults `GET`, `/`, `HTTP/1.1`),
//!   the `headers` map is written sorted by name (byte order), then with
//!   `autocomplete_headers` (default true): a body gets `Content-Type:
//!   application/x-www-form-urlencoded` when it has none; a form body whose
//!   percent-decoding changes nothing is encoded pair by pair (`url.QueryEscape`); a
//!   `multipart/form-data;` body has every LF replaced by CRLF (even without
//!   autocompletion); `Connection: close` is added when absent; `Content-Length` is added
//!   when absent and there is a body or the method matches `^POST|PUT|PATCH|DELETE$`.
//! - `data` is a Go template: the suite uses only `{{ "x" | repeat N }}`, which is
//!   expanded; any other template is an error, never sent half-expanded.
//! - A stage is bracketed by two marker requests (`GET /status/200` with the header
//!   [`MARKER_HEADER`] carrying a per-stage UUID); the WAF logs the marker, and the stage's
//!   log is what lies between the two marker lines.
//! - Output checks: `status`, `response_contains`, `expect_error`, `log.expect_ids`,
//!   `log.no_expect_ids`, `log.match_regex`, `log.no_match_regex` (and the older
//!   `log_contains` / `no_log_contains`); `retry_once` runs a failing stage once more.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_yaml::Value;

/// The header go-ftw's marker requests carry (`logmarkerheadername`, its default).
pub const MARKER_HEADER: &str = "X-CRS-Test";

/// One test of a go-ftw file: `rule_id`-`test_id` (go-ftw's test title).
pub struct FtwCase {
    pub file: PathBuf,
    pub rule_id: u64,
    pub test_id: u64,
    pub stages: Vec<FtwStage>,
}

/// One stage: the request to send and what to expect.
pub struct FtwStage {
    pub input: Value,
    pub output: Value,
}

impl FtwCase {
    /// go-ftw's title for the case, `920100-4`.
    pub fn title(&self) -> String {
        format!("{}-{}", self.rule_id, self.test_id)
    }
}

/// Every `*.yaml` and `*.yml` under `dir`, sorted.
pub fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display()));
        for e in entries {
            let p = e.expect("directory entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The cases of one file; files with `meta.enabled: false` have none (go-ftw skips them).
pub fn parse_file(path: &Path) -> Vec<FtwCase> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let v: Value =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if v["meta"]["enabled"].as_bool() == Some(false) {
        return Vec::new();
    }
    let rule_id = v["rule_id"].as_u64().unwrap_or(0);
    let mut out = Vec::new();
    for t in v["tests"].as_sequence().into_iter().flatten() {
        let stages = t["stages"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|s| {
                // Files of the older schema nest the stage under `stage:`.
                let s = if s.get("stage").is_some() {
                    &s["stage"]
                } else {
                    s
                };
                FtwStage {
                    input: s["input"].clone(),
                    output: s["output"].clone(),
                }
            })
            .collect();
        out.push(FtwCase {
            file: path.to_path_buf(),
            rule_id,
            test_id: t["test_id"].as_u64().unwrap_or(0),
            stages,
        });
    }
    out
}

/// Every case of the suite under `dir`.
pub fn load_suite(dir: &Path) -> Vec<FtwCase> {
    test_files(dir).iter().flat_map(|f| parse_file(f)).collect()
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn ids(v: &Value) -> Vec<u32> {
    match v {
        Value::Sequence(s) => s
            .iter()
            .filter_map(Value::as_u64)
            .filter_map(|n| u32::try_from(n).ok())
            .collect(),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(|n| vec![n])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

// === requests ===

/// The bytes go-ftw puts on the wire for a stage's input.
pub fn build_request(input: &Value) -> Result<Vec<u8>, String> {
    if let Some(enc) = input["encoded_request"].as_str() {
        return base64::engine::general_purpose::STANDARD
            .decode(enc.split_whitespace().collect::<String>())
            .map_err(|e| format!("encoded_request is not base64: {e}"));
    }
    if let Some(raw) = input["raw_request"].as_str() {
        return Ok(raw.as_bytes().to_vec());
    }
    let method = text(&input["method"]).unwrap_or_else(|| "GET".into());
    let uri = text(&input["uri"]).unwrap_or_else(|| "/".into());
    let version = text(&input["version"]).unwrap_or_else(|| "HTTP/1.1".into());
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(m) = input["headers"].as_mapping() {
        for (k, v) in m {
            headers.push((text(k).unwrap_or_default(), text(v).unwrap_or_default()));
        }
    }
    // go-ftw builds its header list from the YAML map sorted by name.
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let mut data = match (text(&input["data"]), input["encoded_data"].as_str()) {
        (Some(d), _) => expand_template(&d)?.into_bytes(),
        (None, Some(e)) => base64::engine::general_purpose::STANDARD
            .decode(e)
            .map_err(|e| format!("encoded_data is not base64: {e}"))?,
        (None, None) => Vec::new(),
    };
    let auto = input["autocomplete_headers"].as_bool().unwrap_or(true)
        && input["stop_magic"].as_bool() != Some(true);
    let has = |h: &[(String, String)], n: &str| h.iter().any(|(k, _)| canonical_eq(k, n));
    if !data.is_empty() && auto {
        if !has(&headers, "Content-Type") {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        let form = headers.iter().any(|(k, v)| {
            canonical_eq(k, "Content-Type")
                && v.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
        if form {
            data = encode_form(&data);
        }
    }
    let multipart = headers.iter().any(|(k, v)| {
        canonical_eq(k, "Content-Type") && v.to_lowercase().contains("multipart/form-data;")
    });
    if multipart {
        let mut crlf = Vec::with_capacity(data.len() + data.len() / 16);
        for &b in &data {
            if b == b'\n' {
                crlf.push(b'\r');
            }
            crlf.push(b);
        }
        data = crlf;
    }
    if auto {
        if !has(&headers, "Connection") {
            headers.push(("Connection".into(), "close".into()));
        }
        // go-ftw's regex is `^POST|PUT|PATCH|DELETE$`, alternation binding loosest.
        let body_method = method.starts_with("POST")
            || method.contains("PUT")
            || method.contains("PATCH")
            || method.ends_with("DELETE");
        if !has(&headers, "Content-Length") && (!data.is_empty() || body_method) {
            headers.push(("Content-Length".into(), data.len().to_string()));
        }
    }
    let mut out = format!("{method} {uri} {version}\r\n").into_bytes();
    for (k, v) in &headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&data);
    Ok(out)
}

/// A marker request as go-ftw sends it (its headers sorted, then autocompleted).
pub fn marker_request(stage_id: &str) -> Vec<u8> {
    format!(
        "GET /status/200 HTTP/1.1\r\nAccept: */*\r\nHost: localhost\r\nUser-Agent: go-ftw test agent\r\n{MARKER_HEADER}: {stage_id}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// Go's `textproto.CanonicalMIMEHeaderKey` comparison, which is case-insensitive for
/// valid header names.
fn canonical_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `{{ "x" | repeat N }}` expanded; text without `{{` unchanged.
fn expand_template(data: &str) -> Result<String, String> {
    let re = regex::Regex::new(r#"^"((?:[^"\\]|\\.)*)"\s*\|\s*repeat\s+(\d+)$"#)
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    let mut rest = data;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("unterminated template in data: {rest:?}"))?;
        let inner = rest[start + 2..start + end].trim();

        let caps = re.captures(inner).ok_or_else(|| {
            format!("data template {inner:?} is not supported (only {{{{ \"x\" | repeat N }}}})")
        })?;
        let n: usize = caps[2].parse().map_err(|e| format!("repeat count: {e}"))?;
        out.push_str(&caps[1].repeat(n));
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// go-ftw's `encodeDataParameters`: a body whose percent-decoding changes nothing is
/// encoded pair by pair with Go's `url.QueryEscape`; an already-encoded body is kept.
fn encode_form(data: &[u8]) -> Vec<u8> {
    match query_unescape(data) {
        Some(u) if u == data => {}
        _ => return data.to_vec(),
    }
    let mut out = Vec::with_capacity(data.len() * 2);
    for (i, token) in data.split(|&b| b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        match token.iter().position(|&b| b == b'=') {
            Some(eq) => {
                query_escape(&token[..eq], &mut out);
                out.push(b'=');
                query_escape(&token[eq + 1..], &mut out);
            }
            None => query_escape(token, &mut out),
        }
    }
    out
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte; `None` on a bad escape.
fn query_unescape(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'%' => {
                let hex = data.get(i + 1..i + 3)?;
                let s = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(s, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX`.
fn query_escape(data: &[u8], out: &mut Vec<u8>) {
    for &b in data {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b),
            b' ' => out.push(b'+'),
            _ => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
        }
    }
}

// === outputs ===

/// What one stage produced: the response (or the transport error) and the WAF's log
/// lines between the markers, as ModSecurity error-log style lines
/// (`[id "942100"] [msg "..."] [data "..."]`).
pub struct StageResult {
    pub response: Result<Vec<u8>, String>,
    pub log_lines: Vec<String>,
}

impl StageResult {
    /// Rule ids in the log, found as go-ftw finds them (`[id "N"]` or `"id": N`).
    pub fn rule_ids(&self) -> BTreeSet<u32> {
        let re = regex::Regex::new(r#"\[id "(\d+)"\]|"id":\s*"?(\d+)"?"#).expect("static regex");
        let mut out = BTreeSet::new();
        for line in &self.log_lines {
            for c in re.captures_iter(line) {
                if let Some(n) = c.get(1).or_else(|| c.get(2))
                    && let Ok(n) = n.as_str().parse()
                {
                    out.insert(n);
                }
            }
        }
        out
    }

    fn status(&self) -> Option<u16> {
        let r = self.response.as_ref().ok()?;
        let line = r.split(|&b| b == b'\n').next()?;
        let line = String::from_utf8_lossy(line);
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

/// Scores `result` against a stage's `output` as go-ftw does; `Err` says why it failed.
pub fn check(output: &Value, result: &StageResult) -> Result<(), String> {
    let expect_error = output["expect_error"].as_bool().unwrap_or(false);
    if let Err(e) = &result.response {
        if expect_error {
            return Ok(());
        }
        return Err(format!("request failed: {e}"));
    }
    if expect_error {
        return Err(format!(
            "expected a connection error, got status {:?}",
            result.status()
        ));
    }
    let mut errs = Vec::new();
    let want_status: Vec<u16> = match &output["status"] {
        Value::Number(n) => n.as_u64().map(|n| vec![n as u16]).unwrap_or_default(),
        Value::Sequence(s) => s
            .iter()
            .filter_map(Value::as_u64)
            .map(|n| n as u16)
            .collect(),
        _ => Vec::new(),
    };
    if !want_status.is_empty() && !result.status().is_some_and(|s| want_status.contains(&s)) {
        errs.push(format!(
            "status {:?}, expected {want_status:?}",
            result.status()
        ));
    }
    if let Some(want) = output["response_contains"].as_str() {
        let body = String::from_utf8_lossy(result.response.as_deref().unwrap_or_default());
        if !body.contains(want) {
            errs.push(format!("response does not contain {want:?}"));
        }
    }
    let log = &output["log"];
    let found = result.rule_ids();
    let missing: Vec<u32> = ids(&log["expect_ids"])
        .into_iter()
        .filter(|i| !found.contains(i))
        .collect();
    let unwanted: Vec<u32> = ids(&log["no_expect_ids"])
        .into_iter()
        .filter(|i| found.contains(i))
        .collect();
    if !missing.is_empty() {
        errs.push(format!("expected ids {missing:?} missing"));
    }
    if !unwanted.is_empty() {
        errs.push(format!("unexpected ids {unwanted:?}"));
    }
    for (pat, want) in [
        (&log["match_regex"], true),
        (&log["no_match_regex"], false),
        (&output["log_contains"], true),
        (&output["no_log_contains"], false),
    ] {
        let Some(p) = pat.as_str() else { continue };
        let re = regex::Regex::new(p).map_err(|e| format!("bad regex {p:?}: {e}"))?;
        let hit = result.log_lines.iter().any(|l| re.is_match(l));
        if hit != want {
            errs.push(format!(
                "regex {p:?} {}",
                if want { "not found" } else { "found" }
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("{} (log ids {found:?})", errs.join("; ")))
    }
}

/// Whether the stage asks go-ftw to run it once more when it fails.
pub fn retry_once(output: &Value) -> bool {
    output["retry_once"].as_bool().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(y: &str) -> Value {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn form_body_is_encoded_and_headers_completed_like_go_ftw() {
        let req = build_request(&input(
            "method: POST\nuri: /\nheaders:\n  User-Agent: a\n  Host: localhost\ndata: \"a=b c&d=<x>\"\n",
        ))
        .unwrap();
        assert_eq!(
            String::from_utf8(req).unwrap(),
            "POST / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: a\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\
             Content-Length: 15\r\n\r\na=b+c&d=%3Cx%3E"
        );
    }

    #[test]
    fn encoded_body_is_kept_and_multipart_gets_crlf() {
        let req = build_request(&input(
            "method: POST\nheaders:\n  Content-Type: \"multipart/form-data; boundary=x\"\ndata: \"--x\\nA: %41\\n--x--\\n\"\nautocomplete_headers: false\n",
        ))
        .unwrap();
        assert_eq!(
            String::from_utf8(req).unwrap(),
            "POST / HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=x\r\n\r\n--x\r\nA: %41\r\n--x--\r\n"
        );
    }

    #[test]
    fn repeat_template_expands() {
        assert_eq!(
            expand_template("a{{ \"1\" | repeat 3 }}b").unwrap(),
            "a111b"
        );
        assert!(expand_template("{{ now }}").is_err());
    }
}
