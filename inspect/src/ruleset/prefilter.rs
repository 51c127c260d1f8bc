//! The rule prefilter, built once at load: for every `@rx` rule link, the literals one
//! of which must occur in a value for its regex to match (see
//! [`crate::operators::literals`]), for every `@pm` link its phrases, and one
//! Aho-Corasick automaton over all of them.
//!
//! At run time each request value is scanned once for all literals; a link whose
//! literals are all absent from the (transformed) value is not evaluated on it. Links
//! are grouped by transformation chain because the regex sees the transformed value.
use crate::operators::{OpKind, Rx, literals};
use crate::rule::Rule;
use crate::transform::Transform;
use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::HashMap;

/// Every transformation chain of the rule set, as one trie: CRS chains share long
/// prefixes (`t:none,t:utf8toUnicode,t:urlDecodeUni,...`), and a request value's output
/// after a prefix is computed once per transaction for every chain that starts with it.
#[derive(Debug)]
pub struct Chains {
    /// Node 0 is the untransformed value; node `n > 0` applies `step[n]` to the output of
    /// `parent[n]` (always a smaller index).
    pub parent: Vec<u32>,
    pub step: Vec<Transform>,
    children: HashMap<(u32, Transform), u32>,
    /// The node of each interned chain, by `Rule::tchain`.
    of_tchain: Vec<u32>,
}

impl Default for Chains {
    fn default() -> Self {
        Chains {
            parent: vec![0],
            // Never applied: node 0 has no step.
            step: vec![Transform::Lowercase],
            children: HashMap::new(),
            of_tchain: Vec::new(),
        }
    }
}

impl Chains {
    fn intern(&mut self, tchain: u32, chain: &[Transform]) -> u32 {
        let mut node = 0u32;
        for &t in chain {
            node = match self.children.get(&(node, t)) {
                Some(&child) => child,
                None => {
                    let child = self.parent.len() as u32;
                    self.parent.push(node);
                    self.step.push(t);
                    self.children.insert((node, t), child);
                    child
                }
            };
        }
        let i = tchain as usize;
        if self.of_tchain.len() <= i {
            self.of_tchain.resize(i + 1, u32::MAX);
        }
        self.of_tchain[i] = node;
        node
    }

    /// The trie node of a link's chain (`Rule::tchain`), if the link was seen at load.
    pub fn node_of(&self, tchain: u32) -> Option<u32> {
        self.of_tchain
            .get(tchain as usize)
            .copied()
            .filter(|&n| n != u32::MAX)
    }

    /// Number of nodes, the untransformed value included.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// The nodes from the first step to `node`, in application order (empty for node 0).
    pub fn path(&self, node: u32, out: &mut Vec<u32>) {
        out.clear();
        let mut n = node;
        while n != 0 {
            out.push(n);
            n = self.parent[n as usize];
        }
        out.reverse();
    }
}

/// Links that share one transformation chain.
#[derive(Debug)]
pub struct Group {
    /// The chain's node in [`Chains`].
    pub node: u32,
    /// `multiMatch` links: the regex also runs on every intermediate value, so the
    /// literals of all of them count.
    pub multi: bool,
    /// Number of links in the group.
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
    /// Links covered (bits of a link set).
    pub links: usize,
    /// Words of a link set: `links.div_ceil(64)`.
    pub words: usize,
    /// Per literal id, the set of links needing it: `words` words at `lit * words`.
    pub lit_links: Vec<u64>,
    /// The literals, by pattern id.
    pub literals: Vec<Vec<u8>>,
    /// Every link's transformation chain (not only the prefiltered ones).
    pub chains: Chains,
}

impl Prefilter {
    /// Links, groups and literals by length, for the benchmark's report.
    pub fn summary(&self) -> String {
        let links = self.links;
        let mut by_len = [0usize; 4];
        for l in &self.literals {
            by_len[l.len().clamp(1, 4) - 1] += 1;
        }
        format!(
            "{links} @rx and @pm links prefiltered in {} transformation groups; {} chain-trie nodes; automaton {} KiB; literals of length 1/2/3/4+: {}/{}/{}/{}",
            self.groups.len(),
            self.chains.len(),
            self.ac.as_ref().map_or(0, |a| a.memory_usage() / 1024),
            by_len[0],
            by_len[1],
            by_len[2],
            by_len[3]
        )
    }

    /// The links needing literal `lit`, as a link set.
    pub fn links_of(&self, lit: u32) -> &[u64] {
        let at = lit as usize * self.words;
        &self.lit_links[at..at + self.words]
    }
}

/// The literals one of which every value a link matches holds (lower-cased, ASCII case
/// ignored), when the link may be skipped on values lacking them: a plain (not negated)
/// regex the `regex` crate compiled, or a phrase match (`@pm`, `@pmFromFile`).
fn required_literals(link: &Rule) -> Option<literals::Literals> {
    if link.operator.negated || link.targets.is_empty() {
        return None;
    }
    match &link.operator.kind {
        OpKind::Rx(rx) => match rx.as_ref() {
            Rx::Fast(re) => literals::required(re.as_str()),
            _ => None,
        },
        OpKind::Pm(pm) if !pm.phrases().is_empty() => Some(pm.phrases().to_vec()),
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
    let mut chains = Chains::default();
    let mut links = 0u32;
    for rule in rules.iter_mut() {
        let mut link: Option<&mut Rule> = Some(rule);
        while let Some(l) = link {
            l.prefilter = None;
            let node = chains.intern(l.tchain, &l.transforms);
            if let Some(set) = required_literals(l) {
                let g = *group_of
                    .entry((l.tchain, l.multi_match))
                    .or_insert_with(|| {
                        groups.push(Group {
                            node,
                            multi: l.multi_match,
                            links: 0,
                        });
                        (groups.len() - 1) as u32
                    });
                let bit = links;
                links += 1;
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
    let words = (links as usize).div_ceil(64);
    let mut lit_links = vec![0u64; lits.len() * words];
    for (lit, o) in owners.iter().enumerate() {
        for &(_, bit) in o {
            lit_links[lit * words + bit as usize / 64] |= 1 << (bit % 64);
        }
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
        // The default (contiguous NFA) automaton: a DFA saves ~3 % of a form's
        // instructions but costs ~6 MiB of memory for the CRS's literals.
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
                    links: 0,
                    words: 0,
                    lit_links: Vec::new(),
                    literals: Vec::new(),
                    chains,
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
        links: links as usize,
        words,
        lit_links,
        literals: lits,
        chains,
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
