//! Per-transaction side of the rule prefilter ([`crate::ruleset::prefilter`]) and of
//! the transformation memo: for a request list (ARGS, headers, cookies, their names),
//! each value's output at every node of the chain trie it reaches, and which `@rx`
//! and `@pm` links may match which value.
//!
//! A value's output after a chain prefix is computed once, whichever rules' chains
//! share that prefix, and read by the prefilter and by rule evaluation alike (no hash
//! of the value, no copy when a step changes nothing). Each distinct output of a value
//! is scanned once for the literals of all rules, into the set of links whose literals
//! it holds; an output equal to another of the same value, or to the raw value but for
//! ASCII case (the automaton ignores case), is not scanned again. Everything is kept
//! while the lists stay the same: rules do not change the request lists, and the
//! lists the host's new data may change are forgotten at the start of a phase (see
//! `run_phase`).
use super::store::Store;
use crate::ruleset::prefilter::{Chains, Prefilter};
use crate::vars::Var;

/// The request lists the prefilter covers, values and names.
pub const ARGS_GET: u8 = 0;
pub const ARGS_POST: u8 = 2;
pub const HEADERS: u8 = 4;
pub const COOKIES: u8 = 6;
pub const LISTS: usize = 8;
/// Added to a list id for its names.
pub const NAMES: u8 = 1;

/// The lists a target variable reads, or `None` when the prefilter does not cover it.
pub fn lists_of(var: Var) -> Option<&'static [u8]> {
    Some(match var {
        Var::Args => &[ARGS_GET, ARGS_POST],
        Var::ArgsGet => &[ARGS_GET],
        Var::ArgsPost => &[ARGS_POST],
        Var::ArgsNames => &[ARGS_GET + NAMES, ARGS_POST + NAMES],
        Var::ArgsGetNames => &[ARGS_GET + NAMES],
        Var::ArgsPostNames => &[ARGS_POST + NAMES],
        Var::RequestHeaders => &[HEADERS],
        Var::RequestHeadersNames => &[HEADERS + NAMES],
        Var::RequestCookies => &[COOKIES],
        Var::RequestCookiesNames => &[COOKIES + NAMES],
        _ => return None,
    })
}

fn pairs(store: &Store, id: u8) -> &super::store::Pairs {
    match id & !NAMES {
        ARGS_GET => &store.args_get,
        ARGS_POST => &store.args_post,
        HEADERS => &store.headers,
        _ => &store.cookies,
    }
}

/// Value (or name) `i` of list `id`: the bytes `Store::visit` yields for that slot.
fn raw(store: &Store, id: u8, i: usize) -> &[u8] {
    match pairs(store, id).get(i) {
        Some((k, _)) if id & NAMES != 0 => k,
        Some((_, v)) => v,
        None => b"",
    }
}

/// One value's output at one chain node.
#[derive(Clone, Copy)]
enum Out {
    Unknown,
    /// The same bytes as node `.0`'s output (node 0: the raw value; otherwise a node
    /// whose output is `Own`).
    Same(u32),
    /// New bytes in the list's arena; `ci_raw` when they equal the raw value but for
    /// ASCII case.
    Own {
        start: u32,
        len: u32,
        ci_raw: bool,
    },
}

#[derive(Default)]
pub struct State {
    lists: [Option<ListMemo>; LISTS],
    path: Vec<u32>,
}

#[derive(Default)]
struct ListMemo {
    n: usize,
    /// By chain node: every value's output there (allocated the first time a rule's
    /// chain reaches the node).
    outs: Vec<Option<Vec<Out>>>,
    arena: Vec<u8>,
    scratch: Vec<u8>,
    /// By chain node whose outputs are `Own` (and node 0): the set of links whose
    /// literals each value's output holds (`words` words per value).
    masks: Vec<Option<Masks>>,
    /// By chain node: the union of `masks` over the raw value and every `Own` output
    /// on the way there, what a `multiMatch` link may match.
    path_masks: Vec<Option<Masks>>,
    /// By chain node, plain and `multiMatch`: the union over all values.
    any: [Vec<Option<Vec<u64>>>; 2],
    lit_scratch: Vec<u32>,
    row_scratch: Vec<u64>,
    path_scratch: Vec<u64>,
    /// Per value: the nodes whose outputs were scanned, to find equal outputs.
    scanned: Vec<Vec<u32>>,
}

