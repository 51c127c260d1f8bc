//! Where a request goes: the configured upstream (explicit mode) or the original
//! destination's port on loopback (transparent mode).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The app's address for a redirected connection whose original destination was
/// `orig`: same port on the loopback of the same family. `None` when the port is one
/// of the engine's own (the connection was not redirected; forwarding would loop).
pub fn loopback_for(orig: &SocketAddr, own_ports: &[u16]) -> Option<SocketAddr> {
    if own_ports.contains(&orig.port()) {
        return None;
    }
    let ip = match orig.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    Some(SocketAddr::new(ip, orig.port()))
}

#[cfg(test)]
mod tests {
    use super::loopback_for;

    #[test]
    fn original_port_maps_to_loopback_of_same_family() {
        let own = [15300, 15301];
        assert_eq!(
            loopback_for(&"10.1.2.3:8080".parse().unwrap(), &own),
            Some("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(
            loopback_for(&"[fd00::5]:8080".parse().unwrap(), &own),
            Some("[::1]:8080".parse().unwrap())
        );
        assert_eq!(loopback_for(&"10.1.2.3:15300".parse().unwrap(), &own), None);
    }
}
