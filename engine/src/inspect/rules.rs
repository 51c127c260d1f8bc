//! Loading the configured SecLang rule set (the OWASP CRS and the user's own rules) into
//! an [`Inspector`] backed by the `palisade-inspect` crate.
//!
//! [`load`] runs at start, for `--check-config` and on every reload, always off the
//! request path; an error keeps the previous rule set serving. The rule engine always
//! runs with `SecRuleEngine On`: whether a verdict is enforced or only logged is decided
//! by `inspection.mode` in the proxy, so `monitor` still reports what would have been
//! blocked. `inspection.paranoia_level` reaches CRS as `tx.blocking_paranoia_level`
//! through a generated `SecAction` (ids 5,060,000-5,060,999 are reserved for it).

use std::sync::Arc;

use palisade_inspect::{Disruptive, EngineMode, Intervention, LoadOptions, RuleSet, Transaction};

use super::{Action, ConnInfo, Inspection as Phases, Inspector, RequestHead, RuleMatch, Verdict};
use crate::config::{BodyLimitAction, ConfigError, Inspection, Mode};

/// Errors while loading rules; reloads keep the old rule set on any of them.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("inspection.paranoia_level: {0}")]
    Settings(#[from] palisade_inspect::CrsError),
    #[error("inspection.rules: {0}")]
    Load(#[from] palisade_inspect::LoadError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

// === impl RulesError ===

impl RulesError {
    /// The rule file and line a load error points at, for operators and log filters.
    pub fn location(&self) -> Option<(&str, usize)> {
        match self {
            RulesError::Load(
                palisade_inspect::LoadError::Syntax { file, line, .. }
                | palisade_inspect::LoadError::EmptyInclude { file, line, .. },
            ) => Some((file.as_str(), *line)),
            _ => None,
        }
    }
}

/// The files one `inspection.rules` entry names, sorted. Paths are kept as the pattern
/// names them: a Kubernetes ConfigMap key is `DIR/KEY` (a symlink through `..data`), so
/// errors name the key the user wrote, not kubelet's timestamped directory.
pub fn matching_files(pattern: &str) -> Result<Vec<std::path::PathBuf>, glob::PatternError> {
    let mut matched: Vec<_> = glob::glob(pattern)?
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    matched.sort();
    Ok(matched)
}

/// Expand `inspection.rules` into files, in order; each entry must match a file.
pub fn rule_files(cfg: &Inspection) -> Result<Vec<std::path::PathBuf>, ConfigError> {
    let mut files = Vec::new();
    for pattern in &cfg.rules {
        let allowed = "a readable rule file or a glob matching at least one file";
        let matched = matching_files(pattern)
            .map_err(|_| ConfigError::invalid("inspection.rules", pattern, allowed))?;
        if matched.is_empty() {
            return Err(ConfigError::invalid("inspection.rules", pattern, allowed));
        }
        files.extend(matched);
    }
    Ok(files)
}

/// Config-time check of the rule list (called by config validation).
pub fn validate_rules(cfg: &Inspection) -> Result<(), ConfigError> {
    rule_files(cfg).map(|_| ())
}

/// Build the rule inspector for `cfg`; `None` when there is nothing to run.
pub fn load(cfg: &Inspection) -> Result<Option<Arc<dyn Inspector>>, RulesError> {
    if cfg.mode == Mode::Off || cfg.rules.is_empty() {
        return Ok(None);
    }
    let mut prelude = palisade_inspect::settings_prelude(EngineMode::On, cfg.paranoia_level, None)?;
    prelude.push_str(&body_limits(cfg));
    let options = LoadOptions {
        prelude,
        files: rule_files(cfg)?,
        ..LoadOptions::default()
    };
    let rules = Arc::new(RuleSet::load(&options)?);
    // Files that exist but hold no rule (comments only, an empty glob target) disarm
    // the engine as surely as no files.
    if !cfg.allow_no_rules && rules.rule_count() <= prelude_rule_count(&options)? {
        return Err(crate::config::no_rules(cfg.mode).into());
    }
    tracing::info!(
        rules = rules.rule_count(),
        paranoia_level = cfg.paranoia_level,
        "rules loaded"
    );
    Ok(Some(Arc::new(SecLangInspector { rules })))
}

/// How many rules the generated prelude alone holds.
fn prelude_rule_count(options: &LoadOptions) -> Result<usize, RulesError> {
    let prelude_only = LoadOptions {
        prelude: options.prelude.clone(),
        ..LoadOptions::default()
    };
    Ok(RuleSet::load(&prelude_only)?.rule_count())
}

/// The engine's body limits as the rule engine's directives, so the rule engine (which
/// sees multipart parts, and so enforces the no-files limit on them) uses the same
/// numbers. Rule files loaded after the prelude may still lower them.
fn body_limits(cfg: &Inspection) -> String {
    let action = |a| match a {
        BodyLimitAction::Reject => "Reject",
        BodyLimitAction::ProcessPartial => "ProcessPartial",
    };
    format!(
        "SecRequestBodyLimit {}\nSecRequestBodyNoFilesLimit {}\nSecRequestBodyLimitAction {}\nSecResponseBodyLimit {}\nSecResponseBodyLimitAction {}\n",
        cfg.request_body_limit,
        cfg.request_body_no_files_limit,
        action(cfg.request_body_limit_action),
        cfg.response_body_limit,
        action(cfg.response_body_limit_action),
    )
}

/// The loaded rule set; one [`Transaction`] per request.
struct SecLangInspector {
    rules: Arc<RuleSet>,
}

// === impl SecLangInspector ===

impl Inspector for SecLangInspector {
    fn name(&self) -> &str {
        "seclang"
    }

    fn begin(&self, conn: &ConnInfo) -> Box<dyn Phases> {
        Box::new(SecLangInspection(self.rules.transaction(
            palisade_inspect::ConnInfo {
                client_ip: conn.client_ip.to_string(),
                client_port: conn.client_port,
                server_ip: conn.server_ip.to_string(),
                server_port: conn.server_port,
                unique_id: conn.unique_id.clone(),
            },
        )))
    }
}

struct SecLangInspection(Transaction);

// === impl SecLangInspection ===

impl Phases for SecLangInspection {
    fn request_headers(&mut self, head: &RequestHead<'_>) -> Option<Verdict> {
        let head = palisade_inspect::RequestHead {
            method: head.method.to_string(),
            uri: head.uri.to_string(),
            protocol: head.protocol.to_string(),
            headers: owned_headers(&head.headers),
        };
        self.0.process_request_headers(&head).map(verdict)
    }

    fn wants_request_body(&self) -> bool {
        self.0.wants_request_body()
    }

    fn request_body(&mut self, body: &[u8]) -> Option<Verdict> {
        self.0.process_request_body(body).map(verdict)
    }

    fn streams_request_body(&self) -> bool {
        // Multipart file contents are counted, not kept; the no-files limit applies there.
        true
    }

    fn request_body_chunk(&mut self, chunk: &[u8]) -> Option<Verdict> {
        self.0.request_body_chunk(chunk).map(verdict)
    }

    fn request_body_end(&mut self) -> Option<Verdict> {
        self.0.request_body_end().map(verdict)
    }

    fn response_headers(
        &mut self,
        status: u16,
        protocol: &str,
        headers: &[(&str, &[u8])],
    ) -> Option<Verdict> {
        self.0
            .process_response_headers(status, protocol, &owned_headers(headers))
            .map(verdict)
    }

    fn wants_response_body(&self) -> bool {
        self.0.wants_response_body()
    }

    fn response_body(&mut self, body: &[u8]) -> Option<Verdict> {
        self.0.process_response_body(body).map(verdict)
    }

    fn logging(&mut self) {
        self.0.process_logging();
    }

    fn matched_rule_ids(&self) -> Vec<u32> {
        self.0.matched_rules().iter().map(|r| r.id).collect()
    }

    fn matched_rules(&self) -> Vec<RuleMatch> {
        self.0
            .matched_rules()
            .iter()
            .map(|r| {
                // Logdata quotes the matched value: masked with it.
                let secret = super::carries_credentials(&r.var);
                let masked = |s: String| {
                    if secret {
                        RuleMatch::MASKED.to_string()
                    } else {
                        s
                    }
                };
                RuleMatch {
                    id: r.id,
                    msg: r.msg.clone(),
                    data: masked(truncate(&r.data, RuleMatch::MAX_DATA).to_string()),
                    var: r.var.clone(),
                    value: masked(r.value.chars().take(RuleMatch::MAX_VALUE).collect()),
                }
            })
            .collect()
    }
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn owned_headers(headers: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(name, value)| ((*name).to_string(), value.to_vec()))
        .collect()
}

fn verdict(i: Intervention) -> Verdict {
    Verdict {
        status: i.status,
        action: match i.disruptive {
            Disruptive::Deny => Action::Deny,
            Disruptive::Drop => Action::Drop,
            Disruptive::Redirect(url) => Action::Redirect(url),
        },
        rule_id: i.rule_id,
        message: i.message,
        limit: None,
    }
}
