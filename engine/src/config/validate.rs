//! Checks serde cannot express: ranges, address syntax, method tokens.

use std::net::SocketAddr;

use super::{Config, ConfigError, MAX_INSPECT_REQUEST_BODY, Mode};

pub(super) fn validate(cfg: &Config) -> Result<(), ConfigError> {
    if cfg.listen.is_empty() {
        return Err(ConfigError::invalid(
            "listen",
            "[]",
            "one or more socket addresses such as 0.0.0.0:15300",
        ));
    }
    for addr in &cfg.listen {
        socket_addr("listen", addr)?;
    }
    socket_addr("admin", &cfg.admin)?;
    if let Some(up) = &cfg.upstream {
        host_port("upstream", up)?;
    }
    if let Some(tls) = &cfg.tls {
        socket_addr("tls.listen", &tls.listen)?;
        for (field, path) in [("tls.cert", &tls.cert), ("tls.key", &tls.key)] {
            if !std::path::Path::new(path).is_file() {
                return Err(ConfigError::invalid(field, path, "a readable PEM file"));
            }
        }
    }
    if !(1..=256).contains(&cfg.threads) {
        return Err(ConfigError::invalid("threads", cfg.threads, "1 to 256"));
    }
    let t = &cfg.timeouts;
    for (field, v) in [
        ("timeouts.request_header_ms", t.request_header_ms),
        ("timeouts.idle_ms", t.idle_ms),
        ("timeouts.upstream_connect_ms", t.upstream_connect_ms),
        ("timeouts.upstream_response_ms", t.upstream_response_ms),
        ("timeouts.protocol_detect_ms", t.protocol_detect_ms),
        ("timeouts.request_body_read_ms", t.request_body_read_ms),
    ] {
        if v == 0 || v > 86_400_000 {
            return Err(ConfigError::invalid(
                field,
                v,
                "1 to 86400000 (milliseconds)",
            ));
        }
    }
    if t.drain_ms > 86_400_000 {
        return Err(ConfigError::invalid(
            "timeouts.drain_ms",
            t.drain_ms,
            "0 to 86400000 (milliseconds)",
        ));
    }
    let l = &cfg.limits;
    for (field, v, lo) in [
        ("limits.max_header_bytes", l.max_header_bytes, 256),
        ("limits.max_header_count", l.max_header_count, 1),
        ("limits.max_uri_bytes", l.max_uri_bytes, 16),
    ] {
        if v < lo || v > 1024 * 1024 {
            return Err(ConfigError::invalid(field, v, format!("{lo} to 1048576")));
        }
    }
    if l.allowed_methods.is_empty() {
        return Err(ConfigError::invalid(
            "limits.allowed_methods",
            "[]",
            "one or more HTTP method tokens such as GET",
        ));
    }
    for m in &l.allowed_methods {
        let token = !m.is_empty()
            && m.bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_');
        if !token {
            return Err(ConfigError::invalid(
                "limits.allowed_methods",
                m,
                "upper-case method tokens such as GET, POST",
            ));
        }
    }
    let i = &cfg.inspection;
    if !(1..=4).contains(&i.paranoia_level) {
        return Err(ConfigError::invalid(
            "inspection.paranoia_level",
            i.paranoia_level,
            "1, 2, 3 or 4",
        ));
    }
    if i.request_body_limit > MAX_INSPECT_REQUEST_BODY {
        return Err(ConfigError::invalid(
            "inspection.request_body_limit",
            i.request_body_limit,
            format!("0 to {MAX_INSPECT_REQUEST_BODY} (bytes)"),
        ));
    }
    if i.request_body_no_files_limit > i.request_body_limit {
        return Err(ConfigError::invalid(
            "inspection.request_body_no_files_limit",
            i.request_body_no_files_limit,
            format!(
                "0 to inspection.request_body_limit ({})",
                i.request_body_limit
            ),
        ));
    }
    if i.request_body_in_memory_limit > 64 * 1024 * 1024 {
        return Err(ConfigError::invalid(
            "inspection.request_body_in_memory_limit",
            i.request_body_in_memory_limit,
            "0 to 67108864 (bytes)",
        ));
    }
    if !(1..=1_000_000).contains(&l.max_connections) {
        return Err(ConfigError::invalid(
            "limits.max_connections",
            l.max_connections,
            "1 to 1000000",
        ));
    }
    if i.response_body_limit > 16 * 1024 * 1024 {
        return Err(ConfigError::invalid(
            "inspection.response_body_limit",
            i.response_body_limit,
            "0 to 16777216 (bytes)",
        ));
    }
    if i.mode != Mode::Off && i.rules.is_empty() && !i.allow_no_rules {
        return Err(no_rules(i.mode));
    }
    crate::inspect::validate_rules(i)?;
    Ok(())
}

/// `block` or `monitor` with nothing to run: refused unless asked for explicitly.
pub(crate) fn no_rules(mode: Mode) -> ConfigError {
    let mode = match mode {
        Mode::Block => "block",
        Mode::Monitor => "monitor",
        Mode::Off => "off",
    };
    ConfigError::invalid(
        "inspection.rules",
        format!("no rules (inspection.mode: {mode})"),
        "one or more rule files such as the CRS (PALISADE_INSPECTION_RULES); or \
         inspection.mode: off; or inspection.allow_no_rules: true to run only the built-in limits",
    )
}

fn socket_addr(field: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| {
        ConfigError::invalid(field, value, "IP:PORT, e.g. 0.0.0.0:15300 or [::]:15300")
    })
}

fn host_port(field: &str, value: &str) -> Result<(), ConfigError> {
    let ok = match value.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            field,
            value,
            "HOST:PORT, e.g. 127.0.0.1:8080 or app.local:8080",
        ))
    }
}
