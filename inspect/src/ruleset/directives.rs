//! One handler per SecLang directive.
use super::load::{Item, Loader, expand_glob};
use super::{BodyLimitAction, Defaults, EngineMode};
use crate::error::LoadError;
use crate::operators::Operator;
use crate::parser::actions::split_actions;
use crate::parser::build::{ActionSet, build_actions};
use crate::parser::lexer::Directive;
use crate::parser::targets::parse_targets;
use crate::rule::{Rule, RuleAction, RuleSelector, parse_id_ranges};
use std::path::Path;
use std::sync::Arc;

/// Directives that configure logging, storage or the host server: accepted and
/// without effect in a pure engine (documented in docs/inspection.md).
const NO_EFFECT: &[&str] = &[
    "secauditengine",
    "secauditlog",
    "secauditlog2",
    "secauditlogparts",
    "secauditlogrelevantstatus",
    "secauditlogtype",
    "secauditlogformat",
    "secauditlogdirmode",
    "secauditlogfilemode",
    "secauditlogstoragedir",
    "secdebuglog",
    "secdebugloglevel",
    "sectmpdir",
    "secdatadir",
    "secuploaddir",
    "secuploadkeepfiles",
    "secuploadfilemode",
    "secuploadfilelimit",
    "secpcrematchlimit",
    "secpcrematchlimitrecursion",
    "seccookieformat",
    "secunicodemapfile",
    "secstatusengine",
    "sectmpsaveuploadedfiles",
    "secrequestbodyinmemorylimit",
    "secresponsebodylimitaction",
    "secgeolookupdb",
    "secserversignature",
    "secconnengine",
    "secxmlexternalentity",
    "sechttpblkey",
    "secremoterules",
    "secremoterulesfailaction",
    "seccollectiontimeout",
    "secresponsebodymimetypesclear",
];

fn arg<'a>(d: &'a Directive, i: usize, file: &str) -> Result<&'a str, LoadError> {
    d.args
        .get(i)
        .map(String::as_str)
        .ok_or_else(|| LoadError::at(file, d.line, format!("{} needs argument {}", d.name, i + 1)))
}

