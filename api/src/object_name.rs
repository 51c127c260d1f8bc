//! Names of Kubernetes objects that Palisade settings refer to (the rules ConfigMap), checked
//! as the API server checks them, so a typo is refused at admission instead of leaving a pod
//! stuck in `ContainerCreating` on a volume that can never mount.

use std::fmt;

use crate::Error;

/// The longest DNS-1123 subdomain (Kubernetes `validation.DNS1123SubdomainMaxLength`).
const MAX_LEN: usize = 253;

/// A ConfigMap name: a DNS-1123 subdomain (`shop-rules`, `rules.v2`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigMapName(String);

// === impl ConfigMapName ===

impl ConfigMapName {
    /// What error messages say is allowed.
    pub const ALLOWED: &'static str = "a ConfigMap name in the pod's namespace: a DNS-1123 \
        subdomain of at most 253 lower-case letters, digits, '-' and '.', each dot-separated \
        part starting and ending with a letter or digit (e.g. shop-rules)";

    /// Parses `value` (surrounding spaces ignored); errors name `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        let v = value.trim();
        let bad = |why: String| Err(Error::invalid(field, v, Self::ALLOWED).with_reason(why));
        if v.is_empty() {
            return bad("empty".to_owned());
        }
        if v.len() > MAX_LEN {
            return bad(format!("{} characters", v.len()));
        }
        if let Some(c) = v
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
        {
            return bad(format!("{c:?} is not allowed"));
        }
        for part in v.split('.') {
            let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            if !alnum(part.chars().next()) || !alnum(part.chars().last()) {
                return bad(format!(
                    "part {part:?} does not start and end with a letter or digit"
                ));
            }
        }
        Ok(Self(v.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConfigMapName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_1123_subdomains_are_accepted() {
        for ok in [
            "a",
            "shop-rules",
            "rules.v2",
            "0day",
            "a-b.c-d.e",
            &"a".repeat(253),
        ] {
            assert_eq!(ConfigMapName::parse("f", ok).unwrap().as_str(), ok);
        }
        assert_eq!(ConfigMapName::parse("f", " x ").unwrap().as_str(), "x");
    }

    #[test]
    fn other_names_are_refused_with_field_value_and_reason() {
        for (bad, why) in [
            ("", "empty"),
            ("Shop-Rules", "'S' is not allowed"),
            ("shop_rules", "'_' is not allowed"),
            ("rules/x", "'/' is not allowed"),
            ("-rules", "\"-rules\" does not start"),
            ("rules-", "\"rules-\" does not start"),
            ("a..b", "\"\" does not start"),
            (".a", "\"\" does not start"),
            (&"a".repeat(254), "254 characters"),
        ] {
            let e = ConfigMapName::parse("palisade.dev/rules-configmap", bad).unwrap_err();
            let msg = e.to_string();
            assert_eq!(e.field(), "palisade.dev/rules-configmap");
            assert!(
                msg.starts_with(&format!(
                    "palisade.dev/rules-configmap: invalid value {bad:?}"
                )),
                "{msg}"
            );
            assert!(
                msg.contains(why) && msg.contains("DNS-1123"),
                "{bad:?}: {msg}"
            );
        }
    }
}