struct Masks {
    done: Vec<bool>,
    bits: Vec<u64>,
}

impl Masks {
    fn new(n: usize, words: usize) -> Masks {
        Masks {
            done: vec![false; n],
            bits: vec![0; n * words],
        }
    }
}

/// Appends the ids of the literals `s` holds (ASCII case ignored) to `out`, in no
/// order and possibly repeated: they are OR-ed into a link set.
fn scan(pf: &Prefilter, s: &[u8], out: &mut Vec<u32>) {
    if !pf.bytes.is_empty() {
        let mut present = [0u64; 4];
        for &c in s {
            let c = c.to_ascii_lowercase();
            present[usize::from(c >> 6)] |= 1 << (c & 63);
        }
        for &(c, id) in &pf.bytes {
            if present[usize::from(c >> 6)] & (1 << (c & 63)) != 0 {
                out.push(id);
            }
        }
    }
    if let Some(ac) = &pf.ac {
        for m in ac.find_overlapping_iter(s) {
            out.push(pf.ac_ids[m.pattern().as_usize()]);
        }
    }
}

impl ListMemo {
    fn new(n: usize, nodes: usize) -> ListMemo {
        ListMemo {
            n,
            outs: (0..nodes).map(|_| None).collect(),
            masks: (0..nodes).map(|_| None).collect(),
            path_masks: (0..nodes).map(|_| None).collect(),
            any: [vec![None; nodes], vec![None; nodes]],
            scanned: vec![Vec::new(); n],
            ..Default::default()
        }
    }

    fn out(&self, node: u32, i: usize) -> Out {
        if node == 0 {
            return Out::Same(0);
        }
        self.outs[node as usize]
            .as_ref()
            .map_or(Out::Unknown, |v| v[i])
    }

    /// Where value `i`'s bytes at `node` live: node 0 (raw) or a node with `Own` output.
    fn src(&self, node: u32, i: usize) -> u32 {
        match self.out(node, i) {
            Out::Same(s) => s,
            _ => node,
        }
    }

    fn bytes<'a>(&'a self, raw: &'a [u8], node: u32, i: usize) -> &'a [u8] {
        let at = self.src(node, i);
        match self.out(at, i) {
            Out::Own { start, len, .. } => {
                &self.arena[start as usize..start as usize + len as usize]
            }
            _ => raw,
        }
    }

    /// Computes value `i`'s output at `node` (and at its ancestors) if not known yet,
    /// as `eval::transformed` would: a step proven a no-op, or whose result equals its
    /// input, leaves the bytes where they are.
    fn ensure(&mut self, chains: &Chains, raw: &[u8], node: u32, i: usize) {
        if node == 0 || !matches!(self.out(node, i), Out::Unknown) {
            return;
        }
        let parent = chains.parent[node as usize];
        self.ensure(chains, raw, parent, i);
        let t = chains.step[node as usize];
        let psrc = self.src(parent, i);
        let out = {
            let input = self.bytes(raw, parent, i);
            if t.is_noop(input) {
                Out::Same(psrc)
            } else {
                let mut scratch = std::mem::take(&mut self.scratch);
                t.apply(self.bytes(raw, parent, i), &mut scratch);
                let same = scratch.as_slice() == self.bytes(raw, parent, i);
                let out = if same {
                    Out::Same(psrc)
                } else {
                    let start = self.arena.len() as u32;
                    let ci_raw = scratch.eq_ignore_ascii_case(raw);
                    self.arena.extend_from_slice(&scratch);
                    Out::Own {
                        start,
                        len: scratch.len() as u32,
                        ci_raw,
                    }
                };
                self.scratch = scratch;
                out
            }
        };
        let n = self.n;
        self.outs[node as usize].get_or_insert_with(|| vec![Out::Unknown; n])[i] = out;
    }

