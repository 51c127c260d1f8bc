//! A compiled rule: targets, operator, transformations and actions.
use crate::macros::Macro;
use crate::operators::Operator;
use crate::parser::targets::Target;
use crate::transform::Transform;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Emergency = 0,
    Alert = 1,
    Critical = 2,
    Error = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_uppercase().as_str() {
            "0" | "EMERGENCY" => Severity::Emergency,
            "1" | "ALERT" => Severity::Alert,
            "2" | "CRITICAL" => Severity::Critical,
            "3" | "ERROR" => Severity::Error,
            "4" | "WARNING" => Severity::Warning,
            "5" | "NOTICE" => Severity::Notice,
            "6" | "INFO" => Severity::Info,
            "7" | "DEBUG" => Severity::Debug,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Emergency => "EMERGENCY",
            Severity::Alert => "ALERT",
            Severity::Critical => "CRITICAL",
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
            Severity::Notice => "NOTICE",
            Severity::Info => "INFO",
            Severity::Debug => "DEBUG",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowScope {
    /// `allow`: skip every remaining rule of the transaction.
    All,
    /// `allow:phase`: skip the rest of the current phase.
    Phase,
    /// `allow:request`: skip the rest of the request phases (1 and 2).
    Request,
}

#[derive(Debug, Clone)]
pub enum RuleAction {
    Pass,
    Block,
    Deny,
    Drop,
    Allow(AllowScope),
    Redirect(Macro),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    Set,
    Add,
    Sub,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProcessor {
    UrlEncoded,
    Multipart,
    Json,
    Xml,
}

impl BodyProcessor {
    pub fn parse(s: &str) -> Option<BodyProcessor> {
        Some(match s.to_ascii_uppercase().as_str() {
            "URLENCODED" => BodyProcessor::UrlEncoded,
            "MULTIPART" => BodyProcessor::Multipart,
            "JSON" => BodyProcessor::Json,
            "XML" => BodyProcessor::Xml,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            BodyProcessor::UrlEncoded => "URLENCODED",
            BodyProcessor::Multipart => "MULTIPART",
            BodyProcessor::Json => "JSON",
            BodyProcessor::Xml => "XML",
        }
    }
}

/// Selects rules for runtime exclusions.
#[derive(Debug, Clone)]
pub enum RuleSelector {
    Ids(Vec<(u32, u32)>),
    Tag(String),
    Msg(String),
}

#[derive(Debug, Clone)]
pub enum Ctl {
    RuleEngine(crate::ruleset::EngineMode),
    RuleRemove(RuleSelector),
    RuleRemoveTarget(RuleSelector, Vec<Target>),
    RequestBodyProcessor(BodyProcessor),
    ForceRequestBodyVariable(bool),
    RequestBodyAccess(bool),
    ResponseBodyAccess(bool),
    /// Audit-log and debug knobs: accepted, nothing to do in a pure engine.
    Ignored,
}

#[derive(Debug, Clone)]
pub enum Effect {
    SetVar {
        coll: crate::vars::Var,
        key: Macro,
        op: SetOp,
        value: Macro,
    },
    SetEnv {
        key: String,
        value: Macro,
    },
    Ctl(Ctl),
}

#[derive(Debug)]
pub struct Rule {
    pub id: u32,
    pub phase: u8,
    pub targets: Vec<Target>,
    pub operator: Operator,
    pub transforms: Arc<[Transform]>,
    /// Interned id of `transforms`, the key of the per-transaction cache.
    pub tchain: u32,
    pub msg: Option<Macro>,
    /// `msg` when it holds no macro, for `RULE.msg`.
    pub msg_lit: Arc<[u8]>,
    pub logdata: Option<Macro>,
    pub tags: Vec<String>,
    pub severity: Option<Severity>,
    pub action: Option<RuleAction>,
    pub status: Option<u16>,
    pub capture: bool,
    pub multi_match: bool,
    pub log: Option<bool>,
    pub effects: Vec<Effect>,
    pub skip: u32,
    pub skip_after: Option<String>,
    pub chain: Option<Box<Rule>>,
    /// (group, link) in the rule set's prefilter: the link's transformation group and
    /// its bit in the prefilter's link sets; set at load for `@rx` links whose regex
    /// needs one of a few literals, and for `@pm` links.
    pub prefilter: Option<(u32, u32)>,
    pub file: Arc<str>,
    pub line: usize,
}

impl Rule {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }

    pub fn msg_text(&self) -> String {
        self.msg
            .as_ref()
            .and_then(Macro::literal)
            .unwrap_or_default()
    }
}

impl RuleSelector {
    pub fn selects(&self, rule: &Rule) -> bool {
        match self {
            RuleSelector::Ids(r) => r.iter().any(|(a, b)| (*a..=*b).contains(&rule.id)),
            RuleSelector::Tag(t) => rule.has_tag(t),
            RuleSelector::Msg(m) => rule.msg_text() == *m,
        }
    }
}

/// Parses `920100`, `920100-920200` and space- or comma-separated lists of both.
pub fn parse_id_ranges(text: &str) -> Result<Vec<(u32, u32)>, String> {
    let mut out = Vec::new();
    for part in text.split([' ', ',', '\t']).filter(|p| !p.is_empty()) {
        let part = part.trim_matches(['"', '\'']);
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u32 = a
            .trim()
            .parse()
            .map_err(|_| format!("{part:?} is not a rule id or id range"))?;
        let b: u32 = b
            .trim()
            .parse()
            .map_err(|_| format!("{part:?} is not a rule id or id range"))?;
        out.push((a.min(b), a.max(b)));
    }
    if out.is_empty() {
        return Err("no rule id given".into());
    }
    Ok(out)
}
