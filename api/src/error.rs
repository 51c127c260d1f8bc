//! The one error every parser in this crate returns. Its message names the field (an
//! annotation key, a flag or an environment variable), the value seen and what is allowed,
//! and it is the message every component prints: the injector's denial, the CNI plugin's
//! error (code 101) and `palisade-init`'s exit 64 all carry it unchanged.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// `value` does not parse; `reason` (may be empty) says what is wrong with it.
    Invalid {
        field: String,
        value: String,
        reason: String,
        allowed: String,
    },
    /// A port list would make the engine's own port a redirect target.
    EnginePort {
        field: String,
        /// The offending item as written back (`15300` or `15000-15400`).
        item: String,
        /// `capture` or `admin`.
        role: &'static str,
        port: u16,
    },
    /// A resource request above its limit, which the API server would refuse later.
    RequestAboveLimit {
        field: String,
        value: String,
        limit_field: String,
        limit: String,
    },
}

impl std::error::Error for Error {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid {
                field,
                value,
                reason,
                allowed,
            } => {
                write!(f, "{field}: invalid value {value:?}")?;
                if !reason.is_empty() {
                    write!(f, " ({reason})")?;
                }
                write!(f, "; allowed: {allowed}")
            }
            Error::EnginePort {
                field,
                item,
                role,
                port,
            } => write!(
                f,
                "{field}: {item} includes the engine's {role} port {port}, which is never \
                 redirected; list only the application's ports, or `*`"
            ),
            Error::RequestAboveLimit {
                field,
                value,
                limit_field,
                limit,
            } => write!(
                f,
                "{field}: {value:?} is larger than the limit {limit:?} ({limit_field}); a request \
                 may not exceed its limit"
            ),
        }
    }
}

impl Error {
    pub fn invalid(field: &str, value: &str, allowed: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.to_owned(),
            value: value.to_owned(),
            reason: String::new(),
            allowed: allowed.into(),
        }
    }

    pub fn with_reason(self, why: impl Into<String>) -> Self {
        match self {
            Error::Invalid {
                field,
                value,
                allowed,
                ..
            } => Error::Invalid {
                field,
                value,
                reason: why.into(),
                allowed,
            },
            other => other,
        }
    }

    /// The field the operator has to fix.
    pub fn field(&self) -> &str {
        match self {
            Error::Invalid { field, .. }
            | Error::EnginePort { field, .. }
            | Error::RequestAboveLimit { field, .. } => field,
        }
    }
}
