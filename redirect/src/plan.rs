//! The pure planner: [`RedirectConfig`] in, backend-neutral [`Plan`] out.
//!
//! Chain layout (iptables names; nft uses the lower-case names in table `inet palisade`):
//!
//! ```text
//! nat PREROUTING  -p tcp                      -> PALISADE_INBOUND
//! PALISADE_INBOUND: admin, capture, excluded (and Istio) ports -> RETURN
//!                   included ports (or all)                    -> PALISADE_REDIRECT
//! PALISADE_REDIRECT: REDIRECT --to-ports <capture>
//! nat OUTPUT -d 127.0.0.2 -p tcp --dport 15302 -> REDIRECT --to-ports <capture>  (validator probe)
//! nat OUTPUT -p tcp -> PALISADE_OUTPUT                  (istio mode only)
//! PALISADE_OUTPUT: engine uid/gid -> RETURN; from 127.0.0.6 as 1337 on lo -> PALISADE_INBOUND
//! ```
//!
//! Exclusions come before inclusions, so an excluded port wins over an included one.
//!
//! The probe rule lets an unprivileged validator (no capabilities, non-root) prove that the
//! plan is in the pod's namespace: it listens on the capture port before the engine starts
//! and connects to 127.0.0.2:[`VALIDATION_PORT`]; only this rule, applied in the same
//! transaction as the inbound rules, can complete that connection (nothing listens on the
//! validation port itself).

use crate::config::{
    ISTIO_PORTS, ISTIO_PROXY_UID, IpFamilies, PortRange, PortSelection, RedirectConfig, ServiceMesh,
};

/// The local port the validator connects to; the plan redirects it to the capture port.
pub const VALIDATION_PORT: u16 = 15302;
/// The loopback address the validator connects to (every namespace's `lo` has 127.0.0.0/8).
pub const VALIDATION_ADDR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 2);

/// A chain Palisade writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Chain {
    /// Built-in nat PREROUTING (iptables) / base chain `prerouting` (nft).
    Prerouting,
    /// Built-in nat OUTPUT (iptables) / base chain `output` (nft).
    Output,
    Inbound,
    Redirect,
    MeshOutput,
}

impl Chain {
    pub fn iptables_name(self) -> &'static str {
        match self {
            Chain::Prerouting => "PREROUTING",
            Chain::Output => "OUTPUT",
            Chain::Inbound => "PALISADE_INBOUND",
            Chain::Redirect => "PALISADE_REDIRECT",
            Chain::MeshOutput => "PALISADE_OUTPUT",
        }
    }

    pub fn nft_name(self) -> &'static str {
        match self {
            Chain::Prerouting => "prerouting",
            Chain::Output => "output",
            Chain::Inbound => "inbound",
            Chain::Redirect => "capture",
            Chain::MeshOutput => "mesh_output",
        }
    }

    pub fn is_builtin(self) -> bool {
        matches!(self, Chain::Prerouting | Chain::Output)
    }
}

/// A match condition; rules always match TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    DstPort(PortRange),
    /// Istio's inbound passthrough: source 127.0.0.6 (IPv4) or ::6 (IPv6), out via `lo`.
    MeshLoopbackSource,
    Uid(u32),
    Gid(u32),
    /// The validator's probe destination, [`VALIDATION_ADDR`] (IPv4 only). Not 127.0.0.1: the
    /// engine forwards a redirected connection to 127.0.0.1:<original port>, which this rule
    /// must never catch again (a loop).
    ValidationDst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Jump(Chain),
    Return,
    RedirectTo(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub chain: Chain,
    pub matches: Vec<Match>,
    pub verdict: Verdict,
}

/// The complete rule set for one namespace. Chains are listed in creation order; rules in
/// evaluation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub families: IpFamilies,
    pub chains: Vec<Chain>,
    pub rules: Vec<Rule>,
}

impl Plan {
    pub fn rules_in(&self, chain: Chain) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(move |r| r.chain == chain)
    }

    /// User chains (everything Palisade creates, as opposed to built-in hooks it appends to).
    pub fn user_chains(&self) -> impl Iterator<Item = Chain> + '_ {
        self.chains.iter().copied().filter(|c| !c.is_builtin())
    }
}

/// Plans the rules for `config`. Pure: same input, same plan; no I/O.
pub fn plan(config: &RedirectConfig) -> Plan {
    let mut rules = Vec::new();
    let mut push = |chain, matches: Vec<Match>, verdict| {
        rules.push(Rule {
            chain,
            matches,
            verdict,
        })
    };

    push(Chain::Prerouting, vec![], Verdict::Jump(Chain::Inbound));

    let mut bypass = vec![
        PortRange::single(config.capture_port),
        PortRange::single(config.admin_port),
    ];
    if config.mesh == ServiceMesh::Istio {
        bypass.push(ISTIO_PORTS);
    }
    bypass.extend(config.exclude.iter().copied());
    bypass.sort();
    bypass.dedup();
    // A range already covered by an earlier, wider one would be a dead rule.
    let mut kept: Vec<PortRange> = Vec::new();
    for r in bypass {
        if !kept.iter().any(|k| k.start <= r.start && r.end <= k.end) {
            kept.push(r);
        }
    }
    for r in kept {
        push(Chain::Inbound, vec![Match::DstPort(r)], Verdict::Return);
    }
    match &config.include {
        PortSelection::All => push(Chain::Inbound, vec![], Verdict::Jump(Chain::Redirect)),
        PortSelection::Only(list) => {
            for r in list {
                push(
                    Chain::Inbound,
                    vec![Match::DstPort(*r)],
                    Verdict::Jump(Chain::Redirect),
                );
            }
        }
    }
    push(
        Chain::Redirect,
        vec![],
        Verdict::RedirectTo(config.capture_port),
    );

    let mut chains = vec![
        Chain::Prerouting,
        Chain::Output,
        Chain::Inbound,
        Chain::Redirect,
    ];
    push(
        Chain::Output,
        vec![
            Match::ValidationDst,
            Match::DstPort(PortRange::single(VALIDATION_PORT)),
        ],
        Verdict::RedirectTo(config.capture_port),
    );
    if config.mesh == ServiceMesh::Istio {
        chains.push(Chain::MeshOutput);
        push(Chain::Output, vec![], Verdict::Jump(Chain::MeshOutput));
        push(
            Chain::MeshOutput,
            vec![Match::Uid(config.engine_uid)],
            Verdict::Return,
        );
        push(
            Chain::MeshOutput,
            vec![Match::Gid(config.engine_gid)],
            Verdict::Return,
        );
        push(
            Chain::MeshOutput,
            vec![Match::MeshLoopbackSource, Match::Uid(ISTIO_PROXY_UID)],
            Verdict::Jump(Chain::Inbound),
        );
    }
    // Keep rules grouped by chain in chain order so renderings read top to bottom.
    rules.sort_by_key(|r| chains.iter().position(|c| *c == r.chain));
    Plan {
        families: config.families,
        chains,
        rules,
    }
}
