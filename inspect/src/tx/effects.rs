//! Non-disruptive actions: setvar, setenv and ctl.
use super::{TargetExclusion, Transaction};
use crate::macros::Macro;
use crate::operators::atoi;
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
                } => self.set_var(*coll, key, *op, value),
                Effect::SetEnv { key, value } => {
                    let v = value.expand(&self.store);
                    self.store.env.insert(key.to_ascii_lowercase(), v);
                }
                Effect::Ctl(c) => self.apply_ctl(c),
            }
        }
    }

    /// `setvar`: literal names and values (most of CRS's) update in place without
    /// allocating a new key or buffer.
    fn set_var(&mut self, coll: Var, key: &Macro, op: SetOp, value: &Macro) {
        let owned_key;
        let key: &str = match key.as_literal() {
            Some(k) => k,
            None => {
                owned_key = String::from_utf8_lossy(&key.expand(&self.store)).to_ascii_lowercase();
                &owned_key
            }
        };
        let expanded;
        let value: &[u8] = match value.as_literal() {
            Some(v) => v.as_bytes(),
            None => {
                expanded = value.expand(&self.store);
                &expanded
            }
        };
        let map = match coll {
            Var::Tx => &mut self.store.tx,
            other => self.store.colls.entry(other.name()).or_default(),
        };
        let new = match op {
            SetOp::Delete => {
                map.remove(key);
                return;
            }
            SetOp::Set => None,
            SetOp::Add | SetOp::Sub => {
                let cur = map.get(key).map_or(0, |v| atoi(v));
                let d = atoi(value);
                let n = if op == SetOp::Add {
                    cur.saturating_add(d)
                } else {
                    cur.saturating_sub(d)
                };
                Some(n.to_string())
            }
        };
        let bytes = new.as_ref().map_or(value, |n| n.as_bytes());
        match map.get_mut(key) {
            Some(slot) => {
                slot.clear();
                slot.extend_from_slice(bytes);
            }
            None => {
                map.insert(key.to_string(), bytes.to_vec());
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
