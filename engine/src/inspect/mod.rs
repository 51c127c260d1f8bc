//! The inspection hook: how a rule engine sees each request and answers.
//!
//! # Shape
//!
//! An [`Inspector`] is built once per configuration (at start and on every reload, off
//! the hot path) and shared by all requests as `Arc<dyn Inspector>`; a reload swaps the
//! whole [`crate::state::Snapshot`] atomically, so a request keeps the inspector it
//! started with. Per request the proxy calls [`Inspector::begin`] and drives the
//! returned [`Inspection`] through the phases of a ModSecurity transaction:
//!
//! | phase | call | when |
//! | --- | --- | --- |
//! | 1 | [`Inspection::request_headers`] | request head parsed, before the app is contacted |
//! | 2 | [`Inspection::request_body`] (or [`Inspection::request_body_chunk`] per piece as it arrives, then [`Inspection::request_body_end`], when [`Inspection::streams_request_body`]) | always after phase 1; with the whole body (held back until complete, at most `inspection.request_body_limit` bytes, or the no-files limit for non-multipart bodies; the first that many with `process_partial`) only if [`Inspection::wants_request_body`], else with `&[]` |
//! | 3 | [`Inspection::response_headers`] | app's response head, before anything is sent to the client |
//! | 4 | [`Inspection::response_body`] | only if [`Inspection::wants_response_body`]; body held back up to `inspection.response_body_limit` (beyond it, with `process_partial`, the first that many bytes) |
//! | 5 | [`Inspection::logging`] | after the response, before the access log line |
//!
//! Each phase may return a [`Verdict`]. What happens to it depends on
//! `inspection.mode`: `block` enforces it (phases 1-3: the client gets `status` and a
//! JSON body naming the request id and rule; phase 4: the connection is cut because the
//! head is already sent), `monitor` only logs and counts it, `off` never builds a rule
//! inspector. [`Inspection::matched_rule_ids`] feeds the access log (`rule_ids`) and
//! `palisade_blocked_requests_total{rule_id}`.
//!
//! # Configuration hook
//!
//! `inspection.rules` (files or globs, loaded in order), `inspection.paranoia_level`
//! (1-4) and `inspection.mode` reach the rule engine through [`rules::load`], which
//! builds a `palisade-inspect` `RuleSet` (the OWASP CRS and the user's rules) and wraps
//! it as an `Inspector`: `RuleSet::transaction` is `begin`, and each `Transaction`
//! method maps one-to-one onto an `Inspection` method. The built-in [`limits`] inspector always
//! runs first and always blocks, whatever the mode: its limits are protocol hygiene.

pub mod limits;
pub mod rules;

use std::net::IpAddr;

pub use limits::LimitsInspector;
pub use rules::validate_rules;

/// The connection a request arrived on.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    /// The request id (also sent upstream as `X-Request-Id`).
    pub unique_id: String,
}

