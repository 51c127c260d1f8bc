//! Required literals of a regular expression, for the rule prefilter.
//!
//! [`required`] returns a set of byte strings such that every match of the pattern
//! contains at least one of them (compared ignoring ASCII case), or `None` when no
//! such small set is known. The prefilter scans a value once for the literals of all
//! rules and skips a rule's regex when none of its literals occurs: that regex could
//! not have matched, so skipping it changes nothing but the time spent.
//!
//! The analysis only ever weakens a requirement (drops a piece, shortens a string);
//! it never invents one, which is what makes skipping sound.
use regex_syntax::hir::{Class, Hir, HirKind};

/// At most this many alternatives in one set (`(?:union|select|insert)` is three).
const MAX_ALTERNATIVES: usize = 64;
/// Strings are cut to this length: a prefix of a required string is required too.
const MAX_LEN: usize = 24;
/// A class of at most this many bytes (after folding ASCII case) is expanded.
const MAX_CLASS: usize = 4;

/// Lower-cased byte strings; one of them occurs in every match.
pub type Literals = Vec<Vec<u8>>;

/// The required literals of `pattern`, parsed as the `regex` crate parsed it
/// (bytes, no Unicode); `None` when none are known or the pattern does not parse.
pub fn required(pattern: &str) -> Option<Literals> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    let info = analyze(&hir);
    info.best().filter(|set| !set.is_empty())
}

/// What one node of the pattern guarantees.
#[derive(Debug, Clone, Default)]
struct Info {
    /// The node matches exactly one of these strings (up to ASCII case).
    exact: Option<Literals>,
    /// Every match of the node contains one of these.
    required: Option<Literals>,
}

impl Info {
    fn exact(set: Literals) -> Info {
        Info {
            exact: Some(set),
            required: None,
        }
    }

    fn unknown() -> Info {
        Info::default()
    }

