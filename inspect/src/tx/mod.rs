//! One HTTP exchange evaluated against a [`RuleSet`], phase by phase.
mod effects;
mod eval;
mod prefilter;
mod reqbody;
mod request;
pub(crate) mod store;

use crate::parser::targets::Target;
use crate::rule::{BodyProcessor, RuleSelector};
use crate::ruleset::{EngineMode, RuleSet};
use std::collections::HashMap;
use std::sync::Arc;
use store::Store;

/// The connection a transaction arrives on.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub unique_id: String,
}

/// The request line and headers (phase 1 input).
#[derive(Debug, Clone, Default)]
pub struct RequestHead {
    pub method: String,
    /// The raw request target as sent (`/a%20b?x=1`, or absolute form).
    pub uri: String,
    /// `HTTP/1.1`.
    pub protocol: String,
    pub headers: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disruptive {
    Deny,
    Drop,
    Redirect(String),
}

/// What the host must do: answer `status` (or drop, or redirect) instead of proxying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intervention {
    pub status: u16,
    pub disruptive: Disruptive,
    pub rule_id: u32,
    pub message: String,
}

/// A rule that matched and logs (rules with `nolog` are not listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    pub id: u32,
    pub msg: String,
    pub severity: Option<crate::rule::Severity>,
    pub tags: Vec<String>,
    pub data: String,
    pub phase: u8,
    /// The first variable that matched, with its key (`ARGS:comment`), for exclusions.
    pub var: String,
    /// Its value as the operator saw it, cut to [`MATCHED_VALUE_MAX`] bytes.
    pub value: String,
}

/// Longest matched value kept per rule: enough to recognise it, never a whole body.
pub const MATCHED_VALUE_MAX: usize = 256;

/// Runtime target exclusion from `ctl:ruleRemoveTargetBy*`.
#[derive(Debug, Clone)]
struct TargetExclusion {
    rules: RuleSelector,
    target: Target,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    No,
    Request,
    All,
}

/// Per-transaction cache of transformation results, keyed by (chain id, hash of
/// the input); the input is kept to rule out hash collisions.
type TCache = HashMap<(u32, u64), (Box<[u8]>, Arc<Vec<u8>>), crate::fxhash::FxBuild>;

/// Per-transaction memo of libinjection verdicts (`@detectSQLi`, `@detectXSS`: pure
/// functions of the value), keyed by (XSS or not, hash of the value): the value, whether
/// it is an injection, and what the operator captures (the SQLi fingerprint).
type InjectionMemo =
    HashMap<(bool, u64), (Box<[u8]>, bool, crate::operators::Captures), crate::fxhash::FxBuild>;

pub struct Transaction {
    rs: Arc<RuleSet>,
    store: Store,
    mode: EngineMode,
    matched: Vec<MatchedRule>,
    cache: TCache,
    injection: InjectionMemo,
    removed: Vec<RuleSelector>,
    target_exclusions: Vec<TargetExclusion>,
    body_processor: Option<BodyProcessor>,
    request_body_access: bool,
    response_body_access: bool,
    force_body_variable: bool,
    interrupted: bool,
    allowed: Allowed,
    content_type: Vec<u8>,
    /// The request body processor's state while the body streams in.
    body: Option<reqbody::BodyState>,
    /// `request_body_end` already ran.
    body_done: bool,
    /// Bytes past `SecRequestBodyLimit` were ignored (not inspected).
    body_partial: bool,
    /// The query had this many arguments, more than `SecArgumentsLimit` (0: no).
    args_over_limit: usize,
    started: std::time::Instant,
    last_phase: u8,
    /// Which `@rx` links may match which request value (see `ruleset::prefilter`).
    pf: prefilter::State,
    /// Off only for the differential tests, which compare against evaluating every rule.
    use_prefilter: bool,
}

impl RuleSet {
    /// Starts a transaction; it holds its own `Arc` of the rule set.
    pub fn transaction(self: &Arc<Self>, conn: ConnInfo) -> Transaction {
        Transaction::new(self.clone(), conn)
    }
}

impl Transaction {
    fn new(rs: Arc<RuleSet>, conn: ConnInfo) -> Transaction {
        let mut store = Store::default();
        request::set_conn(&mut store, &conn);
        Transaction {
            mode: rs.config.mode,
            request_body_access: rs.config.request_body_access,
            response_body_access: rs.config.response_body_access,
            rs,
            store,
            matched: Vec::new(),
            cache: TCache::default(),
            injection: InjectionMemo::default(),
            removed: Vec::new(),
            target_exclusions: Vec::new(),
            body_processor: None,
            force_body_variable: false,
            interrupted: false,
            allowed: Allowed::No,
            content_type: Vec::new(),
            body: None,
            body_done: false,
            body_partial: false,
            args_over_limit: 0,
            started: std::time::Instant::now(),
            last_phase: 0,
            pf: prefilter::State::default(),
            use_prefilter: true,
        }
    }

