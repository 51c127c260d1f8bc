//! Per-transaction side of the rule prefilter ([`crate::ruleset::prefilter`]): for a
//! request list (ARGS, headers, cookies, their names) and a transformation chain,
//! which `@rx` links may match which value.
//!
//! Each value is scanned once for the literals of all rules; the transformed value is
//! scanned again only when a chain changed more than its ASCII case (the automaton
//! ignores case). Results are kept for the rest of the phase: rules do not change the
//! request lists, and [`State::clear`] runs at the start of every phase, after the host
//! handed over new data.
use super::store::Store;
use crate::ruleset::prefilter::Prefilter;
use crate::transform::Transform;
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

fn list<'a>(store: &'a Store, id: u8) -> impl Iterator<Item = &'a [u8]> + 'a {
    let pairs = match id & !NAMES {
        ARGS_GET => &store.args_get,
        ARGS_POST => &store.args_post,
        HEADERS => &store.headers,
        _ => &store.cookies,
    };
    let names = id & NAMES != 0;
    pairs
        .iter()
        .map(move |(k, v)| if names { k.as_slice() } else { v.as_slice() })
}

#[derive(Default)]
pub struct State {
    lists: [Option<ListMemo>; LISTS],
}

#[derive(Default)]
struct ListMemo {
    values: Vec<ValueMemo>,
    /// Per group: a row of link bits per value, and their union.
    rows: Vec<Option<Rows>>,
}

struct Rows {
    words: usize,
    bits: Vec<u64>,
    any: Vec<u64>,
}

/// What is known about one value: its literals, and which transformations leave it
/// (and its lower-cased form) unchanged.
#[derive(Default)]
struct ValueMemo {
    raw_lits: Option<Vec<u32>>,
    lower: Option<Vec<u8>>,
    lower_lits: Option<Vec<u32>>,
    raw_noop: NoopMemo,
    lower_noop: NoopMemo,
}

/// `Transform::is_noop` answers for one byte string, by transformation.
#[derive(Default)]
struct NoopMemo {
    known: u64,
    noop: u64,
}

impl NoopMemo {
    fn is_noop(&mut self, t: Transform, s: &[u8]) -> bool {
        let bit = 1u64 << (t as u64 % 64);
        if self.known & bit == 0 {
            self.known |= bit;
            if t.is_noop(s) {
                self.noop |= bit;
            }
        }
        self.noop & bit != 0
    }
}

/// The ids of the literals `s` holds (ASCII case ignored), sorted.
fn scan(pf: &Prefilter, s: &[u8]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
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
    if out.len() > 1 {
        out.sort_unstable();
        out.dedup();
    }
    out
}

impl ValueMemo {
    /// Literal ids present in `raw` after `chain`, computed as `eval::transformed` would;
    /// with `multi`, in `raw` or any value on the way (as `eval::multi_match` sees them).
    fn literals(
        &mut self,
        pf: &Prefilter,
        chain: &[Transform],
        raw: &[u8],
        multi: bool,
    ) -> Lits<'_> {
        if multi {
            return Lits::Owned(self.literals_on_the_way(pf, chain, raw));
        }
        enum At {
            Raw,
            Lower,
            Other(Vec<u8>),
        }
        let mut at = At::Raw;
        let mut next = Vec::new();
        for &t in chain {
            at = match at {
                At::Raw if self.raw_noop.is_noop(t, raw) => At::Raw,
                At::Raw if t == Transform::Lowercase => At::Lower,
                At::Raw => {
                    t.apply(raw, &mut next);
                    At::Other(std::mem::take(&mut next))
                }
                At::Lower => {
                    let lower = self.lower.get_or_insert_with(|| {
                        let mut l = Vec::new();
                        Transform::Lowercase.apply(raw, &mut l);
                        l
                    });
                    if self.lower_noop.is_noop(t, lower) {
                        At::Lower
                    } else {
                        t.apply(lower, &mut next);
                        At::Other(std::mem::take(&mut next))
                    }
                }
                At::Other(cur) => {
                    if t.is_noop(&cur) {
                        At::Other(cur)
                    } else {
                        t.apply(&cur, &mut next);
                        At::Other(std::mem::replace(&mut next, cur))
                    }
                }
            };
        }
        let final_bytes: Option<Vec<u8>> = match at {
            At::Raw => None,
            At::Lower => {
                let lower = self.lower.as_deref().unwrap_or(raw);
                if lower.eq_ignore_ascii_case(raw) {
                    None
                } else {
                    let lits = self.lower_lits.get_or_insert_with(|| scan(pf, lower));
                    return Lits::Borrowed(lits);
                }
            }
            At::Other(cur) if cur.eq_ignore_ascii_case(raw) => None,
            At::Other(cur) => Some(cur),
        };
        match final_bytes {
            None => Lits::Borrowed(self.raw_lits.get_or_insert_with(|| scan(pf, raw))),
            Some(cur) => Lits::Owned(scan(pf, &cur)),
        }
    }
}

