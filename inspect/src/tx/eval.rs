//! The rule loop of one phase: targets, transformations, operator, actions.
use super::store::full_name;
use super::{Allowed, Disruptive, InjectionMemo, Intervention, MatchedRule, TCache, Transaction};
use crate::operators::{Captures, OpKind};
use crate::parser::targets::Target;
use crate::rule::{AllowScope, Rule, RuleAction};
use crate::ruleset::{EngineMode, Entry};
use crate::vars::Var;
use std::sync::Arc;

/// One value a rule link matched.
struct Found {
    name: Vec<u8>,
    value: Vec<u8>,
    caps: Option<Captures>,
}

impl Transaction {
    pub(super) fn run_phase(&mut self, phase: u8) -> Option<Intervention> {
        if self.mode == EngineMode::Off || self.interrupted {
            return None;
        }
        if self.allowed == Allowed::All || (self.allowed == Allowed::Request && phase <= 2) {
            return None;
        }
        self.last_phase = phase;
        // The host may have handed over new request data since the last phase: phase 1
        // the request line and headers, phase 2 the body's arguments. The query,
        // headers and cookies do not change after phase 1.
        match phase {
            1 => self.pf.clear(),
            2 => self.pf.clear_body(),
            _ => {}
        }
        self.pf.forget_changed(&self.store);
        self.store.set(
            Var::Duration,
            self.started.elapsed().as_micros().to_string(),
        );
        let rs = self.rs.clone();
        let list = &rs.phases[usize::from(phase)];
        let skips = &rs.skip_targets[usize::from(phase)];
        let mut i = 0;
        while i < list.len() {
            let Entry::Rule(ri) = list[i] else {
                i += 1;
                continue;
            };
            let rule = &rs.rules[ri];
            if self.removed.iter().any(|s| s.selects(rule)) || !self.eval_chain(rule) {
                i += 1;
                continue;
            }
            self.log_match(rule, phase);
            match &rule.action {
                Some(RuleAction::Deny | RuleAction::Drop | RuleAction::Redirect(_))
                    if self.mode == EngineMode::On =>
                {
                    self.interrupted = true;
                    return Some(self.intervention(rule));
                }
                Some(RuleAction::Allow(scope)) if self.mode == EngineMode::On => {
                    self.allowed = match scope {
                        AllowScope::All => Allowed::All,
                        AllowScope::Request if phase <= 2 => Allowed::Request,
                        _ => self.allowed,
                    };
                    return None;
                }
                _ => {}
            }
            if rule.skip_after.is_some() {
                i = skips[i];
                continue;
            }
            i += 1;
            let mut n = rule.skip;
            while n > 0 && i < list.len() {
                if matches!(list[i], Entry::Rule(_)) {
                    n -= 1;
                }
                i += 1;
            }
        }
        None
    }

    /// Evaluates every rule on every value, as the engine did before the prefilter:
    /// the reference the differential tests compare against. Slower, same verdicts.
    #[doc(hidden)]
    pub fn disable_prefilter(&mut self) {
        self.use_prefilter = false;
    }

    fn intervention(&self, rule: &Rule) -> Intervention {
        let message = rule
            .msg
            .as_ref()
            .map(|m| lossy(m.expand(&self.store)))
            .unwrap_or_default();
        let (status, disruptive) = match &rule.action {
            Some(RuleAction::Drop) => (rule.status.unwrap_or(403), Disruptive::Drop),
            Some(RuleAction::Redirect(url)) => {
                let s = rule
                    .status
                    .filter(|s| matches!(s, 301 | 302 | 303 | 307 | 308))
                    .unwrap_or(302);
                (s, Disruptive::Redirect(lossy(url.expand(&self.store))))
            }
            _ => (rule.status.unwrap_or(403), Disruptive::Deny),
        };
        Intervention {
            status,
            disruptive,
            rule_id: rule.id,
            message,
        }
    }

    fn log_match(&mut self, rule: &Rule, phase: u8) {
        tracing::trace!(rule_id = rule.id, file = %rule.file, line = rule.line, operator = %rule.operator.name, "rule matched");
        if rule.log == Some(false) {
            return;
        }
        if let Some(sev) = rule.severity {
            let cur = self
                .store
                .scalar(Var::HighestSeverity)
                .map(crate::operators::atoi);
            if cur.is_none_or(|c| (sev as i64) < c) {
                self.store
                    .set(Var::HighestSeverity, (sev as u8).to_string());
            }
        }
        let msg = rule
            .msg
            .as_ref()
            .map(|m| lossy(m.expand(&self.store)))
            .unwrap_or_default();
        let data = rule
            .logdata
            .as_ref()
            .map(|m| lossy(m.expand(&self.store)))
            .unwrap_or_default();
        let (var, value) = match self.store.matched_vars.first() {
            Some((n, v)) => (
                lossy(n.clone()),
                lossy(v[..v.len().min(super::MATCHED_VALUE_MAX)].to_vec()),
            ),
            None => (String::new(), String::new()),
        };
        self.matched.push(MatchedRule {
            id: rule.id,
            msg,
            severity: rule.severity,
            tags: rule.tags.clone(),
            data,
            phase,
            var,
            value,
        });
    }