    /// The most selective requirement this node gives, never one holding "".
    fn best(&self) -> Option<Literals> {
        let a = self.exact.clone().filter(usable);
        let b = self.required.clone().filter(usable);
        match (a, b) {
            (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

fn usable(set: &Literals) -> bool {
    !set.is_empty() && set.iter().all(|s| !s.is_empty())
}

/// Longer shortest string first, then fewer alternatives.
fn score(set: &Literals) -> (usize, std::cmp::Reverse<usize>) {
    let min = set.iter().map(Vec::len).min().unwrap_or(0);
    (min, std::cmp::Reverse(set.len()))
}

fn analyze(hir: &Hir) -> Info {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Info::exact(vec![Vec::new()]),
        HirKind::Literal(lit) => {
            let mut s = lit.0.to_ascii_lowercase();
            if s.len() > MAX_LEN {
                s.truncate(MAX_LEN);
                return Info {
                    exact: None,
                    required: Some(vec![s]),
                };
            }
            Info::exact(vec![s])
        }
        HirKind::Class(c) => match class_bytes(c) {
            Some(bytes) => Info::exact(bytes.into_iter().map(|b| vec![b]).collect()),
            None => Info::unknown(),
        },
        HirKind::Capture(c) => analyze(&c.sub),
        HirKind::Repetition(r) => {
            let sub = analyze(&r.sub);
            if r.min == 0 {
                // `x?` is "x or nothing"; longer optional runs give nothing.
                return match (r.max, sub.exact) {
                    (Some(1), Some(mut set)) if set.len() < MAX_ALTERNATIVES => {
                        set.push(Vec::new());
                        dedup(&mut set);
                        Info::exact(set)
                    }
                    _ => Info::unknown(),
                };
            }
            if r.max == Some(1) {
                return sub;
            }
            Info {
                exact: None,
                required: sub.best(),
            }
        }
        HirKind::Concat(children) => concat(children),
        HirKind::Alternation(children) => alternation(children),
    }
}

fn concat(children: &[Hir]) -> Info {
    let mut run: Literals = vec![Vec::new()];
    let mut run_exact = true;
    let mut candidates: Vec<Literals> = Vec::new();
    for child in children {
        let info = analyze(child);
        match &info.exact {
            Some(set) => match cross(&run, set) {
                Some(joined) => run = joined,
                None => {
                    // Too many or too long: what was joined so far stays required.
                    run_exact = false;
                    candidates.push(std::mem::replace(&mut run, set.clone()));
                }
            },
            None => {
                run_exact = false;
                candidates.push(std::mem::replace(&mut run, vec![Vec::new()]));
                if let Some(req) = info.best() {
                    candidates.push(req);
                }
            }
        }
    }
    if run_exact {
        return Info::exact(run);
    }
    candidates.push(run);
    let required = candidates.into_iter().filter(usable).max_by_key(score);
    Info {
        exact: None,
        required,
    }
}

fn alternation(children: &[Hir]) -> Info {
    let infos: Vec<Info> = children.iter().map(analyze).collect();
    let exact = if infos.iter().all(|i| i.exact.is_some()) {
        let mut all: Literals = infos
            .iter()
            .flat_map(|i| i.exact.iter().flatten().cloned())
            .collect();
        dedup(&mut all);
        (all.len() <= MAX_ALTERNATIVES).then_some(all)
    } else {
        None
    };
    // Any match matches one branch, so it holds one of that branch's literals.
    let mut required: Literals = Vec::new();
    for info in &infos {
        match info.best() {
            Some(set) => required.extend(set),
            None => {
                return Info {
                    exact,
                    required: None,
                };
            }
        }
    }
    dedup(&mut required);
    Info {
        exact,
        required: (required.len() <= MAX_ALTERNATIVES * 4).then_some(required),
    }
}

/// Every string of `a` followed by every string of `b`, when small enough.
fn cross(a: &Literals, b: &Literals) -> Option<Literals> {
    if a.len() * b.len() > MAX_ALTERNATIVES {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            if x.len() + y.len() > MAX_LEN {
                return None;
            }
            let mut s = x.clone();
            s.extend_from_slice(y);
            out.push(s);
        }
    }
    dedup(&mut out);
    Some(out)
}

fn dedup(set: &mut Literals) {
    set.sort();
    set.dedup();
}

/// The bytes a small class matches, lower-cased and deduplicated.
fn class_bytes(c: &Class) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let mut push_range = |start: u32, end: u32| -> Option<()> {
        if end - start >= 2 * MAX_CLASS as u32 || end > 0xff {
            return None;
        }
        for b in start..=end {
            let b = u8::try_from(b).ok()?.to_ascii_lowercase();
            if !out.contains(&b) {
                out.push(b);
            }
        }
        Some(())
    };
    match c {
        Class::Bytes(b) => {
            for r in b.ranges() {
                push_range(u32::from(r.start()), u32::from(r.end()))?;
            }
        }
        Class::Unicode(u) => {
            for r in u.ranges() {
                // Above ASCII a char is several bytes in the haystack: give up.
                if u32::from(r.end()) > 0x7f {
                    return None;
                }
                push_range(u32::from(r.start()), u32::from(r.end()))?;
            }
        }
    }
    (!out.is_empty() && out.len() <= MAX_CLASS).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(p: &str) -> Option<Vec<String>> {
        required(p).map(|s| {
            s.into_iter()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect()
        })
    }

    #[test]
    fn plain_and_case_insensitive_words_are_required() {
        assert_eq!(req("(?i)union\\s+select"), Some(vec!["select".into()]));
        assert_eq!(req("<script"), Some(vec!["<script".into()]));
    }

    #[test]
    fn alternation_requires_one_of_its_branches() {
        assert_eq!(
            req("(?:onload|onerror)="),
            Some(vec!["onerror=".into(), "onload=".into()])
        );
    }

    #[test]
    fn optional_or_unbounded_parts_require_nothing() {
        assert_eq!(req("a*"), None);
        assert_eq!(req("(?:abc)?"), None);
        assert_eq!(req(".*"), None);
        assert_eq!(req("^$"), None);
        assert_eq!(req("abc|.*"), None);
    }

    #[test]
    fn every_match_contains_a_required_literal() {
        let patterns = [
            r"(?i)(?:\bor\b|\band\b)\s*\d+\s*=\s*\d+",
            r"(?i)<(?:script|iframe|object)[^>]*>",
            r"(?:\.\./|\.\.\\)+etc/passwd",
            r"[a-z]{3}x?[0-9]",
            r"(?i)select.{0,40}from",
        ];
        let inputs = [
            "1 OR 2=2",
            "x AnD 3 = 3",
            "<SCRIPT src=x>",
            "<iframe>",
            "../..\\etc/passwd",
            "abcx1",
            "abc7",
            "SeLeCt * FrOm users",
        ];
        for p in patterns {
            let re = regex::bytes::RegexBuilder::new(p)
                .unicode(false)
                .build()
                .unwrap();
            let lits = required(p);
            for i in inputs {
                // A pattern without literals is always evaluated: nothing to check.
                if let Some(lits) = &lits
                    && re.is_match(i.as_bytes())
                {
                    let lower = i.to_ascii_lowercase();
                    assert!(
                        lits.iter()
                            .any(|l| lower.as_bytes().windows(l.len()).any(|w| w == l.as_slice())),
                        "{p} matched {i:?} but none of {lits:?} occurs"
                    );
                }
            }
        }
    }
}