    /// Where the literals of value `i`'s output at `node` are kept: the node holding
    /// its bytes, or node 0 when they equal the raw value but for ASCII case.
    fn lits_src(&self, node: u32, i: usize) -> u32 {
        let at = self.src(node, i);
        match self.out(at, i) {
            Out::Own { ci_raw: false, .. } => at,
            _ => 0,
        }
    }

    /// The links whose literals value `i`'s output at `at` (a `lits_src`) holds.
    fn mask(&mut self, pf: &Prefilter, raw: &[u8], at: u32, i: usize) -> &[u64] {
        let (n, w) = (self.n, pf.words);
        let computed = self.masks[at as usize].as_ref().is_some_and(|m| m.done[i]);
        if !computed {
            // Different chains often end in the same bytes (`t:removeWhitespace` at
            // several places in the trie): reuse the set of an equal output.
            let twin = self.scanned[i]
                .iter()
                .copied()
                .find(|&p| self.bytes(raw, p, i) == self.bytes(raw, at, i));
            let mut row = std::mem::take(&mut self.row_scratch);
            row.clear();
            row.resize(w, 0);
            match twin {
                Some(p) => {
                    if let Some(m) = &self.masks[p as usize] {
                        row.copy_from_slice(&m.bits[i * w..(i + 1) * w]);
                    }
                }
                None => {
                    let mut lits = std::mem::take(&mut self.lit_scratch);
                    lits.clear();
                    scan(pf, self.bytes(raw, at, i), &mut lits);
                    for &lit in &lits {
                        for (r, l) in row.iter_mut().zip(pf.links_of(lit)) {
                            *r |= l;
                        }
                    }
                    self.lit_scratch = lits;
                    self.scanned[i].push(at);
                }
            }
            let m = self.masks[at as usize].get_or_insert_with(|| Masks::new(n, w));
            m.bits[i * w..(i + 1) * w].copy_from_slice(&row);
            m.done[i] = true;
            self.row_scratch = row;
        }
        match &self.masks[at as usize] {
            Some(m) => &m.bits[i * w..(i + 1) * w],
            None => &[],
        }
    }

    /// The links value `i` may match after the chain at `node` (computed): those of its
    /// output there, or with `multi` those of every output on the way.
    fn links(&mut self, pf: &Prefilter, raw: &[u8], node: u32, multi: bool, i: usize) -> &[u64] {
        if !multi || node == 0 {
            let at = self.lits_src(node, i);
            return self.mask(pf, raw, at, i);
        }
        let (n, w) = (self.n, pf.words);
        let computed = self.path_masks[node as usize]
            .as_ref()
            .is_some_and(|m| m.done[i]);
        if !computed {
            let parent = pf.chains.parent[node as usize];
            let mut row = std::mem::take(&mut self.path_scratch);
            row.clear();
            row.extend_from_slice(self.links(pf, raw, parent, true, i));
            if matches!(self.out(node, i), Out::Own { .. }) {
                let at = self.lits_src(node, i);
                for (r, l) in row.iter_mut().zip(self.mask(pf, raw, at, i)) {
                    *r |= l;
                }
            }
            let m = self.path_masks[node as usize].get_or_insert_with(|| Masks::new(n, w));
            m.bits[i * w..(i + 1) * w].copy_from_slice(&row);
            m.done[i] = true;
            self.path_scratch = row;
        }
        match &self.path_masks[node as usize] {
            Some(m) => &m.bits[i * w..(i + 1) * w],
            None => &[],
        }
    }
}

impl State {
    /// Forgets everything: the host may have changed the request lists.
    pub fn clear(&mut self) {
        self.lists = Default::default();
    }

