//! Loading the configured rule set into an [`Inspector`].
//!
//! This build links no SecLang engine yet: a configuration that names rule files is
//! rejected with an error saying so, rather than silently serving unprotected. The
//! SecLang engine plugs in by replacing the body of [`load`], roughly:
//!
//! ```text
//! let files = rule_files(cfg)?;                        // inspection.rules, expanded in order
//! let set = Arc::new(RuleSet::load(&LoadOptions { files, paranoia_level: cfg.paranoia_level, .. })?);
//! Ok(Some(Arc::new(CrsInspector(set))))                // impl Inspector: begin() = set.transaction(ConnInfo)
//! ```
//!
//! with `Transaction` implementing [`super::Inspection`] method for method (phase 1
//! `process_request_headers`, 2 `process_request_body`, 3 `process_response_headers`,
//! 4 `process_response_body`, 5 `process_logging`; `Intervention` becomes a
//! [`super::Verdict`]). [`load`] runs at start, for `--check-config` and on every reload,
//! always off the request path; an error keeps the previous rule set serving.

use std::sync::Arc;

use super::Inspector;
use crate::config::{ConfigError, Inspection, Mode};

/// Errors while loading rules; reloads keep the old rule set on any of them.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error(
        "inspection.rules lists {count} file(s) but this engine build has no SecLang rule engine linked in; remove inspection.rules or set inspection.mode: off"
    )]
    NoRuleEngine { count: usize },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Expand `inspection.rules` into files, in order; each entry must match a file.
pub fn rule_files(cfg: &Inspection) -> Result<Vec<std::path::PathBuf>, ConfigError> {
    let mut files = Vec::new();
    for pattern in &cfg.rules {
        let allowed = "a readable rule file or a glob matching at least one file";
        let paths = glob::glob(pattern)
            .map_err(|_| ConfigError::invalid("inspection.rules", pattern, allowed))?;
        let before = files.len();
        let mut matched: Vec<_> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        matched.sort();
        files.extend(matched);
        if files.len() == before {
            return Err(ConfigError::invalid("inspection.rules", pattern, allowed));
        }
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
    Err(RulesError::NoRuleEngine {
        count: cfg.rules.len(),
    })
}
