//! Splits configuration text into directives the way ModSecurity reads it:
//! `#` comment lines, a trailing backslash joins the next line, arguments are
//! separated by whitespace and may be double- or single-quoted with `\"` escapes.
use crate::error::LoadError;

/// One directive with its arguments, already unquoted.
#[derive(Debug, Clone)]
pub struct Directive {
    pub line: usize,
    pub name: String,
    pub args: Vec<String>,
}

pub fn directives(text: &str, file: &str) -> Result<Vec<Directive>, LoadError> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start_line = 0;
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if logical.is_empty() {
            start_line = idx + 1;
        }
        if let Some(body) = line.strip_suffix('\\') {
            logical.push_str(body);
            continue;
        }
        logical.push_str(line);
        let text = std::mem::take(&mut logical);
        if let Some(d) = parse_logical(&text, file, start_line)? {
            out.push(d);
        }
    }
    if !logical.is_empty()
        && let Some(d) = parse_logical(&logical, file, start_line)?
    {
        out.push(d);
    }
    Ok(out)
}

fn parse_logical(text: &str, file: &str, line: usize) -> Result<Option<Directive>, LoadError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let mut args = split_args(trimmed).map_err(|m| LoadError::at(file, line, m))?;
    let name = args.remove(0);
    Ok(Some(Directive { line, name, args }))
}

/// Splits on whitespace, honouring quotes; inside quotes only an escaped quote
/// is unescaped, every other backslash is kept for the operator or action parser.
pub fn split_args(text: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut arg = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '\\' && chars.peek() == Some(&first) {
                    arg.push(first);
                    chars.next();
                } else if c == first {
                    closed = true;
                    break;
                } else {
                    arg.push(c);
                }
            }
            if !closed {
                return Err(format!("unterminated {first}-quoted argument: {arg:.60}"));
            }
            if chars.peek().is_some_and(|c| !c.is_whitespace()) {
                return Err(format!("text directly after closing quote of {arg:.60}"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                arg.push(c);
                chars.next();
            }
        }
        args.push(arg);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_joins_lines_and_keeps_the_first_line_number() {
        let text = "# c\nSecRule ARGS \"@rx a\\\"b\" \\\n    \"id:1,\\\n    pass\"\nSecMarker X\n";
        let d = directives(text, "f").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].line, 2);
        assert_eq!(d[0].args, vec!["ARGS", "@rx a\"b", "id:1,    pass"]);
        assert_eq!(d[1].name, "SecMarker");
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        assert!(directives("SecRule ARGS \"@rx a", "f").is_err());
    }
}