    /// Forgets the body's arguments (`ARGS_POST` and its names).
    pub fn clear_body(&mut self) {
        self.lists[usize::from(ARGS_POST)] = None;
        self.lists[usize::from(ARGS_POST + NAMES)] = None;
    }

    /// Forgets any list whose length changed since it was memoized (a safety net: the
    /// phases clear what their new data may change).
    pub fn forget_changed(&mut self, store: &Store) {
        for (id, slot) in self.lists.iter_mut().enumerate() {
            if slot
                .as_ref()
                .is_some_and(|m| m.n != pairs(store, id as u8).len())
            {
                *slot = None;
            }
        }
    }

    fn memo(&mut self, pf: &Prefilter, store: &Store, id: u8) -> &mut ListMemo {
        self.lists[usize::from(id)]
            .get_or_insert_with(|| ListMemo::new(pairs(store, id).len(), pf.chains.len()))
    }

    /// Value `i` of list `id` after the chain at trie `node`, computed once per phase.
    pub fn output<'a>(
        &'a mut self,
        pf: &Prefilter,
        store: &'a Store,
        id: u8,
        node: u32,
        i: usize,
    ) -> &'a [u8] {
        let raw = raw(store, id, i);
        let memo = self.memo(pf, store, id);
        if i >= memo.n {
            return raw;
        }
        memo.ensure(&pf.chains, raw, node, i);
        memo.bytes(raw, node, i)
    }

    /// The outputs a `multiMatch` link sees after its chain's steps, in order: the
    /// output of every step that changed its input (the raw value comes first and is
    /// not included). `f` returns true to stop.
    pub fn changed_on_path(
        &mut self,
        pf: &Prefilter,
        store: &Store,
        id: u8,
        node: u32,
        i: usize,
        f: &mut dyn FnMut(&[u8]) -> bool,
    ) {
        let raw = raw(store, id, i);
        let mut path = std::mem::take(&mut self.path);
        pf.chains.path(node, &mut path);
        let memo = self.memo(pf, store, id);
        if i < memo.n {
            memo.ensure(&pf.chains, raw, node, i);
            for &n in &path {
                if matches!(memo.out(n, i), Out::Own { .. }) && f(memo.bytes(raw, n, i)) {
                    break;
                }
            }
        }
        self.path = path;
    }

    /// Whether any value of list `id` may match prefilter link `bit`, whose chain ends
    /// at trie `node`.
    pub fn any(
        &mut self,
        pf: &Prefilter,
        store: &Store,
        id: u8,
        node: u32,
        multi: bool,
        bit: u32,
    ) -> bool {
        let memo = self.memo(pf, store, id);
        let slot = usize::from(multi);
        if memo.any[slot][node as usize].is_none() {
            let mut union = vec![0u64; pf.words];
            for i in 0..memo.n {
                let raw = raw(store, id, i);
                memo.ensure(&pf.chains, raw, node, i);
                for (u, l) in union.iter_mut().zip(memo.links(pf, raw, node, multi, i)) {
                    *u |= l;
                }
            }
            memo.any[slot][node as usize] = Some(union);
        }
        memo.any[slot][node as usize]
            .as_ref()
            .and_then(|u| u.get(bit as usize / 64))
            .is_none_or(|b| b & (1 << (bit % 64)) != 0)
    }

    /// Whether value `i` of list `id` may match prefilter link `bit` (chain at `node`).
    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
    pub fn may_match(
        &mut self,
        pf: &Prefilter,
        store: &Store,
        id: u8,
        i: usize,
        node: u32,
        multi: bool,
        bit: u32,
    ) -> bool {
        let raw = raw(store, id, i);
        let memo = self.memo(pf, store, id);
        // A value the memo does not cover is evaluated: never skip on doubt.
        if i >= memo.n {
            return true;
        }
        memo.ensure(&pf.chains, raw, node, i);
        memo.links(pf, raw, node, multi, i)
            .get(bit as usize / 64)
            .is_none_or(|b| b & (1 << (bit % 64)) != 0)
    }
}
