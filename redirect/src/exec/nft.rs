//! Native nftables executor: the whole `inet palisade` table is replaced or deleted in one
//! `nft -f` transaction.

use std::collections::BTreeMap;

use super::{Drift, ExecError, run};
use crate::plan::Plan;
use crate::render::nft::{TABLE, apply_script, chain_lines, remove_script};

pub(super) fn apply(plan: &Plan) -> Result<(), ExecError> {
    run("nft", &["-f", "-"], Some(&apply_script(plan)))?;
    Ok(())
}

pub(super) fn remove() -> Result<(), ExecError> {
    if !has_table()? {
        return Ok(());
    }
    run("nft", &["-f", "-"], Some(&remove_script()))?;
    Ok(())
}

fn has_table() -> Result<bool, ExecError> {
    let tables = run("nft", &["list", "tables"], None)?;
    Ok(tables.lines().any(|l| l.trim() == format!("table {TABLE}")))
}

/// Live chains of the table, rule lines without handles; empty when the table is absent.
fn live_chains() -> Result<BTreeMap<String, Vec<String>>, ExecError> {
    if !has_table()? {
        return Ok(BTreeMap::new());
    }
    let listing = run("nft", &["list", "table", "inet", "palisade"], None)?;
    Ok(parse_listing(&listing))
}

fn parse_listing(listing: &str) -> BTreeMap<String, Vec<String>> {
    let mut chains = BTreeMap::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in listing.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("chain ") {
            let name = rest.trim_end_matches('{').trim().to_string();
            current = Some((name, Vec::new()));
        } else if line == "}" {
            if let Some((name, rules)) = current.take() {
                chains.insert(name, rules);
            }
        } else if let Some((_, rules)) = current.as_mut()
            && !line.is_empty()
        {
            rules.push(line.to_string());
        }
    }
    chains
}

pub(super) fn check(plan: &Plan) -> Result<Drift, ExecError> {
    let mut live = live_chains()?;
    let mut drift = Drift::default();
    for (chain, planned) in chain_lines(plan) {
        let name = chain.nft_name();
        let got = live.remove(name).unwrap_or_default();
        drift.compare_chain(&format!("nft chain {name}"), &planned, &got);
    }
    for (name, rules) in live {
        drift.compare_chain(&format!("nft chain {name}"), &[], &rules);
    }
    Ok(drift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_is_parsed_per_chain() {
        let listing = "table inet palisade {\n\tchain capture {\n\t\tmeta l4proto tcp redirect to :15300\n\t}\n}\n";
        let chains = parse_listing(listing);
        assert_eq!(
            chains["capture"],
            vec!["meta l4proto tcp redirect to :15300"]
        );
    }
}
