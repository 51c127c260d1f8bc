//! Parses a rule's variable list: `ARGS|!ARGS:foo|&TX:x|REQUEST_COOKIES:/^utm/`.
use crate::vars::Var;
use regex::bytes::Regex;

#[derive(Debug, Clone)]
pub enum Selector {
    /// Lower-cased key; member names compare case-insensitively.
    Key(String),
    Regex(Regex),
}

impl Selector {
    pub fn matches(&self, key: &[u8]) -> bool {
        match self {
            Selector::Key(k) => key.eq_ignore_ascii_case(k.as_bytes()),
            Selector::Regex(r) => r.is_match(key),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub var: Var,
    pub selector: Option<Selector>,
    /// `!VAR:key`: removes matching members from the other targets of the rule.
    pub exclude: bool,
    /// `&VAR`: the number of members instead of their values.
    pub count: bool,
}

pub fn parse_targets(text: &str) -> Result<Vec<Target>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i] == b'|' || bytes[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let mut exclude = false;
        let mut count = false;
        match bytes[i] {
            b'!' => {
                exclude = true;
                i += 1
            }
            b'&' => {
                count = true;
                i += 1
            }
            _ => {}
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b':' && bytes[i] != b'|' {
            i += 1;
        }
        let name = text[start..i].trim();
        let var = Var::from_name(name).ok_or_else(|| format!("unknown variable {name:?}"))?;
        let mut selector = None;
        if i < bytes.len() && bytes[i] == b':' {
            i += 1;
            let (sel, next) = if var == Var::Xml {
                let end = text[i..].find('|').map_or(text.len(), |e| e + i);
                (text[i..end].trim().to_string(), end)
            } else {
                parse_selector(text, i)?
            };
            i = next;
            if !sel.is_empty() {
                selector = Some(sel);
            }
        }
        let selector = match selector {
            None => None,
            Some(s) => Some(make_selector(var, s)?),
        };
        if selector.is_some() && !var.is_collection() {
            return Err(format!("variable {name} takes no key"));
        }
        out.push(Target {
            var,
            selector,
            exclude,
            count,
        });
    }
    if out.is_empty() {
        return Err("empty variable list".into());
    }
    Ok(out)
}

/// Returns the selector text (regex selectors keep their slashes) and the index after it.
fn parse_selector(text: &str, mut i: usize) -> Result<(String, usize), String> {
    let bytes = text.as_bytes();
    if i < bytes.len() && (bytes[i] == b'/' || bytes[i] == b'\'') {
        let quote = bytes[i];
        let start = i;
        i += 1;
        while i < bytes.len() && bytes[i] != quote {
            if bytes[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        if i >= bytes.len() {
            return Err(format!("unterminated selector in {text:?}"));
        }
        let sel = &text[start..=i];
        i += 1;
        // A quoted key may itself be a /regex/.
        let sel = if quote == b'\'' {
            &sel[1..sel.len() - 1]
        } else {
            sel
        };
        return Ok((sel.to_string(), i));
    }
    let start = i;
    while i < bytes.len() && bytes[i] != b'|' {
        i += 1;
    }
    Ok((text[start..i].trim().to_string(), i))
}

fn make_selector(var: Var, sel: String) -> Result<Selector, String> {
    if var == Var::Xml {
        return Ok(Selector::Key(sel));
    }
    if sel.len() >= 2 && sel.starts_with('/') && sel.ends_with('/') {
        let pat = &sel[1..sel.len() - 1];
        let re = regex::bytes::RegexBuilder::new(pat)
            .case_insensitive(true)
            .unicode(false)
            .build()
            .map_err(|e| format!("bad key regex {sel}: {e}"))?;
        return Ok(Selector::Regex(re));
    }
    Ok(Selector::Key(sel.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exclusions_counts_and_regex_keys() {
        let t = parse_targets("ARGS|!ARGS:foo|&TX:x|REQUEST_COOKIES:/^(a|b)$/|XML:/*").unwrap();
        assert_eq!(t.len(), 5);
        assert!(t[1].exclude && t[2].count);
        assert!(matches!(t[3].selector, Some(Selector::Regex(_))));
        assert!(t[3].selector.as_ref().unwrap().matches(b"A"));
        assert!(matches!(&t[4].selector, Some(Selector::Key(k)) if k == "/*"));
    }

    #[test]
    fn unknown_variable_is_rejected() {
        assert!(parse_targets("ARGZ").is_err());
    }
}