    /// True when the rule and every rule chained to it matched.
    fn eval_chain(&mut self, rule: &Rule) -> bool {
        self.store.matched_vars.clear();
        self.store.rule_id = rule.id;
        self.store.rule_msg = rule.msg_lit.clone();
        self.store.rule_severity = rule.severity.map(|s| s as u8);
        let mut link = rule;
        loop {
            if !self.eval_link(link, rule) {
                return false;
            }
            match &link.chain {
                Some(next) => link = next,
                None => return true,
            }
        }
    }

    fn eval_link(&mut self, link: &Rule, starter: &Rule) -> bool {
        if link.targets.is_empty() {
            self.apply_effects(link);
            return true;
        }
        let mut found: Vec<Found> = Vec::new();
        {
            let store = &self.store;
            let cache = &mut self.cache;
            // The reference path (prefilter off) runs libinjection on every value, as before.
            let mut injections = self.use_prefilter.then_some(&mut self.injection);
            let pf = &self.rs.prefilter;
            let pf_state = &mut self.pf;
            let pf_link = link
                .prefilter
                .filter(|_| self.use_prefilter)
                .and_then(|(g, bit)| pf.groups.get(g as usize).map(|g| (g.node, g.multi, bit)));
            // Request-list values take their transformations from the per-phase memo;
            // the reference path (prefilter off) keeps the per-chain cache.
            let node = pf
                .chains
                .node_of(link.tchain)
                .filter(|_| self.use_prefilter);
            let runtime: Vec<&Target> = if self.target_exclusions.is_empty() {
                Vec::new()
            } else {
                self.target_exclusions
                    .iter()
                    .filter(|e| e.rules.selects(starter))
                    .map(|e| &e.target)
                    .collect()
            };
            // Decided once per rule, not per value: most rules exclude nothing.
            let any_exclusion = !runtime.is_empty() || link.targets.iter().any(|t| t.exclude);
            let excluded = |var: Var, key: &[u8]| {
                any_exclusion
                    && link
                        .targets
                        .iter()
                        .filter(|t| t.exclude)
                        .chain(runtime.iter().copied())
                        .any(|t| t.var == var && t.selector.as_ref().is_none_or(|s| s.matches(key)))
            };
            for target in link.targets.iter().filter(|t| !t.exclude) {
                // No value of the lists this target reads holds a literal the regex needs.
                // A keyed target (`REQUEST_HEADERS:Referer`) reads one value: asking
                // about the whole list first would cost more than it saves.
                if let Some((node, multi, bit)) = pf_link
                    && !target.count
                    && target.selector.is_none()
                    && let Some(ids) = super::prefilter::lists_of(target.var)
                    && !ids
                        .iter()
                        .any(|&id| pf_state.any(pf, store, id, node, multi, bit))
                {
                    continue;
                }
                store.visit(target, &excluded, &mut |item| {
                    if let (Some((node, multi, bit)), Some((id, i))) = (pf_link, item.slot)
                        && !pf_state.may_match(pf, store, id, i, node, multi, bit)
                    {
                        return;
                    }
                    let mut caps = link.capture.then(Captures::new);
                    let memo = node.zip(item.slot);
                    let hit = match (link.multi_match, memo) {
                        (true, Some((node, (id, i)))) => {
                            if eval_op(
                                link,
                                item.value,
                                store,
                                caps.as_mut(),
                                injections.as_deref_mut(),
                            ) {
                                Some(item.value.to_vec())
                            } else {
                                let mut hit = None;
                                pf_state.changed_on_path(pf, store, id, node, i, &mut |v| {
                                    if eval_op(
                                        link,
                                        v,
                                        store,
                                        caps.as_mut(),
                                        injections.as_deref_mut(),
                                    ) {
                                        hit = Some(v.to_vec());
                                    }
                                    hit.is_some()
                                });
                                hit
                            }
                        }
                        (true, None) => multi_match(
                            link,
                            item.value,
                            store,
                            &mut caps,
                            injections.as_deref_mut(),
                        ),
                        (false, Some((node, (id, i)))) => {
                            let v = pf_state.output(pf, store, id, node, i);
                            eval_op(link, v, store, caps.as_mut(), injections.as_deref_mut())
                                .then(|| v.to_vec())
                        }
                        (false, None) => {
                            let v = transformed(cache, link, item.value);
                            eval_op(link, &v, store, caps.as_mut(), injections.as_deref_mut())
                                .then(|| v.to_vec())
                        }
                    };
                    if let Some(value) = hit {
                        found.push(Found {
                            name: full_name(item.var, item.key),
                            value,
                            caps,
                        });
                    }
                });
            }
        }
        if found.is_empty() {
            return false;
        }
        for f in found {
            if let Some(caps) = &f.caps {
                for (i, c) in caps.iter().enumerate() {
                    self.store.tx.insert(i.to_string(), c.clone());
                }
            }
            self.store.matched_var.clone_from(&f.value);
            self.store.matched_var_name.clone_from(&f.name);
            self.store.matched_vars.push((f.name, f.value));
            self.apply_effects(link);
        }
        true
    }
}

