//! Kubernetes resource quantities (`100m`, `1.5`, `512Mi`, `1e3`): checked before they reach
//! a pod spec so a typo denies the pod instead of failing it later at the API server.

use std::fmt;

use serde::Deserialize;

use crate::Error;

/// What a quantity may look like, for error messages.
pub const ALLOWED: &str = "a number with an optional suffix m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei, e.g. 250m or 512Mi";

/// A validated quantity: the text as written plus its value for comparisons.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct Quantity {
    text: String,
    value: f64,
}

const SUFFIXES: &[(&str, f64)] = &[
    ("Ki", 1024.0),
    ("Mi", 1_048_576.0),
    ("Gi", 1_073_741_824.0),
    ("Ti", 1_099_511_627_776.0),
    ("Pi", 1_125_899_906_842_624.0),
    ("Ei", 1_152_921_504_606_846_976.0),
    ("n", 1e-9),
    ("u", 1e-6),
    ("m", 1e-3),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
    ("E", 1e18),
];

// === impl Quantity ===

impl Quantity {
    /// Parses `text`; the error names `field`.
    pub fn parse(field: &str, text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let err = || Error::invalid(field, text, ALLOWED);
        let body = text.strip_prefix('+').unwrap_or(text);
        let (number, scale) = split_suffix(body).ok_or_else(err)?;
        let digits_ok = !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit() || c == '.')
            && number.matches('.').count() <= 1
            && number != ".";
        if !digits_ok {
            return Err(err());
        }
        let base: f64 = number.parse().map_err(|_| err())?;
        Ok(Self {
            text: text.to_owned(),
            value: base * scale,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn value(&self) -> f64 {
        self.value
    }

    /// A request above its limit is refused by the API server; say so in terms of the fields.
    pub fn check_request_le_limit(
        request_field: &str,
        request: &Quantity,
        limit_field: &str,
        limit: &Quantity,
    ) -> Result<(), Error> {
        if request.value > limit.value {
            return Err(Error::RequestAboveLimit {
                field: request_field.to_owned(),
                value: request.text.clone(),
                limit_field: limit_field.to_owned(),
                limit: limit.text.clone(),
            });
        }
        Ok(())
    }
}

/// Splits "512Mi" into ("512", 2^20); exponent forms "1e3"/"1E-2" are decimal.
fn split_suffix(body: &str) -> Option<(&str, f64)> {
    if let Some(pos) = body.find(['e', 'E']) {
        let exp: i32 = body.get(pos + 1..)?.parse().ok()?;
        return Some((body.get(..pos)?, 10f64.powi(exp)));
    }
    for (suffix, scale) in SUFFIXES {
        if let Some(number) = body.strip_suffix(suffix) {
            return Some((number, *scale));
        }
    }
    Some((body, 1.0))
}

impl TryFrom<String> for Quantity {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse("quantity", &s)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_quantity_forms_are_accepted_with_their_values() {
        for (text, value) in [
            ("100m", 0.1),
            ("1", 1.0),
            ("1.5", 1.5),
            ("512Mi", 536_870_912.0),
            ("2G", 2e9),
            ("1e3", 1000.0),
            ("+4k", 4000.0),
        ] {
            let q = Quantity::parse("f", text).unwrap();
            assert!((q.value() - value).abs() < 1e-6, "{text}");
            assert_eq!(q.as_str(), text);
        }
    }

    #[test]
    fn malformed_quantities_are_rejected() {
        for text in ["", "abc", "1.2.3", "-1", "10mb", "Mi", ".", "1e", "12 Mi"] {
            assert!(Quantity::parse("f", text).is_err(), "{text:?} accepted");
        }
    }

    #[test]
    fn a_request_above_its_limit_names_both_fields() {
        let (req, lim) = (
            Quantity::parse("r", "2").unwrap(),
            Quantity::parse("l", "500m").unwrap(),
        );
        let e = Quantity::check_request_le_limit("req", &req, "lim", &lim).unwrap_err();
        assert_eq!(
            e.to_string(),
            "req: \"2\" is larger than the limit \"500m\" (lim); a request may not exceed its limit"
        );
    }
}
