//! Operators (`@rx`, `@pm`, ...): compiled once at load, evaluated per value.
mod ip;
pub(crate) mod literals;
mod pm;
mod rx;
mod simple;
mod verify;

use crate::macros::{Macro, NoVars, Resolver};
use std::borrow::Cow;
use std::path::Path;

pub use ip::IpSet;
pub use pm::Pm;
pub use rx::Rx;
pub(crate) use simple::atoi;
pub(crate) use simple::eval_kind;

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("unknown operator @{0}")]
    Unknown(String),
    #[error("@{op}: bad parameter {param:?}: {reason}")]
    BadParam {
        op: String,
        param: String,
        reason: String,
    },
    #[error("@{op}: cannot read {path}: {source}")]
    File {
        op: String,
        path: String,
        source: std::io::Error,
    },
}

/// Capture groups of the last match (TX.0..TX.9).
pub type Captures = Vec<Vec<u8>>;

#[derive(Debug)]
pub enum OpKind {
    Rx(Box<Rx>),
    Pm(Box<Pm>),
    Streq(Param),
    Eq(Param),
    Ge(Param),
    Gt(Param),
    Lt(Param),
    Le(Param),
    Within(Param),
    Contains(Param),
    ContainsWord(Param),
    BeginsWith(Param),
    EndsWith(Param),
    StrMatch(Vec<u8>),
    DetectSqli,
    DetectXss,
    ValidateByteRange(Box<[bool; 256]>),
    ValidateUrlEncoding,
    ValidateUtf8Encoding,
    IpMatch(Box<IpSet>),
    Verify(Box<verify::Verify>),
    Unconditional,
    NoMatch,
    /// Look-ups that need a database or the network (`@geoLookup`, `@rbl`): the engine
    /// does no I/O while evaluating, so these never match (documented in docs/inspection.md).
    External,
}

#[derive(Debug)]
pub struct Operator {
    pub name: String,
    pub negated: bool,
    pub kind: OpKind,
}

/// An operator argument that may hold macros (`@eq %{tx.x}`).
#[derive(Debug)]
pub struct Param {
    literal: Option<Vec<u8>>,
    mac: Macro,
}

impl Param {
    fn new(text: &str) -> Result<Param, String> {
        let mac = Macro::parse(text)?;
        let literal = mac.literal().map(String::into_bytes);
        Ok(Param { literal, mac })
    }

    fn get(&self, r: &dyn Resolver) -> Cow<'_, [u8]> {
        match &self.literal {
            Some(l) => Cow::Borrowed(l),
            None => Cow::Owned(self.mac.expand(r)),
        }
    }
}

impl Operator {
    /// Parses `"!@rx foo"`; a string without `@` is an implicit `@rx`.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Operator, OperatorError> {
        let mut s = text.trim_start();
        let negated = s.starts_with('!');
        if negated {
            s = s[1..].trim_start();
        }
        let (name, param) = match s.strip_prefix('@') {
            Some(rest) => match rest.find(char::is_whitespace) {
                Some(i) => (&rest[..i], rest[i..].trim_start_matches([' ', '\t'])),
                None => (rest, ""),
            },
            None => ("rx", s),
        };
        let kind = compile(name, param, base_dir)?;
        Ok(Operator {
            name: name.to_string(),
            negated,
            kind,
        })
    }

    pub fn unconditional() -> Operator {
        Operator {
            name: "unconditionalMatch".into(),
            negated: false,
            kind: OpKind::Unconditional,
        }
    }

    /// Evaluates the operator; `caps` receives capture groups on a match when wanted.
    pub fn eval(&self, input: &[u8], r: &dyn Resolver, caps: Option<&mut Captures>) -> bool {
        let m = simple::eval_kind(&self.kind, input, r, caps);
        m != self.negated
    }
}

fn compile(name: &str, param: &str, base_dir: &Path) -> Result<OpKind, OperatorError> {
    let bad = |reason: String| OperatorError::BadParam {
        op: name.to_string(),
        param: param.to_string(),
        reason,
    };
    let p = || Param::new(param).map_err(bad);
    Ok(match name.to_ascii_lowercase().as_str() {
        "rx" => OpKind::Rx(Box::new(Rx::new(param).map_err(bad)?)),
        "pm" => OpKind::Pm(Box::new(Pm::from_phrases(param).map_err(bad)?)),
        "pmfromfile" | "pmf" => OpKind::Pm(Box::new(Pm::from_files(name, param, base_dir)?)),
        "streq" => OpKind::Streq(p()?),
        "eq" => OpKind::Eq(p()?),
        "ge" => OpKind::Ge(p()?),
        "gt" => OpKind::Gt(p()?),
        "lt" => OpKind::Lt(p()?),
        "le" => OpKind::Le(p()?),
        "within" => OpKind::Within(p()?),
        "contains" => OpKind::Contains(p()?),
        "containsword" => OpKind::ContainsWord(p()?),
        "beginswith" => OpKind::BeginsWith(p()?),
        "endswith" => OpKind::EndsWith(p()?),
        "strmatch" => OpKind::StrMatch(param.as_bytes().to_vec()),
        "detectsqli" => OpKind::DetectSqli,
        "detectxss" => OpKind::DetectXss,
        "validatebyterange" => OpKind::ValidateByteRange(simple::byte_ranges(param).map_err(bad)?),
        "validateurlencoding" => OpKind::ValidateUrlEncoding,
        "validateutf8encoding" => OpKind::ValidateUtf8Encoding,
        "ipmatch" => OpKind::IpMatch(Box::new(IpSet::parse_list(param).map_err(bad)?)),
        "ipmatchfromfile" | "ipmatchf" => {
            OpKind::IpMatch(Box::new(IpSet::from_file(name, param, base_dir)?))
        }
        "verifycc" | "verifyssn" | "verifycpf" | "verifysvnr" => {
            let check = match name.to_ascii_lowercase().as_str() {
                "verifycc" => verify::Check::CreditCard,
                "verifyssn" => verify::Check::Ssn,
                "verifycpf" => verify::Check::Cpf,
                _ => verify::Check::Svnr,
            };
            OpKind::Verify(Box::new(verify::Verify::new(check, param).map_err(bad)?))
        }
        "unconditionalmatch" => OpKind::Unconditional,
        "nomatch" => OpKind::NoMatch,
        "geolookup" | "rbl" => OpKind::External,
        _ => return Err(OperatorError::Unknown(name.to_string())),
    })
}

/// Evaluates one operator on one input, for the conformance tests; returns whether it
/// matched and the capture groups.
pub fn eval_operator_for_test(
    name: &str,
    param: &str,
    input: &[u8],
    base_dir: &Path,
) -> Result<(bool, Vec<Vec<u8>>), OperatorError> {
    let op = Operator {
        name: name.to_string(),
        negated: false,
        kind: compile(name, param, base_dir)?,
    };
    let mut caps = Captures::new();
    let m = op.eval(input, &NoVars, Some(&mut caps));
    Ok((m, caps))
}