fn on_off(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

fn size(v: &str) -> Option<usize> {
    v.trim().parse().ok()
}

impl Loader {
    pub(super) fn directive(
        &mut self,
        d: &Directive,
        file: &Arc<str>,
        base: &Path,
    ) -> Result<(), LoadError> {
        let f: &str = file;
        let err = |m: String| LoadError::at(f, d.line, m);
        let lower = d.name.to_ascii_lowercase();
        match lower.as_str() {
            "secrule" => {
                let targets = arg(d, 0, f)?;
                let op = arg(d, 1, f)?;
                let actions = d.args.get(2).map_or("", String::as_str);
                if d.args.len() > 3 {
                    return Err(err(format!(
                        "SecRule takes 3 arguments, got {}",
                        d.args.len()
                    )));
                }
                self.add_rule(Some((targets, op)), actions, file, d.line, base)
            }
            "secaction" => {
                let actions = arg(d, 0, f)?;
                self.add_rule(None, actions, file, d.line, base)
            }
            "secmarker" => {
                self.items
                    .push(Item::Marker(Arc::from(arg(d, 0, f)?.trim())));
                Ok(())
            }
            "secdefaultaction" => {
                let a = parse_actions(arg(d, 0, f)?).map_err(err)?;
                let phase = a
                    .phase
                    .ok_or_else(|| err("SecDefaultAction needs a phase".into()))?;
                if a.id.is_some() || a.chain || !a.effects.is_empty() {
                    return Err(err(
                        "SecDefaultAction may not carry id, chain, setvar or ctl".into(),
                    ));
                }
                self.defaults[usize::from(phase)] = Defaults {
                    action: a.action,
                    log: a.log,
                    status: a.status,
                    transforms: a.transforms,
                };
                Ok(())
            }
            "secruleengine" => {
                let v = arg(d, 0, f)?;
                self.config.mode = EngineMode::parse(v).ok_or_else(|| {
                    err(format!(
                        "SecRuleEngine {v:?}: expected On, Off or DetectionOnly"
                    ))
                })?;
                Ok(())
            }
            "secrequestbodyaccess" | "secresponsebodyaccess" => {
                let v = arg(d, 0, f)?;
                let b = on_off(v)
                    .ok_or_else(|| err(format!("{} {v:?}: expected On or Off", d.name)))?;
                if lower == "secrequestbodyaccess" {
                    self.config.request_body_access = b;
                } else {
                    self.config.response_body_access = b;
                }
                Ok(())
            }
            "secargumentslimit" | "secrequestbodyjsondepthlimit" => {
                let v = arg(d, 0, f)?;
                let n = size(v).filter(|&n| n > 0).ok_or_else(|| {
                    err(format!("{} {v:?}: expected a whole number above 0", d.name))
                })?;
                if lower == "secargumentslimit" {
                    self.config.arguments_limit = n;
                } else {
                    self.config.request_body_json_depth_limit = n;
                }
                Ok(())
            }
            "secrequestbodylimit" | "secrequestbodynofileslimit" | "secresponsebodylimit" => {
                let v = arg(d, 0, f)?;
                let n = size(v)
                    .ok_or_else(|| err(format!("{} {v:?}: expected a size in bytes", d.name)))?;
                match lower.as_str() {
                    "secrequestbodylimit" => self.config.request_body_limit = n,
                    "secrequestbodynofileslimit" => self.config.request_body_no_files_limit = n,
                    _ => self.config.response_body_limit = n,
                }
                Ok(())
            }
            "secrequestbodylimitaction" => {
                let v = arg(d, 0, f)?;
                self.config.request_body_limit_action = match v.to_ascii_lowercase().as_str() {
                    "reject" => BodyLimitAction::Reject,
                    "processpartial" => BodyLimitAction::ProcessPartial,
                    _ => {
                        return Err(err(format!(
                            "SecRequestBodyLimitAction {v:?}: expected Reject or ProcessPartial"
                        )));
                    }
                };
                Ok(())
            }
            "secresponsebodymimetype" => {
                self.config.response_mime_types = d
                    .args
                    .iter()
                    .flat_map(|a| a.split_whitespace())
                    .map(str::to_ascii_lowercase)
                    .collect();
                Ok(())
            }
            "secargumentseparator" => {
                let v = arg(d, 0, f)?;
                match v.as_bytes() {
                    [c] => {
                        self.config.arg_separator = *c;
                        Ok(())
                    }
                    _ => Err(err(format!(
                        "SecArgumentSeparator {v:?}: expected one character"
                    ))),
                }
            }
            "seccomponentsignature" => {
                self.config
                    .component_signatures
                    .push(arg(d, 0, f)?.to_string());
                Ok(())
            }
            "secruleremovebyid" => {
                let ids = parse_id_ranges(&d.args.join(" ")).map_err(err)?;
                self.remove(&RuleSelector::Ids(ids));
                Ok(())
            }
            "secruleremovebytag" => {
                self.remove(&RuleSelector::Tag(arg(d, 0, f)?.to_string()));
                Ok(())
            }
            "secruleremovebymsg" => {
                self.remove(&RuleSelector::Msg(arg(d, 0, f)?.to_string()));
                Ok(())
            }
            "secruleupdatetargetbyid" | "secruleupdatetargetbytag" | "secruleupdatetargetbymsg" => {
                let sel = match lower.as_str() {
                    "secruleupdatetargetbyid" => {
                        RuleSelector::Ids(parse_id_ranges(arg(d, 0, f)?).map_err(err)?)
                    }
                    "secruleupdatetargetbytag" => RuleSelector::Tag(arg(d, 0, f)?.to_string()),
                    _ => RuleSelector::Msg(arg(d, 0, f)?.to_string()),
                };
                let targets = parse_targets(arg(d, 1, f)?).map_err(err)?;
                if d.args.len() > 2 {
                    return Err(err(format!(
                        "{}: replacing a target is not supported",
                        d.name
                    )));
                }
                for item in &mut self.items {
                    if let Item::Rule(r) = item
                        && sel.selects(r)
                    {
                        r.targets.extend(targets.iter().cloned());
                    }
                }
                Ok(())
            }
            "secruleupdateactionbyid" => {
                let ids = parse_id_ranges(arg(d, 0, f)?).map_err(err)?;
                let a = parse_actions(arg(d, 1, f)?).map_err(err)?;
                if a.id.is_some() || a.phase.is_some() || a.chain {
                    return Err(err(
                        "SecRuleUpdateActionById may not change id, phase or chain".into(),
                    ));
                }
                let sel = RuleSelector::Ids(ids);
                for i in 0..self.items.len() {
                    if let Item::Rule(r) = &self.items[i]
                        && sel.selects(r)
                    {
                        let mut t: Vec<_> = if a.t_none {
                            Vec::new()
                        } else {
                            r.transforms.to_vec()
                        };
                        t.extend(a.transforms.iter().copied());
                        let tchain = self.intern(&t);
                        if let Item::Rule(r) = &mut self.items[i] {
                            update_actions(r, &a, t, tchain);
                        }
                    }
                }
                Ok(())
            }
            "include" | "includeoptional" => {
                let pattern = arg(d, 0, f)?;
                let full = base.join(pattern);
                let files = match expand_glob(&full.to_string_lossy(), f, d.line) {
                    Err(LoadError::EmptyInclude { .. }) if lower == "includeoptional" => Vec::new(),
                    other => other?,
                };
                if self.depth > 32 {
                    return Err(err("Include nested more than 32 deep (a loop?)".into()));
                }
                self.depth += 1;
                for file in files {
                    if lower == "includeoptional" && !file.exists() {
                        continue;
                    }
                    self.load_file(&file)?;
                }
                self.depth -= 1;
                Ok(())
            }
            _ if NO_EFFECT.contains(&lower.as_str()) => Ok(()),
            _ => Err(err(format!("unknown directive {:?}", d.name))),
        }
    }

    fn remove(&mut self, sel: &RuleSelector) {
        self.items
            .retain(|i| !matches!(i, Item::Rule(r) if sel.selects(r)));
    }

    fn add_rule(
        &mut self,
        rule: Option<(&str, &str)>,
        actions: &str,
        file: &Arc<str>,
        line: usize,
        base: &Path,
    ) -> Result<(), LoadError> {
        let err = |m: String| LoadError::at(file, line, m);
        let a = parse_actions(actions).map_err(err)?;
        let is_link = !self.chain.is_empty();
        let phase = if is_link {
            if a.id.is_some() || a.phase.is_some() {
                return Err(err("a chained rule may not set id or phase".into()));
            }
            self.chain[0].phase
        } else {
            a.phase.unwrap_or(2)
        };
        let id = match (is_link, a.id) {
            (true, _) => 0,
            (false, Some(id)) => id,
            (false, None) => return Err(err("rule has no id".into())),
        };
        let defaults = self.defaults[usize::from(phase)].clone();
        let (targets, operator) = match rule {
            Some((t, o)) => (
                parse_targets(t).map_err(err)?,
                Operator::parse(o, base).map_err(|e| err(e.to_string()))?,
            ),
            None => (Vec::new(), Operator::unconditional()),
        };
        let mut transforms = if a.t_none {
            Vec::new()
        } else {
            defaults.transforms.clone()
        };
        transforms.extend(a.transforms.iter().copied());
        let tchain = self.intern(&transforms);
        let action = if is_link {
            a.action
        } else {
            match a.action.or(defaults.action.clone()) {
                Some(RuleAction::Block) => Some(match defaults.action {
                    Some(RuleAction::Block) | None => RuleAction::Pass,
                    Some(other) => other,
                }),
                other => other,
            }
        };
        let r = Rule {
            id,
            phase,
            targets,
            operator,
            transforms: transforms.into(),
            tchain,
            msg_lit: a
                .msg
                .as_ref()
                .and_then(crate::macros::Macro::literal)
                .unwrap_or_default()
                .into_bytes()
                .into(),
            msg: a.msg,
            logdata: a.logdata,
            tags: a.tags,
            severity: a.severity,
            action,
            status: a.status.or(defaults.status),
            capture: a.capture,
            multi_match: a.multi_match,
            log: a.log.or(defaults.log),
            effects: a.effects,
            skip: a.skip,
            skip_after: a.skip_after,
            chain: None,
            prefilter: None,
            file: file.clone(),
            line,
        };
        if a.chain {
            if self.chain.is_empty() {
                self.chain_at = Some((file.clone(), line));
            }
            self.chain.push(r);
            return Ok(());
        }
        let mut link = r;
        while let Some(mut prev) = self.chain.pop() {
            prev.chain = Some(Box::new(link));
            link = prev;
        }
        if self
            .items
            .iter()
            .any(|i| matches!(i, Item::Rule(o) if o.id == link.id))
        {
            return Err(err(format!("duplicate rule id {}", link.id)));
        }
        self.items.push(Item::Rule(Box::new(link)));
        Ok(())
    }
}

fn parse_actions(text: &str) -> Result<ActionSet, String> {
    build_actions(&split_actions(text)?)
}

fn update_actions(r: &mut Rule, a: &ActionSet, t: Vec<crate::transform::Transform>, tchain: u32) {
    if a.action.is_some() {
        r.action = a.action.clone();
    }
    if let Some(m) = &a.msg {
        r.msg_lit = m.literal().unwrap_or_default().into_bytes().into();
        r.msg = Some(m.clone());
    }
    if a.logdata.is_some() {
        r.logdata = a.logdata.clone();
    }
    if a.severity.is_some() {
        r.severity = a.severity;
    }
    if a.status.is_some() {
        r.status = a.status;
    }
    if a.log.is_some() {
        r.log = a.log;
    }
    r.tags.extend(a.tags.iter().cloned());
    r.effects.extend(a.effects.iter().cloned());
    r.capture |= a.capture;
    r.multi_match |= a.multi_match;
    if !a.transforms.is_empty() || a.t_none {
        r.transforms = t.into();
        r.tchain = tchain;
    }
}
