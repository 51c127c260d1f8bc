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
    /// One automaton over every distinct literal, lower-cased, ASCII case ignored.
    pub ac: Option<AhoCorasick>,
    /// Per literal (pattern id of `ac`): the (group, bit) of each link needing it.
    pub owners: Vec<Vec<(u32, u32)>>,
}

impl Prefilter {
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
    let ac = if lits.is_empty() {
        None
    } else {
        match AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&lits)
        {
            Ok(ac) => Some(ac),
            Err(e) => {
                // Without the automaton every rule is evaluated: slower, same verdicts.
                tracing::warn!(error = %e, "rule prefilter not built; evaluating every rule");
                clear(rules);
                return Prefilter {
                    groups: Vec::new(),
                    ac: None,
                    owners: Vec::new(),
                };
            }
        }
    };
    tracing::debug!(
        literals = lits.len(),
        groups = groups.len(),
        "rule prefilter built"
    );
    Prefilter { groups, ac, owners }
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
