//! Port lists (`8081,9000-9100`), the include selection (`*` or a list) and the engine's own
//! ports, which no annotation can make a redirect target.

use std::fmt;

use crate::Error;

/// Port the engine listens on for redirected connections.
pub const DEFAULT_CAPTURE_PORT: u16 = 15300;
/// Engine admin port (`/healthz`, `/readyz`, `/metrics`); never redirected.
pub const DEFAULT_ADMIN_PORT: u16 = 15301;
/// UID/GID the engine runs as when the pod spec does not say.
pub const DEFAULT_ENGINE_ID: u32 = 15300;

/// What a port list may look like, for error messages and docs.
pub const PORT_LIST_ALLOWED: &str =
    "comma-separated ports 1-65535 or ranges LOW-HIGH, e.g. 8081,9000-9100";
/// What an include selection may look like.
pub const PORT_SELECTION_ALLOWED: &str =
    "`*` or comma-separated ports 1-65535 or ranges LOW-HIGH, e.g. 8080,8443";

/// An inclusive TCP port range; a single port has `start == end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

// === impl PortRange ===

impl PortRange {
    pub const fn single(port: u16) -> Self {
        Self {
            start: port,
            end: port,
        }
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }

    /// Parses `8081,9000-9100`: spaces around items are allowed, an empty value is the empty
    /// list, an empty item (`80,,81`, `80,`) is an error. The result is sorted and deduplicated.
    pub fn parse_list(field: &str, value: &str) -> Result<Vec<Self>, Error> {
        Self::parse_items(field, value, PORT_LIST_ALLOWED)
    }

    /// [`PortRange::parse_list`] whose errors say `allowed`.
    fn parse_items(field: &str, value: &str, allowed: &str) -> Result<Vec<Self>, Error> {
        let text = value.trim();
        let bad = |why: String| Error::invalid(field, text, allowed).with_reason(why);
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for item in text.split(',').map(str::trim) {
            let range = match item.split_once('-') {
                _ if item.is_empty() => return Err(bad("empty item".to_owned())),
                Some((lo, hi)) => {
                    let (start, end) =
                        (parse_port(lo).map_err(&bad)?, parse_port(hi).map_err(&bad)?);
                    if start > end {
                        return Err(bad(format!("range {item} starts after it ends")));
                    }
                    PortRange { start, end }
                }
                None => PortRange::single(parse_port(item).map_err(&bad)?),
            };
            out.push(range);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    let s = s.trim();
    match s.parse::<u32>() {
        Ok(0) => Err("0 is not a port".to_owned()),
        Ok(n) => u16::try_from(n).map_err(|_| format!("{n} is above 65535")),
        Err(_) => Err(format!("{s:?} is not a port number")),
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// Renders ranges back to the list syntax `8081,9000-9100` (what [`PortRange::parse_list`]
/// reads), e.g. to pass annotations on to `palisade-init` as environment variables.
pub fn format_list(ranges: &[PortRange]) -> String {
    ranges
        .iter()
        .map(PortRange::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Which inbound ports are redirected before exclusions apply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PortSelection {
    /// `*`: every TCP port.
    #[default]
    All,
    /// Only the listed ports and ranges (never empty).
    Only(Vec<PortRange>),
}

// === impl PortSelection ===

impl PortSelection {
    /// Parses `*` or a port list. An empty value is an error, not `*`: an empty include list
    /// is a typo, and guessing either meaning would hide it.
    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        match value.trim() {
            "*" => Ok(Self::All),
            "" => Err(Error::invalid(field, "", PORT_SELECTION_ALLOWED).with_reason("empty list")),
            list => PortRange::parse_items(field, list, PORT_SELECTION_ALLOWED).map(Self::Only),
        }
    }

    /// The engine's own ports are never redirected (the plan always lets them through first);
    /// a selection that names them is a mistake the operator should hear about, not one the
    /// plan quietly ignores.
    pub fn check_engine_ports(&self, field: &str, engine: EnginePorts) -> Result<(), Error> {
        let Self::Only(list) = self else {
            return Ok(());
        };
        for range in list {
            for (role, port) in [("capture", engine.capture), ("admin", engine.admin)] {
                if range.contains(port) {
                    return Err(Error::EnginePort {
                        field: field.to_owned(),
                        item: range.to_string(),
                        role,
                        port,
                    });
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for PortSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Only(list) => f.write_str(&format_list(list)),
        }
    }
}

/// The engine's own ports: the redirect target and the admin endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnginePorts {
    pub capture: u16,
    pub admin: u16,
}

impl Default for EnginePorts {
    fn default() -> Self {
        Self {
            capture: DEFAULT_CAPTURE_PORT,
            admin: DEFAULT_ADMIN_PORT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_lists_parse_sorted_and_deduplicated() {
        let list = PortRange::parse_list("f", " 9090, 8081 ,9000-9100,8081").unwrap();
        assert_eq!(format_list(&list), "8081,9000-9100,9090");
        assert!(PortRange::parse_list("f", "  ").unwrap().is_empty());
    }

    #[test]
    fn malformed_port_lists_name_field_value_and_reason() {
        for (value, reason) in [
            ("80,,81", "empty item"),
            ("80,", "empty item"),
            ("0", "0 is not a port"),
            ("70000", "70000 is above 65535"),
            ("9100-9000", "starts after it ends"),
            ("http", "not a port number"),
            ("80-", "not a port number"),
        ] {
            let e = PortRange::parse_list("palisade.dev/x", value).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with("palisade.dev/x: invalid value"), "{msg}");
            assert!(
                msg.contains(reason) && msg.contains(value.trim()),
                "{value}: {msg}"
            );
        }
    }

    #[test]
    fn an_empty_include_selection_is_an_error_not_every_port() {
        assert_eq!(PortSelection::parse("f", "*").unwrap(), PortSelection::All);
        let e = PortSelection::parse("f", " ").unwrap_err().to_string();
        assert!(e.contains("empty list") && e.contains("`*`"), "{e}");
        let e = PortSelection::parse("f", "80,,81").unwrap_err().to_string();
        assert!(e.contains("empty item") && e.contains("`*`"), "{e}");
    }

    #[test]
    fn engine_ports_are_never_included() {
        let engine = EnginePorts::default();
        for (value, port) in [
            ("15300", 15300),
            ("8080,15301", 15301),
            ("15000-15400", 15300),
        ] {
            let sel = PortSelection::parse("f", value).unwrap();
            let e = sel.check_engine_ports("f", engine).unwrap_err();
            assert!(e.to_string().contains(&format!("port {port}")), "{e}");
        }
        let ok = PortSelection::parse("f", "8080,15302-15400").unwrap();
        assert!(ok.check_engine_ports("f", engine).is_ok());
        assert!(PortSelection::All.check_engine_ports("f", engine).is_ok());
    }
}