    /// Phase 1: request line and headers.
    pub fn process_request_headers(&mut self, head: &RequestHead) -> Option<Intervention> {
        request::set_request(self, head);
        self.run_phase(1)
    }

    /// Whether the host should pass the request body (false when no rule can see it).
    pub fn wants_request_body(&self) -> bool {
        self.mode != EngineMode::Off && !self.interrupted && self.request_body_access
    }

    /// Phase 2 with the whole request body in one slice (call it even for an
    /// empty body): [`Transaction::request_body_chunk`] then
    /// [`Transaction::request_body_end`].
    pub fn process_request_body(&mut self, body: &[u8]) -> Option<Intervention> {
        if let Some(i) = self.request_body_chunk(body) {
            return Some(i);
        }
        self.request_body_end()
    }

    /// Streams the request body in: call it for each piece, in order, then
    /// [`Transaction::request_body_end`] once (also for an empty body).
    ///
    /// Memory stays bounded whatever the body's size: multipart file contents are
    /// only counted (for `FILES_SIZES` / `FILES_COMBINED_SIZE`), never kept;
    /// multipart form fields and URL-encoded, JSON and XML bodies are kept up to
    /// `SecRequestBodyNoFilesLimit` (past it the body is a `REQBODY_ERROR`, as in
    /// ModSecurity); a body no processor parses is kept up to `SecRequestBodyLimit`
    /// for `REQUEST_BODY`. Returns an intervention (413) only when the body passes
    /// `SecRequestBodyLimit` with `SecRequestBodyLimitAction Reject` in blocking
    /// mode; the host should then stop sending and answer it (further chunks and
    /// `request_body_end` return `None`). With `ProcessPartial` the bytes past the
    /// limit are ignored. Rules run only at `request_body_end`.
    pub fn request_body_chunk(&mut self, chunk: &[u8]) -> Option<Intervention> {
        if self.body_done {
            return None;
        }
        reqbody::chunk(self, chunk)
    }

    /// Ends the request body: the body processor finishes (`ARGS_POST`, `FILES*`,
    /// `XML`, `REQBODY_ERROR`, `MULTIPART_*` are set) and phase 2 runs. Returns
    /// the intervention a rule asked for, if any. Calling it again does nothing.
    pub fn request_body_end(&mut self) -> Option<Intervention> {
        if self.body_done || self.mode == EngineMode::Off || self.interrupted {
            return None;
        }
        self.body_done = true;
        if self.request_body_access {
            reqbody::finish(self);
        }
        self.run_phase(2)
    }

    /// Whether bytes of the request body past `SecRequestBodyLimit` were left
    /// uninspected (`SecRequestBodyLimitAction ProcessPartial`, or `Reject` in
    /// detection-only mode): the host should say so in its log.
    pub fn request_body_partially_inspected(&self) -> bool {
        self.body_partial
    }

    /// Phase 3: response status line and headers.
    pub fn process_response_headers(
        &mut self,
        status: u16,
        protocol: &str,
        headers: &[(String, Vec<u8>)],
    ) -> Option<Intervention> {
        request::set_response_head(&mut self.store, status, protocol, headers);
        self.run_phase(3)
    }

    /// Whether the host should pass the response body (body access on and a MIME type listed).
    pub fn wants_response_body(&self) -> bool {
        if self.mode == EngineMode::Off || self.interrupted || !self.response_body_access {
            return false;
        }
        let ct = self
            .store
            .scalar(crate::vars::Var::ResponseContentType)
            .unwrap_or(b"");
        let ct = String::from_utf8_lossy(ct).to_ascii_lowercase();
        let mime = ct.split(';').next().unwrap_or("").trim().to_string();
        self.rs.config.response_mime_types.contains(&mime)
    }

    /// Phase 4: the response body.
    pub fn process_response_body(&mut self, body: &[u8]) -> Option<Intervention> {
        if self.wants_response_body() {
            let limit = self.rs.config.response_body_limit.min(body.len());
            self.store
                .set(crate::vars::Var::ResponseBody, &body[..limit]);
        }
        self.run_phase(4)
    }

    /// Phase 5: logging rules (they cannot intervene).
    pub fn process_logging(&mut self) {
        let _ = self.run_phase(5);
    }

    /// Every rule that matched so far and logs, in evaluation order.
    pub fn matched_rules(&self) -> &[MatchedRule] {
        &self.matched
    }

    /// The engine mode in force (a rule's `ctl:ruleEngine` may have changed it).
    pub fn mode(&self) -> EngineMode {
        self.mode
    }

    /// A `TX` variable's current value, for logs and tests (`anomaly_score`, ...).
    pub fn tx_var(&self, name: &str) -> Option<&[u8]> {
        self.store
            .tx
            .get(&name.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}
