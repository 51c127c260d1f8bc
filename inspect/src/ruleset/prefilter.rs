//! The rule prefilter, built once at load: for every `@rx` rule link, the literals one
//! of which must occur in a value for its regex to match (see
//! [`crate::operators::literals`]), and one Aho-Corasick automaton over all of them.
//!
//! At run time each request value is scanned once for all literals; a link whose
//! literals are all absent from the (transformed) value is not evaluated on it. Links
//! are grouped by transformation chain because the regex sees the transformed value.
use crate::operators::{OpKind, Rx, literals};
use crate::rule::Rule;
use crate::transform::Transform;
use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::HashMap;
use std::sync::Arc;

/// Links that share one transformation chain.
#[derive(Debug)]
pub struct Group {
    pub transforms: Arc<[Transform]>,
    /// `multiMatch` links: the regex also runs on every intermediate value, so the
    /// literals of all of them count.
    pub multi: bool,
    /// Number of links in the group (bits of a row).
    pub links: usize,
}

#[derive(Debug)]
pub struct Prefilter {
    pub groups: Vec<Group>,
    /// One automaton over every distinct literal of two bytes or more, lower-cased,
    /// ASCII case ignored; `ac_ids` maps its pattern ids to literal ids.
    pub ac: Option<AhoCorasick>,
    pub ac_ids: Vec<u32>,
    /// Single-byte literals (lower-cased) and their ids: a byte-presence check is far
    /// cheaper than reporting every occurrence of a common byte from the automaton.
    pub bytes: Vec<(u8, u32)>,
    /// Per literal id: the (group, bit) of each link needing it, sorted by group.
    pub owners: Vec<Vec<(u32, u32)>>,
    /// The literals, by pattern id.
    pub literals: Vec<Vec<u8>>,
}

impl Prefilter {
    /// Links, groups and literals by length, for the benchmark's report.
    pub fn summary(&self) -> String {
        let links: usize = self.groups.iter().map(|g| g.links).sum();
        let mut by_len = [0usize; 4];
        for l in &self.literals {
            by_len[l.len().clamp(1, 4) - 1] += 1;
        }
        format!(
            "{links} @rx links prefiltered in {} transformation groups; literals of length 1/2/3/4+: {}/{}/{}/{}",
            self.groups.len(),
            by_len[0],
            by_len[1],
            by_len[2],
            by_len[3]
        )
    }

    /// The bits of `group`'s links that need literal `lit`.
    pub fn owners_in(&self, lit: u32, group: u32) -> &[(u32, u32)] {
        let o = &self.owners[lit as usize];
        let start = o.partition_point(|&(g, _)| g < group);
        let end = start + o[start..].partition_point(|&(g, _)| g == group);
        &o[start..end]
    }

    /// Words of a group's row bitset.
    pub fn words(&self, group: u32) -> usize {
        self.groups[group as usize].links.div_ceil(64)
    }
}

/// Whether a link may be skipped on values lacking its literals: a plain (not negated)
/// regex the `regex` crate compiled.
fn eligible(link: &Rule) -> Option<&regex::bytes::Regex> {
    if link.operator.negated || link.targets.is_empty() {
        return None;
    }
    match &link.operator.kind {
        OpKind::Rx(rx) => match rx.as_ref() {
            Rx::Fast(re) => Some(re),
            _ => None,
        },
        _ => None,
    }
}

/// Assigns `Rule::prefilter` to every eligible link and builds the automaton.
pub fn build(rules: &mut [Rule]) -> Prefilter {
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of: HashMap<(u32, bool), u32> = HashMap::new();
    let mut lit_ids: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut lits: Vec<Vec<u8>> = Vec::new();
    let mut owners: Vec<Vec<(u32, u32)>> = Vec::new();
    for rule in rules.iter_mut() {
        let mut link: Option<&mut Rule> = Some(rule);
        while let Some(l) = link {
            l.prefilter = None;
            if let Some(set) = eligible(l).and_then(|re| literals::required(re.as_str())) {
                let g = *group_of
                    .entry((l.tchain, l.multi_match))
                    .or_insert_with(|| {
                        groups.push(Group {
                            transforms: l.transforms.clone(),
                            multi: l.multi_match,
                            links: 0,
                        });
                        (groups.len() - 1) as u32
                    });
                let bit = groups[g as usize].links as u32;
                groups[g as usize].links += 1;
                for s in set {
                    let id = *lit_ids.entry(s.clone()).or_insert_with(|| {
                        lits.push(s);
                        owners.push(Vec::new());
                        lits.len() - 1
                    });
                    owners[id].push((g, bit));
                }
                l.prefilter = Some((g, bit));
            }
            link = l.chain.as_deref_mut();
        }
    }
    for o in &mut owners {
        o.sort_unstable();
    }
    let mut ac_ids = Vec::new();
    let mut bytes = Vec::new();
    let mut multi: Vec<&[u8]> = Vec::new();
    for (id, l) in lits.iter().enumerate() {
        match l.as_slice() {
            [b] => bytes.push((*b, id as u32)),
            _ => {
                ac_ids.push(id as u32);
                multi.push(l);
            }
        }
    }
    let ac = if multi.is_empty() {
        None
    } else {
        match AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&multi)
        {
            Ok(ac) => Some(ac),
            Err(e) => {
                // Without the automaton every rule is evaluated: slower, same verdicts.
                tracing::warn!(error = %e, "rule prefilter not built; evaluating every rule");
                clear(rules);
                return Prefilter {
                    groups: Vec::new(),
                    ac: None,
                    ac_ids: Vec::new(),
                    bytes: Vec::new(),
                    owners: Vec::new(),
                    literals: Vec::new(),
                };
            }
        }
    };
    tracing::debug!(
        literals = lits.len(),
        groups = groups.len(),
        "rule prefilter built"
    );
    Prefilter {
        groups,
        ac,
        ac_ids,
        bytes,
        owners,
        literals: lits,
    }
}

fn clear(rules: &mut [Rule]) {
    for rule in rules.iter_mut() {
        let mut link: Option<&mut Rule> = Some(rule);
        while let Some(l) = link {
            l.prefilter = None;
            link = l.chain.as_deref_mut();
        }
    }
}
