//! Renderings of a [`Plan`](crate::Plan): `iptables-restore` input and an `nft -f` script.
//!
//! Both are written in exactly the form `iptables-save` / `nft list table` print, so the
//! check executor can compare the live ruleset with the rendering line by line.

pub mod iptables;
pub mod nft;

/// An IP family, for renderers that need one ruleset per family (iptables vs ip6tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn mesh_source(self) -> &'static str {
        match self {
            Family::V4 => "127.0.0.6",
            Family::V6 => "::6",
        }
    }

    /// The families a plan is installed for.
    pub fn of(families: crate::IpFamilies) -> Vec<Family> {
        let mut out = Vec::new();
        if families.v4 {
            out.push(Family::V4);
        }
        if families.v6 {
            out.push(Family::V6);
        }
        out
    }
}
