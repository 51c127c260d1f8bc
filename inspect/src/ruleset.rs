//! Loading a rule set: files (globs) in order, then inline rules.
mod directives;
mod load;
pub(crate) mod prefilter;

use crate::rule::{Rule, RuleAction};
use crate::transform::Transform;
use std::path::PathBuf;
use std::sync::Arc;

pub use load::LoadOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMode {
    On,
    DetectionOnly,
    Off,
}

impl EngineMode {
    pub fn parse(s: &str) -> Option<EngineMode> {
        match s.to_ascii_lowercase().as_str() {
            "on" => Some(EngineMode::On),
            "detectiononly" => Some(EngineMode::DetectionOnly),
            "off" => Some(EngineMode::Off),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimitAction {
    Reject,
    ProcessPartial,
}

/// What `SecDefaultAction` set for one phase.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub action: Option<RuleAction>,
    pub log: Option<bool>,
    pub status: Option<u16>,
    pub transforms: Vec<Transform>,
}

/// One entry of a phase's rule list.
#[derive(Debug, Clone)]
pub enum Entry {
    Rule(usize),
    /// `SecMarker`; markers belong to every phase so `skipAfter` works in each.
    Marker(Arc<str>),
}

#[derive(Debug)]
pub struct Config {
    pub mode: EngineMode,
    pub request_body_access: bool,
    pub response_body_access: bool,
    pub request_body_limit: usize,
    pub request_body_no_files_limit: usize,
    pub request_body_limit_action: BodyLimitAction,
    pub response_body_limit: usize,
    /// `SecArgumentsLimit`: most arguments (query and body together); more is a
    /// body error. 1000 by default, the value CRS and ModSecurity's recommended
    /// configuration use.
    pub arguments_limit: usize,
    /// `SecRequestBodyJsonDepthLimit`: deepest JSON nesting; deeper is a body error.
    pub request_body_json_depth_limit: usize,
    pub response_mime_types: Vec<String>,
    pub arg_separator: u8,
    pub component_signatures: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: EngineMode::On,
            request_body_access: false,
            response_body_access: false,
            request_body_limit: 13_107_200,
            request_body_no_files_limit: 1_048_576,
            request_body_limit_action: BodyLimitAction::Reject,
            response_body_limit: 524_288,
            arguments_limit: 1000,
            request_body_json_depth_limit: 512,
            response_mime_types: vec!["text/plain".into(), "text/html".into()],
            arg_separator: b'&',
            component_signatures: Vec::new(),
        }
    }
}

/// A loaded, immutable rule set; share it as `Arc<RuleSet>` across threads.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    /// Per phase (index 1..=5), rule indexes and markers in load order.
    pub(crate) phases: [Vec<Entry>; 6],
    /// Per phase, for each entry index, where `skipAfter` lands (computed at load).
    pub(crate) skip_targets: [Vec<usize>; 6],
    pub(crate) config: Config,
    /// Required literals of the `@rx` links, checked once per value for all rules.
    pub(crate) prefilter: prefilter::Prefilter,
}

impl RuleSet {
    /// Number of rules (chain starters) loaded.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    pub fn mode(&self) -> EngineMode {
        self.config.mode
    }

    /// Ids of every loaded rule, in load order.
    pub fn rule_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.rules.iter().map(|r| r.id)
    }

    /// `SecComponentSignature` values, for the engine's logs.
    pub fn component_signatures(&self) -> &[String] {
        &self.config.component_signatures
    }

    /// What the rule prefilter covers (see `docs/inspection.md`), for benchmarks.
    pub fn prefilter_summary(&self) -> String {
        self.prefilter.summary()
    }

    /// How many `@rx` patterns needed the PCRE2 fallback.
    pub fn pcre_fallback_count(&self) -> usize {
        fn count(r: &Rule) -> usize {
            let own = usize::from(
                matches!(&r.operator.kind, crate::operators::OpKind::Rx(rx) if !rx.is_fast()),
            );
            own + r.chain.as_deref().map_or(0, count)
        }
        self.rules.iter().map(count).sum()
    }
}

/// Base settings ModSecurity's recommended configuration provides and CRS expects:
/// body access, the XML and JSON body processors, and body-error checks. Prepend to
/// `extra_rules` or load before CRS when the user's configuration does not set them.
pub const RECOMMENDED_BASE_RULES: &str = r#"
SecRuleEngine On
SecRequestBodyAccess On
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain text/html text/xml
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecRequestBodyJsonDepthLimit 512
SecArgumentsLimit 1000
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" \
    "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" \
    "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" \
    "id:200006,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_ERROR "!@eq 0" \
    "id:200002,phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" \
    "id:200003,phase:2,t:none,log,deny,status:400,msg:'Multipart request body failed strict validation.'"
SecRule MULTIPART_UNMATCHED_BOUNDARY "@eq 1" \
    "id:200004,phase:2,t:none,log,deny,msg:'Multipart parser detected a possible unmatched boundary.'"
SecRule &ARGS "@ge 1000" \
    "id:200007,phase:2,t:none,log,deny,status:400,msg:'Failed to fully parse request body due to large argument count',severity:2"
"#;

pub(crate) fn base_dir_of(path: &std::path::Path) -> PathBuf {
    path.parent().map(PathBuf::from).unwrap_or_default()
}
