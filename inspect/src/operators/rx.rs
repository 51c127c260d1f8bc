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
                // The DFA answers "no match" fast; captures run only on a hit.
                Some(_) if !re.is_match(input) => false,
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
                Some(_) if !re.is_match(input).unwrap_or(false) => false,
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

/// In PCRE without UTF mode `\x{e2}` is the byte 0xE2; the `regex` crate reads it as
/// the code point U+00E2, so rewrite the braced form to `\xe2` (escaped backslashes kept).
fn bytes_escapes(pattern: &str) -> String {
    let b = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if b[i + 1] == b'x' && b.get(i + 2) == Some(&b'{') {
                let digits = b[i + 3..]
                    .iter()
                    .take_while(|c| c.is_ascii_hexdigit())
                    .count();
                if (1..=2).contains(&digits) && b.get(i + 3 + digits) == Some(&b'}') {
                    out.push_str(&format!("\\x{:0>2}", &pattern[i + 3..i + 3 + digits]));
                    i += 4 + digits;
                    continue;
                }
            }
            // Copy the escape pair whole; the second byte may start a UTF-8 sequence.
            let next = pattern[i + 1..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&pattern[i..i + 1 + next]);
            i += 1 + next;
            continue;
        }
        let c = pattern[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&pattern[i..i + c]);
        i += c;
    }
    out
}

fn compile(pattern: &str) -> Result<Rx, String> {
    let full = format!("{FLAGS}{}", bytes_escapes(pattern));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::macros::NoVars;

    #[test]
    fn braced_hex_escapes_match_bytes_like_pcre() {
        let rx = Rx::new(r"\x{e2}\x80[\x98\x99]").unwrap();
        assert!(rx.is_fast());
        assert!(rx.eval("’".as_bytes(), &NoVars, None));
        assert_eq!(bytes_escapes(r"\\x{e2}"), r"\\x{e2}");
    }
}
