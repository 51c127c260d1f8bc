//! The word-valued settings (`mode`, `log-level`, `redirect`, `service-mesh`) and the
//! paranoia level: one type each, parsed from annotations, flags, environment variables and
//! the charts' JSON config alike.

use std::fmt;

use serde::Deserialize;

use crate::Error;

/// A closed set of words: `parse` with an error naming the field, `as_str`, serde, `Display`.
macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            /// The accepted words, as error messages and docs list them.
            pub const ALLOWED: &'static str = word_enum!(@join $($text),+);
            /// Every value, in the order of [`Self::ALLOWED`].
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses one of [`Self::ALLOWED`] (surrounding spaces ignored).
            pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
                match value.trim() {
                    $($text => Ok(Self::$variant),)+
                    other => Err(Error::invalid(field, other, Self::ALLOWED)),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    (@join $first:literal $(, $rest:literal)*) => { concat!($first $(, ", ", $rest)*) };
}

word_enum!(
    /// What the engine does with a request its rules flag.
    #[derive(Default)]
    Mode {
        /// Refuse it (403) before the app sees it.
        #[default]
        Block = "block",
        /// Log it and let it through.
        Monitor = "monitor",
        /// Do not inspect.
        Off = "off",
    }
);

word_enum!(
    /// Verbosity of a binary's log; the value of `PALISADE_LOG` the injector sets.
    #[derive(Default)]
    LogLevel {
        Error = "error",
        Warn = "warn",
        #[default]
        Info = "info",
        Debug = "debug",
        Trace = "trace",
    }
);

word_enum!(
    /// Who installs a pod's redirect rules: the CNI plugin, an init container, or nobody.
    RedirectMode { Cni = "cni", Init = "init", None = "none" }
);

word_enum!(
    /// The service mesh sharing the pod. With `istio`, Istio's 150xx ports are never
    /// redirected and its loopback forwarding to the app (from 127.0.0.6 / ::6 as UID 1337)
    /// is redirected into the engine in nat OUTPUT instead.
    #[derive(Default)]
    ServiceMesh {
        #[default]
        None = "none",
        Istio = "istio",
    }
);

/// The OWASP CRS paranoia level, 1 (fewest false positives) to 4 (strictest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "u8")]
pub struct ParanoiaLevel(u8);

// === impl ParanoiaLevel ===

impl ParanoiaLevel {
    pub const ALLOWED: &'static str = "1, 2, 3, 4";
    pub const MIN: Self = Self(1);

    /// `None` outside 1-4.
    pub fn new(level: u8) -> Option<Self> {
        (1..=4).contains(&level).then_some(Self(level))
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        let v = value.trim();
        v.parse()
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| Error::invalid(field, v, Self::ALLOWED))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for ParanoiaLevel {
    type Error = Error;
    fn try_from(level: u8) -> Result<Self, Error> {
        Self::new(level)
            .ok_or_else(|| Error::invalid("paranoia level", &level.to_string(), Self::ALLOWED))
    }
}

impl Default for ParanoiaLevel {
    fn default() -> Self {
        Self::MIN
    }
}

impl fmt::Display for ParanoiaLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_parse_back_and_others_are_refused_with_the_list() {
        for m in Mode::ALL {
            assert_eq!(Mode::parse("f", m.as_str()).unwrap(), *m);
        }
        assert_eq!(
            ServiceMesh::parse("f", " istio ").unwrap(),
            ServiceMesh::Istio
        );
        let e = ServiceMesh::parse("palisade.dev/service-mesh", "linkerd").unwrap_err();
        assert_eq!(
            e.to_string(),
            "palisade.dev/service-mesh: invalid value \"linkerd\"; allowed: none, istio"
        );
        assert_eq!(RedirectMode::ALLOWED, "cni, init, none");
    }

    #[test]
    fn paranoia_levels_are_one_to_four() {
        assert_eq!(ParanoiaLevel::parse("f", "4").unwrap().get(), 4);
        for bad in ["0", "5", "", "two", "-1"] {
            assert!(ParanoiaLevel::parse("f", bad).is_err(), "{bad:?}");
        }
    }
}
