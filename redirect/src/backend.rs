//! Which packet-filter front end holds the rules: native nftables, iptables on nf_tables,
//! or legacy iptables, and how to pick one automatically.

use std::fmt;

#[cfg(target_os = "linux")]
use crate::exec::{ExecError, run};
use crate::render::Family;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `nft -f` into table `inet palisade`.
    Nft,
    /// `iptables-nft-restore` / `ip6tables-nft-restore`.
    IptablesNft,
    /// `iptables-legacy-restore` / `ip6tables-legacy-restore`.
    IptablesLegacy,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Nft, Backend::IptablesNft, Backend::IptablesLegacy];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Nft => "nft",
            Backend::IptablesNft => "iptables-nft",
            Backend::IptablesLegacy => "iptables-legacy",
        }
    }

    /// The restore program for `family`; `None` for native nft.
    pub fn restore_program(self, family: Family) -> Option<&'static str> {
        match (self, family) {
            (Backend::Nft, _) => None,
            (Backend::IptablesNft, Family::V4) => Some("iptables-nft-restore"),
            (Backend::IptablesNft, Family::V6) => Some("ip6tables-nft-restore"),
            (Backend::IptablesLegacy, Family::V4) => Some("iptables-legacy-restore"),
            (Backend::IptablesLegacy, Family::V6) => Some("ip6tables-legacy-restore"),
        }
    }

    /// The save program for `family`; `None` for native nft.
    pub fn save_program(self, family: Family) -> Option<&'static str> {
        match (self, family) {
            (Backend::Nft, _) => None,
            (Backend::IptablesNft, Family::V4) => Some("iptables-nft-save"),
            (Backend::IptablesNft, Family::V6) => Some("ip6tables-nft-save"),
            (Backend::IptablesLegacy, Family::V4) => Some("iptables-legacy-save"),
            (Backend::IptablesLegacy, Family::V6) => Some("ip6tables-legacy-save"),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The operator's choice: detect, or pin a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    #[default]
    Auto,
    Fixed(Backend),
}

impl BackendChoice {
    pub const ALLOWED: &'static str = "auto, nft, iptables-nft, iptables-legacy";

    pub fn parse(field: &str, value: &str) -> Result<Self, crate::ConfigError> {
        match value.trim() {
            "" | "auto" => Ok(Self::Auto),
            "nft" => Ok(Self::Fixed(Backend::Nft)),
            "iptables-nft" => Ok(Self::Fixed(Backend::IptablesNft)),
            "iptables-legacy" => Ok(Self::Fixed(Backend::IptablesLegacy)),
            other => Err(crate::ConfigError::invalid(field, other, Self::ALLOWED)),
        }
    }

    /// Resolves the choice in the calling thread's network namespace.
    #[cfg(target_os = "linux")]
    pub fn resolve(self) -> Result<Backend, ExecError> {
        match self {
            Self::Fixed(b) => Ok(b),
            Self::Auto => detect(),
        }
    }
}

/// Legacy when legacy iptables already holds rules in this namespace (mixing front ends on
/// one hook is how rules silently stop matching); otherwise iptables-nft when iptables-nft
/// tables exist, so an admin sees Palisade's rules in the `iptables-save` they already use;
/// otherwise native nft.
#[cfg(target_os = "linux")]
pub fn detect() -> Result<Backend, ExecError> {
    for family in [Family::V4, Family::V6] {
        if let Some(save) = Backend::IptablesLegacy.save_program(family) {
            // A missing legacy tool or table simply means legacy is not in use.
            if let Ok(out) = run(save, &[], None)
                && has_rules(&out)
            {
                return Ok(Backend::IptablesLegacy);
            }
        }
    }
    let tables = run("nft", &["list", "tables"], None)?;
    let iptables_nft = tables.lines().any(|l| {
        let mut w = l.split_whitespace();
        matches!(
            (w.next(), w.next(), w.next()),
            (
                Some("table"),
                Some("ip" | "ip6"),
                Some("nat" | "filter" | "mangle" | "raw" | "security")
            )
        )
    });
    Ok(if iptables_nft {
        Backend::IptablesNft
    } else {
        Backend::Nft
    })
}

#[cfg(target_os = "linux")]
const BUILTIN_CHAINS: [&str; 5] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];

#[cfg(target_os = "linux")]
fn has_rules(save: &str) -> bool {
    save.lines().any(|l| {
        l.starts_with("-A ")
            || l.strip_prefix(':')
                .and_then(|c| c.split_whitespace().next())
                .is_some_and(|c| !BUILTIN_CHAINS.contains(&c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn empty_builtin_tables_are_not_rules() {
        let save = "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
        assert!(!has_rules(save));
        assert!(has_rules("*nat\n:KUBE-X - [0:0]\nCOMMIT\n"));
        assert!(has_rules("*filter\n-A INPUT -j ACCEPT\nCOMMIT\n"));
    }

    #[test]
    fn backend_names_parse_back() {
        for b in Backend::ALL {
            assert_eq!(
                BackendChoice::parse("backend", b.name()),
                Ok(BackendChoice::Fixed(b))
            );
        }
        let err = BackendChoice::parse("backend", "ipfw")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("backend") && err.contains("ipfw") && err.contains("iptables-legacy"),
            "{err}"
        );
    }
}
