//! What the redirect should do: the pod's settings from the contract crate ([`palisade_api`])
//! plus what only the planner needs (IP families, engine UID/GID, Istio's identities).

use std::net::IpAddr;

pub use palisade_api::ports::{DEFAULT_ADMIN_PORT, DEFAULT_CAPTURE_PORT, DEFAULT_ENGINE_ID};
pub use palisade_api::{
    EnginePorts, Error as ConfigError, PortRange, PortSelection, RedirectSettings, ServiceMesh,
};

/// Istio's proxy UID, used by its inbound passthrough to the app over loopback.
pub const ISTIO_PROXY_UID: u32 = 1337;
/// Istio's own ports (15000-15099: admin, inbound/outbound capture, HBONE, health, metrics).
pub const ISTIO_PORTS: PortRange = PortRange {
    start: 15000,
    end: 15099,
};

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
    pub mesh: ServiceMesh,
    pub families: IpFamilies,
    /// Only used by nat OUTPUT rules (istio mode) so the engine's own connections never loop.
    pub engine_uid: u32,
    pub engine_gid: u32,
}

impl Default for RedirectConfig {
    fn default() -> Self {
        Self::new(EnginePorts::default(), RedirectSettings::default())
    }
}

impl RedirectConfig {
    /// The config for a pod's (already validated) settings, engine UID/GID at their default.
    pub fn new(engine: EnginePorts, settings: RedirectSettings) -> Self {
        Self {
            capture_port: engine.capture,
            admin_port: engine.admin,
            include: settings.include,
            exclude: settings.exclude,
            mesh: settings.mesh,
            families: IpFamilies::default(),
            engine_uid: DEFAULT_ENGINE_ID,
            engine_gid: DEFAULT_ENGINE_ID,
        }
    }

    pub fn engine_ports(&self) -> EnginePorts {
        EnginePorts {
            capture: self.capture_port,
            admin: self.admin_port,
        }
    }

    /// Rejects an include selection that names the engine's own ports, with the contract's
    /// message (`include_field` names the setting).
    pub fn validate(&self, include_field: &str) -> Result<(), ConfigError> {
        self.include
            .check_engine_ports(include_field, self.engine_ports())
    }
}