impl ValueMemo {
    fn raw_lits(&mut self, pf: &Prefilter, raw: &[u8]) -> &[u32] {
        self.raw_lits.get_or_insert_with(|| scan(pf, raw))
    }

    fn literals_on_the_way(&mut self, pf: &Prefilter, chain: &[Transform], raw: &[u8]) -> Vec<u32> {
        let mut all = self.raw_lits(pf, raw).to_vec();
        let mut cur = raw.to_vec();
        let mut next = Vec::new();
        for &t in chain {
            if t.is_noop(&cur) {
                continue;
            }
            t.apply(&cur, &mut next);
            std::mem::swap(&mut cur, &mut next);
            if !cur.eq_ignore_ascii_case(raw) {
                all.extend(scan(pf, &cur));
            }
        }
        all.sort_unstable();
        all.dedup();
        all
    }
}

enum Lits<'a> {
    Borrowed(&'a [u32]),
    Owned(Vec<u32>),
}

impl State {
    /// Forgets everything: the host may have changed the request lists.
    pub fn clear(&mut self) {
        self.lists = Default::default();
    }

    /// Whether any value of list `id` may match link `bit` of `group`.
    pub fn any(&mut self, pf: &Prefilter, store: &Store, id: u8, group: u32, bit: u32) -> bool {
        let rows = self.rows(pf, store, id, group);
        rows.any[bit as usize / 64] & (1 << (bit % 64)) != 0
    }

    /// Whether value `index` of list `id` may match link `bit` of `group`.
    pub fn may_match(
        &mut self,
        pf: &Prefilter,
        store: &Store,
        id: u8,
        index: usize,
        group: u32,
        bit: u32,
    ) -> bool {
        let rows = self.rows(pf, store, id, group);
        let w = index * rows.words + bit as usize / 64;
        // A value the rows do not cover is evaluated: never skip on doubt.
        rows.bits.get(w).is_none_or(|b| b & (1 << (bit % 64)) != 0)
    }

    fn rows(&mut self, pf: &Prefilter, store: &Store, id: u8, group: u32) -> &Rows {
        let memo = self.lists[usize::from(id)].get_or_insert_with(ListMemo::default);
        if memo.rows.len() <= group as usize {
            memo.rows.resize_with(group as usize + 1, || None);
        }
        let values = &mut memo.values;
        memo.rows[group as usize].get_or_insert_with(|| {
            let words = pf.words(group);
            let chain = &pf.groups[group as usize].transforms;
            let multi = pf.groups[group as usize].multi;
            let n = list(store, id).count();
            if values.len() < n {
                values.resize_with(n, ValueMemo::default);
            }
            let mut bits = vec![0u64; n * words];
            let mut any = vec![0u64; words];
            for (i, raw) in list(store, id).enumerate() {
                let lits = values[i].literals(pf, chain, raw, multi);
                let lits: &[u32] = match &lits {
                    Lits::Borrowed(l) => l,
                    Lits::Owned(l) => l,
                };
                for &lit in lits {
                    for &(_, bit) in pf.owners_in(lit, group) {
                        let w = bit as usize / 64;
                        bits[i * words + w] |= 1 << (bit % 64);
                        any[w] |= 1 << (bit % 64);
                    }
                }
            }
            Rows { words, bits, any }
        })
    }
}
