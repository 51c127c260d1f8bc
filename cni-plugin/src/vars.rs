//! The `CNI_*` environment, read through [`Vars`] so tests pass a map instead of mutating
//! the process environment.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{CniError, code};

/// A source of environment variables.
pub trait Vars {
    fn get(&self, key: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Vars for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Vars for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        BTreeMap::get(self, key).cloned()
    }
}

/// The CNI operation requested by `CNI_COMMAND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Status,
    Version,
    Gc,
}

impl Command {
    pub fn from_vars(vars: &dyn Vars) -> Result<Self, CniError> {
        match vars.get("CNI_COMMAND").as_deref() {
            Some("ADD") => Ok(Self::Add),
            Some("DEL") => Ok(Self::Del),
            Some("CHECK") => Ok(Self::Check),
            Some("STATUS") => Ok(Self::Status),
            Some("VERSION") => Ok(Self::Version),
            Some("GC") => Ok(Self::Gc),
            other => Err(CniError::new(
                code::INVALID_ENV,
                format!(
                    "CNI_COMMAND: `{}` is not allowed; expected one of ADD, DEL, CHECK, STATUS, VERSION, GC",
                    other.unwrap_or("")
                ),
            )),
        }
    }
}

/// The per-attachment variables of ADD, DEL and CHECK.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub container_id: String,
    /// `None` only on DEL, where a missing namespace means there is nothing to clean up.
    pub netns: Option<PathBuf>,
    pub ifname: String,
    pub pod_namespace: Option<String>,
    pub pod_name: Option<String>,
}

fn required(vars: &dyn Vars, key: &str) -> Result<String, CniError> {
    vars.get(key).filter(|v| !v.is_empty()).ok_or_else(|| {
        CniError::new(
            code::INVALID_ENV,
            format!("{key} is not set; the container runtime must set it"),
        )
    })
}

impl Attachment {
    pub fn from_vars(vars: &dyn Vars, command: Command) -> Result<Self, CniError> {
        let netns = match command {
            Command::Del => vars.get("CNI_NETNS").filter(|v| !v.is_empty()),
            _ => Some(required(vars, "CNI_NETNS")?),
        };
        let args = parse_args(&vars.get("CNI_ARGS").unwrap_or_default())?;
        Ok(Self {
            container_id: required(vars, "CNI_CONTAINERID")?,
            netns: netns.map(PathBuf::from),
            ifname: required(vars, "CNI_IFNAME")?,
            pod_namespace: args.get("K8S_POD_NAMESPACE").cloned(),
            pod_name: args.get("K8S_POD_NAME").cloned(),
        })
    }
}

/// Parses `CNI_ARGS` (`K=V;K=V`).
pub fn parse_args(raw: &str) -> Result<BTreeMap<String, String>, CniError> {
    raw.split(';')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| {
                    CniError::new(
                        code::INVALID_ENV,
                        format!("CNI_ARGS: `{kv}` is not KEY=VALUE"),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pod_identity_comes_from_cni_args() {
        let v = vars(&[
            ("CNI_CONTAINERID", "c1"),
            ("CNI_NETNS", "/var/run/netns/x"),
            ("CNI_IFNAME", "eth0"),
            (
                "CNI_ARGS",
                "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0",
            ),
        ]);
        let a = Attachment::from_vars(&v, Command::Add).unwrap();
        assert_eq!(a.pod_namespace.as_deref(), Some("shop"));
        assert_eq!(a.pod_name.as_deref(), Some("web-0"));
    }

    #[test]
    fn missing_netns_is_invalid_env_except_on_del() {
        let v = vars(&[("CNI_CONTAINERID", "c1"), ("CNI_IFNAME", "eth0")]);
        let e = Attachment::from_vars(&v, Command::Add).unwrap_err();
        assert_eq!(e.code, code::INVALID_ENV);
        assert!(e.msg.contains("CNI_NETNS"));
        assert!(
            Attachment::from_vars(&v, Command::Del)
                .unwrap()
                .netns
                .is_none()
        );
    }

    #[test]
    fn unknown_command_names_the_value() {
        let e = Command::from_vars(&vars(&[("CNI_COMMAND", "FROB")])).unwrap_err();
        assert!(e.msg.contains("FROB"), "{}", e.msg);
    }
}
