//! `iptables-restore` rendering. Every rule carries `-m comment --comment palisade`, which is
//! how the executors find Palisade's rules in built-in chains and leave everyone else's alone.

use super::Family;
use crate::plan::{Match, Plan, Rule, Verdict};

/// The comment every Palisade iptables rule carries.
pub const OWNER_COMMENT: &str = "palisade";
/// Prefix of every chain Palisade creates.
pub const CHAIN_PREFIX: &str = "PALISADE_";

/// The rule specification as `iptables-save` prints it, after `-A CHAIN `.
pub fn rule_spec(rule: &Rule, family: Family) -> String {
    let mut parts: Vec<String> = Vec::new();
    if rule.matches.contains(&Match::MeshLoopbackSource) {
        let prefix = match family {
            Family::V4 => 32,
            Family::V6 => 128,
        };
        parts.push(format!("-s {}/{prefix} -o lo", family.mesh_source()));
    }
    if rule.matches.contains(&Match::ValidationDst) {
        parts.push(format!("-d {}/32", crate::plan::VALIDATION_ADDR));
    }
    parts.push("-p tcp".into());
    for m in &rule.matches {
        match m {
            Match::DstPort(r) if r.start == r.end => {
                parts.push(format!("-m tcp --dport {}", r.start))
            }
            Match::DstPort(r) => parts.push(format!("-m tcp --dport {}:{}", r.start, r.end)),
            Match::Uid(uid) => parts.push(format!("-m owner --uid-owner {uid}")),
            Match::Gid(gid) => parts.push(format!("-m owner --gid-owner {gid}")),
            Match::MeshLoopbackSource | Match::ValidationDst => {}
        }
    }
    parts.push(format!("-m comment --comment {OWNER_COMMENT}"));
    parts.push(match rule.verdict {
        Verdict::Jump(chain) => format!("-j {}", chain.iptables_name()),
        Verdict::Return => "-j RETURN".into(),
        Verdict::RedirectTo(port) => format!("-j REDIRECT --to-ports {port}"),
    });
    parts.join(" ")
}

/// `-A CHAIN spec` lines of the plan, in order.
pub fn rule_lines(plan: &Plan, family: Family) -> Vec<String> {
    plan.rules
        .iter()
        // The validator probes over IPv4 loopback only.
        .filter(|r| family == Family::V4 || !r.matches.contains(&Match::ValidationDst))
        .map(|r| format!("-A {} {}", r.chain.iptables_name(), rule_spec(r, family)))
        .collect()
}

/// `iptables-restore --noflush` input that installs the plan into a namespace with no
/// Palisade rules yet. The apply executor prepends deletions of any live Palisade rules in
/// built-in chains so the whole replacement is one atomic transaction.
pub fn render(plan: &Plan, family: Family) -> String {
    render_with_deletions(plan, family, &[])
}

pub(crate) fn render_with_deletions(plan: &Plan, family: Family, deletions: &[String]) -> String {
    let mut out = String::from("*nat\n");
    // Declaring a user chain with --noflush creates it, or flushes it when it exists.
    for chain in plan.user_chains() {
        out.push_str(&format!(":{} - [0:0]\n", chain.iptables_name()));
    }
    for d in deletions {
        out.push_str(d);
        out.push('\n');
    }
    for line in rule_lines(plan, family) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("COMMIT\n");
    out
}
