//! Macro expansion templates: `%{tx.anomaly_score}`, `%{MATCHED_VAR}`, `%{rule.id}`.
use crate::vars::Var;

#[derive(Debug, Clone)]
pub enum Part {
    Lit(String),
    Var { var: Var, key: Option<String> },
}

#[derive(Debug, Clone)]
pub struct Macro {
    pub parts: Vec<Part>,
}

impl Macro {
    pub fn parse(text: &str) -> Result<Macro, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(pos) = rest.find("%{") {
            let Some(end) = rest[pos..].find('}') else {
                break;
            };
            if pos > 0 {
                parts.push(Part::Lit(rest[..pos].to_string()));
            }
            let inner = &rest[pos + 2..pos + end];
            let (name, key) = match inner.split_once(['.', ':']) {
                Some((n, k)) => (n, Some(k.to_ascii_lowercase())),
                None => (inner, None),
            };
            let var = Var::from_name(name)
                .ok_or_else(|| format!("unknown variable {name:?} in macro %{{{inner}}}"))?;
            parts.push(Part::Var { var, key });
            rest = &rest[pos + end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        Ok(Macro { parts })
    }

    /// The text when the template holds no variable.
    pub fn literal(&self) -> Option<String> {
        match self.parts.as_slice() {
            [] => Some(String::new()),
            [Part::Lit(s)] => Some(s.clone()),
            _ => None,
        }
    }

    /// The text when the template holds no variable, without allocating.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }

    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }
}

/// Supplies variable values for macro expansion.
pub trait Resolver {
    /// Appends the value of `var` (member `key`, lower-cased) to `out`; nothing when unset.
    fn resolve(&self, var: Var, key: Option<&str>, out: &mut Vec<u8>);
}

/// A resolver with no variables, for literal-only contexts.
pub struct NoVars;

impl Resolver for NoVars {
    fn resolve(&self, _: Var, _: Option<&str>, _: &mut Vec<u8>) {}
}

impl Macro {
    pub fn expand(&self, r: &dyn Resolver) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.extend_from_slice(s.as_bytes()),
                Part::Var { var, key } => r.resolve(*var, key.as_deref(), &mut out),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_literals_and_variables() {
        let m = Macro::parse("score %{tx.a_b} of %{MATCHED_VAR}!").unwrap();
        assert_eq!(m.parts.len(), 5);
        assert!(matches!(&m.parts[1], Part::Var { var: Var::Tx, key: Some(k) } if k == "a_b"));
        assert!(Macro::parse("%{nope.x}").is_err());
    }
}
