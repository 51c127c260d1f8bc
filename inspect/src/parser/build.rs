//! Turns parsed actions into rule fields.
use super::actions::RawAction;
use super::targets::parse_targets;
use crate::macros::Macro;
use crate::rule::{
    AllowScope, BodyProcessor, Ctl, Effect, RuleAction, RuleSelector, SetOp, Severity,
    parse_id_ranges,
};
use crate::ruleset::EngineMode;
use crate::transform::Transform;
use crate::vars::Var;

/// Rule fields taken from an action list, before defaults are merged.
#[derive(Debug, Default)]
pub struct ActionSet {
    pub id: Option<u32>,
    pub phase: Option<u8>,
    pub msg: Option<Macro>,
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
    pub chain: bool,
    /// `t:none` seen: defaults' transformations are dropped.
    pub t_none: bool,
    pub transforms: Vec<Transform>,
}

pub fn parse_phase(v: &str) -> Result<u8, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" => Ok(1),
        "2" | "request" => Ok(2),
        "3" => Ok(3),
        "4" | "response" => Ok(4),
        "5" | "logging" => Ok(5),
        _ => Err(format!(
            "phase {v:?} is not 1-5, request, response or logging"
        )),
    }
}

pub fn build_actions(raw: &[RawAction]) -> Result<ActionSet, String> {
    let mut a = ActionSet::default();
    for act in raw {
        let v = act.value.as_deref();
        let need = || v.ok_or_else(|| format!("action {} needs a value", act.name));
        match act.name.as_str() {
            "id" => {
                a.id = Some(
                    need()?
                        .trim()
                        .parse()
                        .map_err(|_| format!("id {:?} is not a number", v))?,
                )
            }
            "phase" => a.phase = Some(parse_phase(need()?)?),
            "msg" => a.msg = Some(Macro::parse(need()?)?),
            "logdata" => a.logdata = Some(Macro::parse(need()?)?),
            "tag" => a.tags.push(need()?.to_string()),
            "severity" => {
                a.severity = Some(
                    Severity::parse(need()?)
                        .ok_or_else(|| format!("severity {v:?} is not 0-7 or a level name"))?,
                )
            }
            "ver" | "rev" | "maturity" | "accuracy" | "xmlns" => {
                need()?;
            }
            "t" => {
                let name = need()?;
                if name.eq_ignore_ascii_case("none") {
                    a.transforms.clear();
                    a.t_none = true;
                } else {
                    a.transforms.push(
                        Transform::from_name(name)
                            .ok_or_else(|| format!("unknown transformation t:{name}"))?,
                    );
                }
            }
            "chain" => a.chain = true,
            "pass" => a.action = Some(RuleAction::Pass),
            "block" => a.action = Some(RuleAction::Block),
            "deny" => a.action = Some(RuleAction::Deny),
            "drop" => a.action = Some(RuleAction::Drop),
            "allow" => {
                let scope = match v.map(str::to_ascii_lowercase).as_deref() {
                    None | Some("") => AllowScope::All,
                    Some("phase") => AllowScope::Phase,
                    Some("request") => AllowScope::Request,
                    Some(o) => {
                        return Err(format!(
                            "allow:{o} is not allow, allow:phase or allow:request"
                        ));
                    }
                };
                a.action = Some(RuleAction::Allow(scope));
            }
            "redirect" => a.action = Some(RuleAction::Redirect(Macro::parse(need()?)?)),
            "status" => {
                let s: u16 = need()?
                    .trim()
                    .parse()
                    .map_err(|_| format!("status {v:?} is not an HTTP status"))?;
                if !(100..=999).contains(&s) {
                    return Err(format!("status {s} is not an HTTP status"));
                }
                a.status = Some(s);
            }
            "capture" => a.capture = true,
            "multimatch" => a.multi_match = true,
            "log" => a.log = Some(true),
            "nolog" => a.log = Some(false),
            "auditlog"
            | "noauditlog"
            | "sanitisearg"
            | "sanitisematched"
            | "sanitiserequestheader"
            | "sanitiseresponseheader"
            | "sanitisematchedbytes" => {}
            // Persistent collections are not kept across transactions: accepted, no effect.
            "expirevar" | "initcol" | "setuid" | "setsid" | "deprecatevar" => {
                need()?;
            }
            "setvar" => a.effects.push(parse_setvar(need()?)?),
            "setenv" => {
                let (k, val) = need()?.split_once('=').unwrap_or((need()?, "1"));
                a.effects.push(Effect::SetEnv {
                    key: k.trim().to_string(),
                    value: Macro::parse(val)?,
                });
            }
            "ctl" => a.effects.push(Effect::Ctl(parse_ctl(need()?)?)),
            "skip" => {
                a.skip = need()?
                    .trim()
                    .parse()
                    .map_err(|_| format!("skip:{v:?} is not a count"))?
            }
            "skipafter" => a.skip_after = Some(need()?.trim().to_string()),
            other => return Err(format!("unknown action {other:?}")),
        }
    }
    Ok(a)
}

