//! Non-disruptive actions: setvar, setenv and ctl.
use super::{TargetExclusion, Transaction};
use crate::operators::atoi_pub as atoi;
use crate::rule::{Ctl, Effect, Rule, SetOp};
use crate::vars::Var;

impl Transaction {
    pub(super) fn apply_effects(&mut self, link: &Rule) {
        for e in &link.effects {
            match e {
                Effect::SetVar {
                    coll,
                    key,
                    op,
                    value,
                } => {
                    let key =
                        String::from_utf8_lossy(&key.expand(&self.store)).to_ascii_lowercase();
                    let value = value.expand(&self.store);
                    let map = match coll {
                        Var::Tx => &mut self.store.tx,
                        other => self.store.colls.entry(other.name()).or_default(),
                    };
                    match op {
                        SetOp::Set => {
                            map.insert(key, value);
                        }
                        SetOp::Delete => {
                            map.remove(&key);
                        }
                        SetOp::Add | SetOp::Sub => {
                            let cur = map.get(&key).map_or(0, |v| atoi(v));
                            let d = atoi(&value);
                            let n = if *op == SetOp::Add {
                                cur.saturating_add(d)
                            } else {
                                cur.saturating_sub(d)
                            };
                            map.insert(key, n.to_string().into_bytes());
                        }
                    }
                }
                Effect::SetEnv { key, value } => {
                    let v = value.expand(&self.store);
                    self.store.env.insert(key.to_ascii_lowercase(), v);
                }
                Effect::Ctl(c) => self.apply_ctl(c),
            }
        }
    }

    fn apply_ctl(&mut self, c: &Ctl) {
        match c {
            Ctl::RuleEngine(m) => self.mode = *m,
            Ctl::RuleRemove(sel) => self.removed.push(sel.clone()),
            Ctl::RuleRemoveTarget(sel, targets) => {
                for t in targets {
                    self.target_exclusions.push(TargetExclusion {
                        rules: sel.clone(),
                        target: t.clone(),
                    });
                }
            }
            Ctl::RequestBodyProcessor(p) => {
                self.body_processor = Some(*p);
                self.store.set(Var::ReqbodyProcessor, p.name());
            }
            Ctl::ForceRequestBodyVariable(b) => self.force_body_variable = *b,
            Ctl::RequestBodyAccess(b) => self.request_body_access = *b,
            Ctl::ResponseBodyAccess(b) => self.response_body_access = *b,
            Ctl::Ignored => {}
        }
    }
}