fn lossy(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `multiMatch`: the operator runs on the raw value and after every transformation that changed it.
fn multi_match(
    link: &Rule,
    raw: &[u8],
    store: &super::store::Store,
    caps: &mut Option<Captures>,
    mut memo: Option<&mut InjectionMemo>,
) -> Option<Vec<u8>> {
    if eval_op(link, raw, store, caps.as_mut(), memo.as_deref_mut()) {
        return Some(raw.to_vec());
    }
    let mut cur: Option<Vec<u8>> = None;
    let mut next = Vec::new();
    for t in link.transforms.iter() {
        let input: &[u8] = cur.as_deref().unwrap_or(raw);
        if t.is_noop(input) {
            continue;
        }
        t.apply(input, &mut next);
        if next.as_slice() == input {
            continue;
        }
        let produced = std::mem::take(&mut next);
        if eval_op(link, &produced, store, caps.as_mut(), memo.as_deref_mut()) {
            return Some(produced);
        }
        if let Some(old) = cur.replace(produced) {
            next = old;
        }
    }
    None
}

/// The link's operator on `v`. With a memo, a libinjection verdict on bytes seen earlier in
/// the transaction is reused, captures included: the same answer without running it again.
#[inline]
fn eval_op(
    link: &Rule,
    v: &[u8],
    store: &super::store::Store,
    caps: Option<&mut Captures>,
    memo: Option<&mut InjectionMemo>,
) -> bool {
    match (&link.operator.kind, memo) {
        (OpKind::DetectSqli | OpKind::DetectXss, Some(memo)) => {
            memoized_injection(link, v, store, caps, memo)
        }
        _ => link.operator.eval(v, store, caps),
    }
}

/// `@detectSQLi` or `@detectXSS` through the memo. Out of line: the rule loop stays as
/// small as it was for every other operator.
#[inline(never)]
fn memoized_injection(
    link: &Rule,
    v: &[u8],
    store: &super::store::Store,
    caps: Option<&mut Captures>,
    memo: &mut InjectionMemo,
) -> bool {
    let op = &link.operator;
    let key = (
        matches!(op.kind, OpKind::DetectXss),
        crate::fxhash::hash_bytes(v),
    );
    let (injection, captured) = match memo.get(&key) {
        Some((input, injection, captured)) if **input == *v => (*injection, captured.clone()),
        _ => {
            let mut captured = Captures::new();
            let injection = crate::operators::eval_kind(&op.kind, v, store, Some(&mut captured));
            memo.insert(key, (v.into(), injection, captured.clone()));
            (injection, captured)
        }
    };
    // As `eval_kind` does: a match with a fingerprint replaces the captures.
    if injection
        && !captured.is_empty()
        && let Some(caps) = caps
    {
        *caps = captured;
    }
    injection != op.negated
}

enum Val<'a> {
    Borrowed(&'a [u8]),
    Shared(Arc<Vec<u8>>),
}

impl std::ops::Deref for Val<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Val::Borrowed(b) => b,
            Val::Shared(a) => a,
        }
    }
}

/// The value after the rule's transformations, computed once per (chain, value).
fn transformed<'a>(cache: &mut TCache, rule: &Rule, value: &'a [u8]) -> Val<'a> {
    // Most benign values pass every step unchanged: prove it by scanning, skip the cache.
    let Some(first) = rule.transforms.iter().position(|t| !t.is_noop(value)) else {
        return Val::Borrowed(value);
    };
    let key = (rule.tchain, crate::fxhash::hash_bytes(value));
    if let Some((input, out)) = cache.get(&key)
        && **input == *value
    {
        return Val::Shared(out.clone());
    }
    let mut cur = Vec::with_capacity(value.len());
    rule.transforms[first].apply(value, &mut cur);
    let mut next = Vec::with_capacity(cur.len());
    for t in rule.transforms[first + 1..].iter() {
        if t.is_noop(&cur) {
            continue;
        }
        t.apply(&cur, &mut next);
        std::mem::swap(&mut cur, &mut next);
    }
    let out = Arc::new(cur);
    cache.insert(key, (value.into(), out.clone()));
    Val::Shared(out)
}
