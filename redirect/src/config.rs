//! What the redirect should do, as typed values parsed from annotations, flags or env vars.
//!
//! Every parser takes the *field* it reads (an annotation key, a flag or an env var name) so an
//! error tells the operator exactly which setting to fix, the value it saw and what is allowed.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Port the engine listens on for redirected connections.
pub const DEFAULT_CAPTURE_PORT: u16 = 15300;
/// Engine admin port (`/healthz`, `/readyz`, `/metrics`); never redirected.
pub const DEFAULT_ADMIN_PORT: u16 = 15301;
/// UID/GID the engine runs as when the pod spec does not say.
pub const DEFAULT_ENGINE_ID: u32 = 15300;
/// Istio's proxy UID, used by its inbound passthrough to the app over loopback.
pub const ISTIO_PROXY_UID: u32 = 1337;
/// Istio's own ports (15000-15099: admin, inbound/outbound capture, HBONE, health, metrics).
pub const ISTIO_PORTS: PortRange = PortRange {
    start: 15000,
    end: 15099,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "{field}: `{value}` is not a valid port list: {reason}; expected comma-separated ports 1-65535 or ranges such as 9000-9100"
    )]
    InvalidPorts {
        field: String,
        value: String,
        reason: String,
    },
    #[error("{field}: `{value}` is not allowed; expected one of: {allowed}")]
    InvalidChoice {
        field: String,
        value: String,
        allowed: &'static str,
    },
    #[error("{field}: `{value}` is not a valid {what}")]
    InvalidNumber {
        field: String,
        value: String,
        what: &'static str,
    },
    #[error(
        "capture port {port} is also listed in {field}; the engine's capture port can never be redirected or included"
    )]
    CapturePortConflict { field: String, port: u16 },
}

/// An inclusive TCP port range; a single port has `start == end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

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

    /// Parses `8081,9000-9100` (spaces allowed around items). An empty string is an empty list.
    pub fn parse_list(field: &str, value: &str) -> Result<Vec<Self>, ConfigError> {
        let err = |reason: String| ConfigError::InvalidPorts {
            field: field.to_string(),
            value: value.to_string(),
            reason,
        };
        let mut out = Vec::new();
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let range = match item.split_once('-') {
                Some((a, b)) => {
                    let (start, end) = (
                        parse_port(a.trim()).map_err(&err)?,
                        parse_port(b.trim()).map_err(&err)?,
                    );
                    if start > end {
                        return Err(err(format!("range `{item}` starts after it ends")));
                    }
                    PortRange { start, end }
                }
                None => PortRange::single(parse_port(item).map_err(&err)?),
            };
            out.push(range);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u32>() {
        Ok(0) => Err("`0` is not a port".into()),
        Ok(n) if n <= u32::from(u16::MAX) => Ok(n as u16), // bounded just above
        Ok(n) => Err(format!("`{n}` is above 65535")),
        Err(_) => Err(format!("`{s}` is not a port number")),
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

/// Which inbound ports are redirected before exclusions apply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PortSelection {
    /// `*`: every TCP port.
    #[default]
    All,
    /// Only the listed ports and ranges.
    Only(Vec<PortRange>),
}

impl PortSelection {
    /// Parses `*` or a port list (as [`PortRange::parse_list`]); an empty value means `*`.
    pub fn parse(field: &str, value: &str) -> Result<Self, ConfigError> {
        match value.trim() {
            "" | "*" => Ok(Self::All),
            list => Ok(Self::Only(PortRange::parse_list(field, list)?)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MeshMode {
    #[default]
    None,
    /// Istio's ports are excluded and its loopback forwarding (from 127.0.0.6 / ::6 as UID
    /// 1337) is redirected into the engine in nat OUTPUT.
    Istio,
}

impl MeshMode {
    pub const ALLOWED: &'static str = "none, istio";

    pub fn parse(field: &str, value: &str) -> Result<Self, ConfigError> {
        match value.trim() {
            "" | "none" => Ok(Self::None),
            "istio" => Ok(Self::Istio),
            other => Err(ConfigError::InvalidChoice {
                field: field.to_string(),
                value: other.to_string(),
                allowed: Self::ALLOWED,
            }),
        }
    }
}

/// IP families the rules are installed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpFamilies {
    pub v4: bool,
    pub v6: bool,
}

impl Default for IpFamilies {
    fn default() -> Self {
        Self {
            v4: true,
            v6: false,
        }
    }
}

impl IpFamilies {
    /// IPv4 when the namespace has any non-loopback IPv4 address; IPv6 when it has a
    /// global (not loopback, not link-local) IPv6 address. IPv4 stays on when nothing is
    /// configured yet so a pod is never left unprotected.
    pub fn from_addresses(addrs: &[IpAddr]) -> Self {
        let v4 = addrs
            .iter()
            .any(|a| matches!(a, IpAddr::V4(v4) if !v4.is_loopback()));
        let v6 = addrs.iter().any(
            |a| matches!(a, IpAddr::V6(v6) if !v6.is_loopback() && !v6.is_unicast_link_local()),
        );
        Self { v4: v4 || !v6, v6 }
    }
}

/// Everything the pure planner needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectConfig {
    pub capture_port: u16,
    pub admin_port: u16,
    pub include: PortSelection,
    pub exclude: Vec<PortRange>,
    pub mesh: MeshMode,
    pub families: IpFamilies,
    /// Only used by nat OUTPUT rules (istio mode) so the engine's own connections never loop.
    pub engine_uid: u32,
    pub engine_gid: u32,
}

impl Default for RedirectConfig {
    fn default() -> Self {
        Self {
            capture_port: DEFAULT_CAPTURE_PORT,
            admin_port: DEFAULT_ADMIN_PORT,
            include: PortSelection::All,
            exclude: Vec::new(),
            mesh: MeshMode::None,
            families: IpFamilies::default(),
            engine_uid: DEFAULT_ENGINE_ID,
            engine_gid: DEFAULT_ENGINE_ID,
        }
    }
}

impl RedirectConfig {
    /// Rejects settings that would redirect the engine into itself.
    pub fn validate(&self, include_field: &str) -> Result<(), ConfigError> {
        if let PortSelection::Only(list) = &self.include
            && list.iter().any(|r| r.contains(self.capture_port))
        {
            return Err(ConfigError::CapturePortConflict {
                field: include_field.to_string(),
                port: self.capture_port,
            });
        }
        Ok(())
    }
}

/// Parses a number field (port, UID, GID) with an error naming the field.
pub fn parse_number<T: FromStr>(
    field: &str,
    value: &str,
    what: &'static str,
) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| ConfigError::InvalidNumber {
            field: field.to_string(),
            value: value.to_string(),
            what,
        })
}
