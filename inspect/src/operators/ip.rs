//! `@ipMatch` / `@ipMatchFromFile`: IPv4/IPv6 addresses and CIDR ranges.
use super::OperatorError;
use std::net::IpAddr;
use std::path::Path;

#[derive(Debug, Default)]
pub struct IpSet {
    nets: Vec<(IpAddr, u8)>,
}

impl IpSet {
    pub fn parse_list(param: &str) -> Result<IpSet, String> {
        let mut set = IpSet::default();
        for item in param
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            set.push(item)?;
        }
        Ok(set)
    }

    pub fn from_file(op: &str, param: &str, base_dir: &Path) -> Result<IpSet, OperatorError> {
        let path = base_dir.join(param.trim());
        let text = std::fs::read_to_string(&path).map_err(|source| OperatorError::File {
            op: op.to_string(),
            path: path.display().to_string(),
            source,
        })?;
        let mut set = IpSet::default();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            set.push(line).map_err(|reason| OperatorError::BadParam {
                op: op.to_string(),
                param: line.to_string(),
                reason,
            })?;
        }
        Ok(set)
    }

    fn push(&mut self, item: &str) -> Result<(), String> {
        let (addr, bits) = match item.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (item, None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("{item:?} is not an IP address or CIDR range"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("bad prefix length in {item:?}"))?,
        };
        // IPv4-mapped IPv6 networks are IPv4 networks (addresses are folded the same way).
        let (ip, bits) = match ip {
            IpAddr::V6(v6) if bits >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), bits - 96),
                None => (ip, bits),
            },
            _ => (ip, bits),
        };
        self.nets.push((ip, bits));
        Ok(())
    }

    pub fn contains(&self, input: &[u8]) -> bool {
        let Ok(s) = std::str::from_utf8(input) else {
            return false;
        };
        let Ok(mut ip) = s.trim().parse::<IpAddr>() else {
            return false;
        };
        // An IPv4-mapped IPv6 address is the IPv4 address.
        if let IpAddr::V6(v6) = ip
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            ip = IpAddr::V4(v4);
        }
        self.nets.iter().any(|(net, bits)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(
                u128::from(u32::from(*n)),
                u128::from(u32::from(a)),
                *bits,
                32,
            ),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(u128::from(*n), u128::from(a), *bits, 128),
            _ => false,
        })
    }
}

fn prefix_eq(a: u128, b: u128, bits: u8, width: u32) -> bool {
    if bits == 0 {
        return true;
    }
    let shift = width - u32::from(bits);
    (a >> shift) == (b >> shift)
}