fn parse_setvar(text: &str) -> Result<Effect, String> {
    let text = text.trim();
    let (lhs, op, rhs) = if let Some(name) = text.strip_prefix('!') {
        (name, SetOp::Delete, "")
    } else {
        match text.split_once('=') {
            None => (text, SetOp::Set, ""),
            Some((l, r)) => match r.as_bytes().first() {
                Some(b'+') => (l, SetOp::Add, &r[1..]),
                Some(b'-') => (l, SetOp::Sub, &r[1..]),
                _ => (l, SetOp::Set, r),
            },
        }
    };
    let (coll, key) = lhs
        .split_once('.')
        .ok_or_else(|| format!("setvar {text:?}: expected COLLECTION.name"))?;
    let var = Var::from_name(coll.trim())
        .ok_or_else(|| format!("setvar {text:?}: unknown collection {coll:?}"))?;
    if !matches!(
        var,
        Var::Tx | Var::Ip | Var::Global | Var::Session | Var::User | Var::Resource
    ) {
        return Err(format!("setvar {text:?}: collection {coll} is read-only"));
    }
    Ok(Effect::SetVar {
        coll: var,
        key: Macro::parse(&key.trim().to_ascii_lowercase())?,
        op,
        value: Macro::parse(rhs)?,
    })
}

fn on_off(name: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err(format!("ctl:{name}={v} is not On or Off")),
    }
}

fn parse_ctl(text: &str) -> Result<Ctl, String> {
    let (name, v) = text
        .split_once('=')
        .ok_or_else(|| format!("ctl:{text} needs name=value"))?;
    let (name, v) = (name.trim(), v.trim());
    let target_sel = |sel: RuleSelector, rest: &str| -> Result<Ctl, String> {
        Ok(Ctl::RuleRemoveTarget(sel, parse_targets(rest)?))
    };
    Ok(match name.to_ascii_lowercase().as_str() {
        "ruleengine" => Ctl::RuleEngine(
            EngineMode::parse(v)
                .ok_or_else(|| format!("ctl:ruleEngine={v} is not On, Off or DetectionOnly"))?,
        ),
        "ruleremovebyid" => Ctl::RuleRemove(RuleSelector::Ids(parse_id_ranges(v)?)),
        "ruleremovebytag" => Ctl::RuleRemove(RuleSelector::Tag(v.to_string())),
        "ruleremovebymsg" => Ctl::RuleRemove(RuleSelector::Msg(v.to_string())),
        "ruleremovetargetbyid" => {
            let (ids, rest) = v
                .split_once(';')
                .ok_or_else(|| format!("ctl:{text}: expected ID;TARGET"))?;
            target_sel(RuleSelector::Ids(parse_id_ranges(ids)?), rest)?
        }
        "ruleremovetargetbytag" => {
            let (tag, rest) = v
                .split_once(';')
                .ok_or_else(|| format!("ctl:{text}: expected TAG;TARGET"))?;
            target_sel(RuleSelector::Tag(tag.to_string()), rest)?
        }
        "ruleremovetargetbymsg" => {
            let (msg, rest) = v
                .split_once(';')
                .ok_or_else(|| format!("ctl:{text}: expected MSG;TARGET"))?;
            target_sel(RuleSelector::Msg(msg.to_string()), rest)?
        }
        "requestbodyprocessor" => {
            Ctl::RequestBodyProcessor(BodyProcessor::parse(v).ok_or_else(|| {
                format!("ctl:requestBodyProcessor={v} is not URLENCODED, MULTIPART, JSON or XML")
            })?)
        }
        "forcerequestbodyvariable" => Ctl::ForceRequestBodyVariable(on_off(name, v)?),
        "requestbodyaccess" => Ctl::RequestBodyAccess(on_off(name, v)?),
        "responsebodyaccess" => Ctl::ResponseBodyAccess(on_off(name, v)?),
        "auditengine" | "auditlogparts" | "debugloglevel" | "hashengine" | "hashenforcement"
        | "requestbodylimit" | "responsebodylimit" | "parsexmlintoargs" => Ctl::Ignored,
        _ => return Err(format!("unknown ctl option {name:?}")),
    })
}
