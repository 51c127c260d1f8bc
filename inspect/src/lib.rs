//! `palisade-inspect`: a SecLang (ModSecurity rule language) engine that runs the
//! OWASP Core Rule Set unchanged.
//!
//! The crate is pure and synchronous: files are read only while a [`RuleSet`] is
//! loaded; evaluating a [`Transaction`] does no I/O. The engine's `inspect` module
//! adapts HTTP requests onto this API.
#![forbid(unsafe_code)]

mod body;
mod crs;
mod error;
mod fxhash;
mod macros;
mod operators;
mod parser;
mod rule;
mod ruleset;
mod transform;
mod tx;
pub(crate) use tx::store as tx_store;
mod vars;

pub use crs::{CrsError, CrsOptions, PALISADE_ID_BASE, settings_prelude};
pub use error::LoadError;
pub use operators::{OperatorError, eval_operator_for_test};
pub use rule::Severity;
pub use ruleset::{EngineMode, LoadOptions, RECOMMENDED_BASE_RULES, RuleSet};
pub use transform::{TransformError, apply_transform_by_name};
pub use tx::{
    ConnInfo, Disruptive, Intervention, MATCHED_VALUE_MAX, MatchedRule, RequestHead, Transaction,
};
