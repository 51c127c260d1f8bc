//! Splits a SecLang action list (`id:1,phase:2,msg:'a, b',t:none`) into
//! name/value pairs. Commas inside single quotes do not split; `\'` inside a
//! quoted value is an escaped quote.

#[derive(Debug, Clone, PartialEq)]
pub struct RawAction {
    pub name: String,
    pub value: Option<String>,
}

pub fn split_actions(text: &str) -> Result<Vec<RawAction>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_quote && chars.peek() == Some(&'\'') => {
                cur.push('\\');
                cur.push('\'');
                chars.next();
            }
            '\'' => {
                in_quote = !in_quote;
                cur.push(c);
            }
            ',' if !in_quote => {
                push_action(&mut out, &cur)?;
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    if in_quote {
        return Err(format!("unterminated single quote in actions: {text:.80}"));
    }
    push_action(&mut out, &cur)?;
    Ok(out)
}

fn push_action(out: &mut Vec<RawAction>, raw: &str) -> Result<(), String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(());
    }
    let (name, value) = match raw.split_once(':') {
        Some((n, v)) => (n.trim(), Some(unquote(v.trim()))),
        None => (raw, None),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("malformed action {raw:?}"));
    }
    out.push(RawAction {
        name: name.to_ascii_lowercase(),
        value,
    });
    Ok(())
}

fn unquote(v: &str) -> String {
    if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        v[1..v.len() - 1].replace("\\'", "'")
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_keep_commas_and_escaped_quotes() {
        let a = split_actions("id:1, msg:'a, b\\'c',t:none,setvar:'tx.x=+%{tx.y}',pass").unwrap();
        assert_eq!(a.len(), 5);
        assert_eq!(a[1].value.as_deref(), Some("a, b'c"));
        assert_eq!(a[3].value.as_deref(), Some("tx.x=+%{tx.y}"));
        assert_eq!(a[4].value, None);
    }
}
