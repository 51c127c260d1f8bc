//! Differences between the live ruleset and the plan.

use std::fmt;

/// What `check` found. Each entry names the front end (`iptables`, `ip6tables`, `nft`) and
/// carries the rule as that front end prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// In the plan, not live (for example deleted by hand).
    pub missing: Vec<String>,
    /// Live and carrying Palisade's mark, not in the plan.
    pub extra: Vec<String>,
    /// At the same place in a chain, live differs from the plan: `(live, planned)`.
    pub changed: Vec<(String, String)>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.changed.is_empty()
    }

    /// Adds the differences of one chain; `label` prefixes every entry.
    pub(crate) fn compare_chain(&mut self, label: &str, planned: &[String], live: &[String]) {
        if planned == live {
            return;
        }
        let missing: Vec<&String> = planned.iter().filter(|l| !live.contains(l)).collect();
        let extra: Vec<&String> = live.iter().filter(|l| !planned.contains(l)).collect();
        if missing.is_empty() && extra.is_empty() {
            self.changed.push((
                format!("{label}: order {live:?}"),
                format!("{label}: order {planned:?}"),
            ));
            return;
        }
        let paired = missing.len().min(extra.len());
        for (l, p) in extra.iter().zip(&missing).take(paired) {
            self.changed
                .push((format!("{label}: {l}"), format!("{label}: {p}")));
        }
        self.missing
            .extend(missing[paired..].iter().map(|l| format!("{label}: {l}")));
        self.extra
            .extend(extra[paired..].iter().map(|l| format!("{label}: {l}")));
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no drift");
        }
        for m in &self.missing {
            writeln!(f, "missing: {m}")?;
        }
        for e in &self.extra {
            writeln!(f, "extra: {e}")?;
        }
        for (live, planned) in &self.changed {
            writeln!(f, "changed: live `{live}`, planned `{planned}`")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn deleted_rule_is_missing_and_foreign_rule_is_extra() {
        let mut d = Drift::default();
        d.compare_chain("iptables", &s(&["a", "b"]), &s(&["a"]));
        assert_eq!(d.missing, vec!["iptables: b"]);
        let mut d = Drift::default();
        d.compare_chain("iptables", &s(&["a"]), &s(&["a", "x"]));
        assert_eq!(d.extra, vec!["iptables: x"]);
        let mut d = Drift::default();
        d.compare_chain("nft", &s(&["a", "b"]), &s(&["a", "c"]));
        assert_eq!(
            d.changed,
            vec![("nft: c".to_string(), "nft: b".to_string())]
        );
        assert!(!d.is_empty());
    }
}
