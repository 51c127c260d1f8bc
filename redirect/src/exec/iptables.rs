//! iptables executor (nft or legacy flavour): one `*-restore --noflush` transaction per family
//! that deletes live Palisade rules from built-in chains and (re)writes Palisade's chains.

use super::{Drift, ExecError, run};
use crate::backend::Backend;
use crate::plan::Plan;
use crate::render::Family;
use crate::render::iptables::{CHAIN_PREFIX, OWNER_COMMENT, render_with_deletions, rule_lines};

/// The nat table as `iptables-save -t nat` shows it.
#[derive(Debug, Default)]
struct NatTable {
    chains: Vec<String>,
    /// Full `-A CHAIN spec` lines.
    rules: Vec<String>,
}

impl NatTable {
    fn parse(save: &str) -> Self {
        let mut t = NatTable::default();
        let mut in_nat = false;
        for line in save.lines() {
            if line.starts_with('*') {
                in_nat = line == "*nat";
            } else if !in_nat {
                continue;
            } else if let Some(decl) = line.strip_prefix(':') {
                if let Some(name) = decl.split_whitespace().next() {
                    t.chains.push(name.to_string());
                }
            } else if line.starts_with("-A ") {
                t.rules.push(line.to_string());
            }
        }
        t
    }

    fn palisade_chains(&self) -> impl Iterator<Item = &String> {
        self.chains.iter().filter(|c| c.starts_with(CHAIN_PREFIX))
    }

    /// Palisade's rules: everything in its own chains, and marked rules in built-in chains.
    fn palisade_rules(&self) -> impl Iterator<Item = &String> {
        let mark = format!(" -m comment --comment {OWNER_COMMENT} ");
        self.rules
            .iter()
            .filter(move |r| chain_of(r).starts_with(CHAIN_PREFIX) || r.contains(&mark))
    }

    fn builtin_deletions(&self) -> Vec<String> {
        self.palisade_rules()
            .filter(|r| !chain_of(r).starts_with(CHAIN_PREFIX))
            .map(|r| format!("-D{}", &r[2..]))
            .collect()
    }
}

fn chain_of(rule: &str) -> &str {
    rule.split_whitespace().nth(1).unwrap_or_default()
}

fn label(backend: Backend, family: Family) -> String {
    let base = match family {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    };
    format!("{base} ({backend})")
}

fn programs(backend: Backend, family: Family) -> (&'static str, &'static str) {
    // Only called for iptables backends, which always have both programs.
    (
        backend.save_program(family).unwrap_or("iptables-save"),
        backend
            .restore_program(family)
            .unwrap_or("iptables-restore"),
    )
}

fn live(backend: Backend, family: Family) -> Result<NatTable, ExecError> {
    let (save, _) = programs(backend, family);
    Ok(NatTable::parse(&run(save, &["-t", "nat"], None)?))
}

fn restore(backend: Backend, family: Family, input: &str) -> Result<(), ExecError> {
    let (_, restore) = programs(backend, family);
    tracing::debug!(program = restore, input, "restoring");
    // -w: legacy iptables takes a machine-wide lock; wait for it instead of failing.
    run(restore, &["-w", "--noflush"], Some(input))?;
    Ok(())
}

pub(super) fn apply(backend: Backend, plan: &Plan) -> Result<(), ExecError> {
    let planned = Family::of(plan.families);
    for family in [Family::V4, Family::V6] {
        if !planned.contains(&family) {
            remove_family(backend, family)?;
            continue;
        }
        let table = live(backend, family)?;
        let mut deletions = table.builtin_deletions();
        // Chains from an older plan (for example istio mode switched off) go too.
        let keep: Vec<&str> = plan.user_chains().map(|c| c.iptables_name()).collect();
        let stale: Vec<&String> = table
            .palisade_chains()
            .filter(|c| !keep.contains(&c.as_str()))
            .collect();
        for c in &stale {
            deletions.push(format!(":{c} - [0:0]"));
            deletions.push(format!("-X {c}"));
        }
        restore(
            backend,
            family,
            &render_with_deletions(plan, family, &deletions),
        )?;
    }
    Ok(())
}

fn remove_family(backend: Backend, family: Family) -> Result<(), ExecError> {
    let table = live(backend, family)?;
    let mut lines = table.builtin_deletions();
    let chains: Vec<&String> = table.palisade_chains().collect();
    if lines.is_empty() && chains.is_empty() {
        return Ok(());
    }
    let mut input = String::from("*nat\n");
    // Flush every Palisade chain first: they jump to each other, and -X needs no references.
    for c in &chains {
        input.push_str(&format!(":{c} - [0:0]\n"));
    }
    for c in &chains {
        lines.push(format!("-X {c}"));
    }
    for l in lines {
        input.push_str(&l);
        input.push('\n');
    }
    input.push_str("COMMIT\n");
    restore(backend, family, &input)
}

pub(super) fn remove(backend: Backend) -> Result<(), ExecError> {
    for family in [Family::V4, Family::V6] {
        remove_family(backend, family)?;
    }
    Ok(())
}

pub(super) fn check(backend: Backend, plan: &Plan) -> Result<Drift, ExecError> {
    let planned = Family::of(plan.families);
    let mut drift = Drift::default();
    for family in [Family::V4, Family::V6] {
        let table = live(backend, family)?;
        let label = label(backend, family);
        let expected = if planned.contains(&family) {
            for c in plan.user_chains().map(|c| c.iptables_name()) {
                if !table.chains.iter().any(|l| l == c) {
                    drift.missing.push(format!("{label}: chain {c}"));
                }
            }
            rule_lines(plan, family)
        } else {
            Vec::new()
        };
        let got: Vec<String> = table.palisade_rules().cloned().collect();
        let mut chains: Vec<&str> = expected.iter().chain(&got).map(|r| chain_of(r)).collect();
        chains.dedup();
        let mut seen = Vec::new();
        for chain in chains {
            if seen.contains(&chain) {
                continue;
            }
            seen.push(chain);
            let in_chain = |v: &[String]| {
                v.iter()
                    .filter(|r| chain_of(r) == chain)
                    .cloned()
                    .collect::<Vec<_>>()
            };
            drift.compare_chain(&label, &in_chain(&expected), &in_chain(&got));
        }
    }
    Ok(drift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_marked_rules_in_builtin_chains_are_deleted() {
        let save = "*nat\n:PREROUTING ACCEPT [0:0]\n:PALISADE_INBOUND - [0:0]\n\
            -A PREROUTING -p tcp -j ISTIO_INBOUND\n\
            -A PREROUTING -p tcp -m comment --comment palisade -j PALISADE_INBOUND\n\
            -A PALISADE_INBOUND -p tcp -m comment --comment palisade -j RETURN\nCOMMIT\n";
        let t = NatTable::parse(save);
        assert_eq!(
            t.builtin_deletions(),
            vec!["-D PREROUTING -p tcp -m comment --comment palisade -j PALISADE_INBOUND"]
        );
        assert_eq!(t.palisade_rules().count(), 2);
    }
}
