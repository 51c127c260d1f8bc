//! `nft -f` rendering into the dedicated table `inet palisade`: the whole table is
//! Palisade's, so apply replaces it and remove deletes it without touching other tables.

use super::Family;
use crate::plan::{Chain, Match, Plan, Rule, Verdict};

pub const TABLE: &str = "inet palisade";

fn base_chain_header(chain: Chain) -> Option<&'static str> {
    // Ahead of iptables-nft's nat chains (priority -100) so Palisade decides first when both exist.
    match chain {
        Chain::Prerouting => Some("type nat hook prerouting priority dstnat - 10; policy accept;"),
        Chain::Output => Some("type nat hook output priority -110; policy accept;"),
        _ => None,
    }
}

/// One rule per family it applies to, as `nft list` prints them.
pub fn rule_lines(rule: &Rule, plan: &Plan) -> Vec<String> {
    let families = Family::of(plan.families);
    let mut out = Vec::new();
    if rule.matches.contains(&Match::MeshLoopbackSource) {
        for f in families {
            let addr = match f {
                Family::V4 => "ip",
                Family::V6 => "ip6",
            };
            out.push(format!(
                "oifname \"lo\" {addr} saddr {} {}",
                f.mesh_source(),
                body(rule)
            ));
        }
    } else if rule.chain == Chain::Prerouting && families.len() == 1 {
        let proto = match families[0] {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        };
        out.push(format!("meta nfproto {proto} {}", body(rule)));
    } else {
        out.push(body(rule));
    }
    out
}

fn body(rule: &Rule) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut has_port = false;
    for m in &rule.matches {
        match m {
            Match::DstPort(r) if r.start == r.end => {
                has_port = true;
                parts.push(format!("tcp dport {}", r.start));
            }
            Match::DstPort(r) => {
                has_port = true;
                parts.push(format!("tcp dport {}-{}", r.start, r.end));
            }
            Match::Uid(uid) => parts.push(format!("meta skuid {uid}")),
            Match::Gid(gid) => parts.push(format!("meta skgid {gid}")),
            Match::MeshLoopbackSource => {}
            Match::ValidationDst => {
                parts.push(format!("ip daddr {}", crate::plan::VALIDATION_ADDR));
            }
        }
    }
    if !has_port {
        parts.insert(0, "meta l4proto tcp".into());
    }
    parts.push(match rule.verdict {
        Verdict::Jump(chain) => format!("jump {}", chain.nft_name()),
        Verdict::Return => "return".into(),
        Verdict::RedirectTo(port) => format!("redirect to :{port}"),
    });
    parts.join(" ")
}

/// The chains of the table with their rule lines (base-chain header first), in plan order.
pub fn chain_lines(plan: &Plan) -> Vec<(Chain, Vec<String>)> {
    plan.chains
        .iter()
        .map(|&chain| {
            let mut lines: Vec<String> = base_chain_header(chain)
                .map(String::from)
                .into_iter()
                .collect();
            for rule in plan.rules_in(chain) {
                lines.extend(rule_lines(rule, plan));
            }
            (chain, lines)
        })
        .collect()
}

/// The table exactly as `nft list table inet palisade` prints it.
pub fn render(plan: &Plan) -> String {
    let chains: Vec<String> = chain_lines(plan)
        .into_iter()
        .map(|(chain, lines)| {
            let mut s = format!("\tchain {} {{\n", chain.nft_name());
            for l in lines {
                s.push_str(&format!("\t\t{l}\n"));
            }
            s.push_str("\t}\n");
            s
        })
        .collect();
    format!("table {TABLE} {{\n{}}}\n", chains.join("\n"))
}

/// An `nft -f` script that replaces the table in one transaction; declaring the table first
/// makes the delete valid when it does not exist yet, so applying twice leaves one copy.
pub fn apply_script(plan: &Plan) -> String {
    format!("table {TABLE}\ndelete table {TABLE}\n{}", render(plan))
}

/// An `nft -f` script that deletes the table, succeeding when it is absent.
pub fn remove_script() -> String {
    format!("table {TABLE}\ndelete table {TABLE}\n")
}
