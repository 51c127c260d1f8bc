//! `@rx`: the `regex` crate (linear time) first; PCRE2 for patterns it cannot
//! compile (look-around, back-references), bounded by PCRE2's match limit.
use super::Captures;
use crate::macros::{Macro, Resolver};

/// ModSecurity compiles with DOTALL and MULTILINE.
const FLAGS: &str = "(?sm)";

#[derive(Debug)]
pub enum Rx {
    Fast(regex::bytes::Regex),
    Pcre(pcre2::bytes::Regex),
    /// The pattern holds macros: expanded and compiled per evaluation.
    Dynamic(Macro),
}

impl Rx {
    pub fn new(pattern: &str) -> Result<Rx, String> {
        let mac = Macro::parse(pattern)?;
        if !mac.is_literal() {
            return Ok(Rx::Dynamic(mac));
        }
        compile(pattern)
    }

    pub fn is_fast(&self) -> bool {
        matches!(self, Rx::Fast(_))
    }

    pub fn eval(&self, input: &[u8], r: &dyn Resolver, caps: Option<&mut Captures>) -> bool {
        match self {
            Rx::Fast(re) => match caps {
                None => re.is_match(input),
                Some(caps) => match re.captures(input) {
                    None => false,
                    Some(c) => {
                        caps.clear();
                        caps.extend(
                            c.iter()
                                .take(10)
                                .map(|m| m.map_or_else(Vec::new, |m| m.as_bytes().to_vec())),
                        );
                        true
                    }
                },
            },
            Rx::Pcre(re) => match caps {
                // A match-limit error counts as no match: bounded, never a hang.
                None => re.is_match(input).unwrap_or(false),
                Some(caps) => match re.captures(input) {
                    Ok(Some(c)) => {
                        caps.clear();
                        caps.extend(
                            (0..c.len().min(10))
                                .map(|i| c.get(i).map_or_else(Vec::new, |m| m.as_bytes().to_vec())),
                        );
                        true
                    }
                    _ => false,
                },
            },
            Rx::Dynamic(mac) => {
                let pat = mac.expand(r);
                match compile(&String::from_utf8_lossy(&pat)) {
                    Ok(rx) => rx.eval(input, r, caps),
                    Err(e) => {
                        tracing::debug!(error = %e, "dynamic @rx pattern does not compile");
                        false
                    }
                }
            }
        }
    }
}

fn compile(pattern: &str) -> Result<Rx, String> {
    let full = format!("{FLAGS}{pattern}");
    match regex::bytes::RegexBuilder::new(&full)
        .unicode(false)
        .size_limit(1 << 28)
        .dfa_size_limit(1 << 26)
        .build()
    {
        Ok(re) => Ok(Rx::Fast(re)),
        Err(fast_err) => pcre2::bytes::RegexBuilder::new()
            .dotall(true)
            .multi_line(true)
            .jit_if_available(true)
            .build(pattern)
            .map(Rx::Pcre)
            .map_err(|e| format!("{e} (regex crate: {fast_err})")),
    }
}