/// A borrowed view of the request head.
#[derive(Debug)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// As received: path and query (absolute form when the client sent one).
    pub uri: &'a str,
    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2.0`.
    pub protocol: &'a str,
    /// Names lower-cased; values as received. Grouped by name (the order of `http::HeaderMap`),
    /// arrival order within a name.
    pub headers: Vec<(&'a str, &'a [u8])>,
}

/// What a disruptive verdict does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Answer with `status` and a JSON body.
    Deny,
    /// Close the connection without an answer.
    Drop,
    /// Answer with a redirect to the URL.
    Redirect(String),
}

/// A decision to interrupt the transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub status: u16,
    pub action: Action,
    /// The rule that decided (0 for the built-in limits).
    pub rule_id: u32,
    pub message: String,
    /// For built-in limits: the limit's config name, used as the metric label.
    pub limit: Option<&'static str>,
}

impl Verdict {
    /// The `rule_id` label of `palisade_blocked_requests_total`.
    pub fn label(&self) -> String {
        match self.limit {
            Some(name) => name.to_string(),
            None => self.rule_id.to_string(),
        }
    }
}

/// A loaded rule set, shared by all requests.
pub trait Inspector: Send + Sync {
    /// Short name for logs (`limits`, `crs`).
    fn name(&self) -> &str;
    /// Start inspecting one request.
    fn begin(&self, conn: &ConnInfo) -> Box<dyn Inspection>;
}

/// The per-request state of an [`Inspector`]. Default methods inspect nothing.
pub trait Inspection: Send {
    /// Phase 1.
    fn request_headers(&mut self, head: &RequestHead<'_>) -> Option<Verdict>;
    /// Whether phase 2 should see the request body.
    fn wants_request_body(&self) -> bool {
        false
    }
    /// Phase 2 with the whole body; `body` is empty when the body was not asked for or
    /// there is none. Not called for a body when [`Inspection::streams_request_body`].
    fn request_body(&mut self, _body: &[u8]) -> Option<Verdict> {
        None
    }
    /// Whether the body comes in pieces ([`Inspection::request_body_chunk`], then
    /// [`Inspection::request_body_end`]) instead of whole: the inspection keeps what it
    /// needs, and a verdict can come before the rest of the body has arrived.
    fn streams_request_body(&self) -> bool {
        false
    }
    /// The next piece of the body, in order (only within the inspection limit).
    fn request_body_chunk(&mut self, _chunk: &[u8]) -> Option<Verdict> {
        None
    }
    /// The body is complete (or the limit reached): phase 2 runs.
    fn request_body_end(&mut self) -> Option<Verdict> {
        None
    }
    /// Phase 3.
    fn response_headers(
        &mut self,
        _status: u16,
        _protocol: &str,
        _headers: &[(&str, &[u8])],
    ) -> Option<Verdict> {
        None
    }
    /// Whether phase 4 should see the response body.
    fn wants_response_body(&self) -> bool {
        false
    }
    /// Phase 4.
    fn response_body(&mut self, _body: &[u8]) -> Option<Verdict> {
        None
    }
    /// Phase 5.
    fn logging(&mut self) {}
    /// Every rule that matched so far, disruptive or not.
    fn matched_rule_ids(&self) -> Vec<u32> {
        Vec::new()
    }
    /// Every rule that matched and asked to be logged (not `nolog`), with its expanded
    /// `msg` and `logdata`: the access log's `matches`, ModSecurity's error-log lines.
    fn matched_rules(&self) -> Vec<RuleMatch> {
        Vec::new()
    }
}

/// One matched rule as the access log shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RuleMatch {
    pub id: u32,
    pub msg: String,
    /// The rule's expanded `logdata`, cut at [`RuleMatch::MAX_DATA`] bytes: it quotes request data.
    pub data: String,
    /// The first variable that matched, with its key: `ARGS:comment`,
    /// `REQUEST_HEADERS:User-Agent`, `REQUEST_FILENAME` (what `palisade-engine tune` groups by).
    pub var: String,
    /// The matched value cut to [`RuleMatch::MAX_VALUE`] characters; credentials masked.
    pub value: String,
}

impl RuleMatch {
    /// ModSecurity also truncates logdata (at 512 bytes); request data beyond that is not logged.
    pub const MAX_DATA: usize = 512;
    /// Longest matched value written to the access log, in characters.
    pub const MAX_VALUE: usize = 100;
    /// What stands in for the value (and the logdata) of a credential-bearing variable.
    pub const MASKED: &str = "***";
}

/// Variables whose values are secrets: authorisation headers and cookies.
pub fn carries_credentials(var: &str) -> bool {
    let (class, key) = var.split_once(':').unwrap_or((var, ""));
    match class {
        "REQUEST_COOKIES" => true,
        "REQUEST_HEADERS" | "RESPONSE_HEADERS" => matches!(
            key.to_ascii_lowercase().as_str(),
            "authorization" | "proxy-authorization" | "cookie" | "set-cookie" | "x-api-key"
        ),
        _ => false,
    }
}
