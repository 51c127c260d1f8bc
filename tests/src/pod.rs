//! A pod of a [`TestNode`]: its namespace, addresses and palisade-cni invocations.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde_json::Value;

use crate::cni::{Invocation, PluginOutput, invoke, plugin_config};
use crate::netns::Netns;
use crate::node::{CniFailure, PodConfig, TestNode};

/// A pod namespace wired by the CNI chain; its namespace is deleted on drop.
pub struct TestPod<'a> {
    pub(crate) node: &'a TestNode,
    pub config: PodConfig,
    pub container_id: String,
    pub(crate) list: Value,
    pub(crate) cni_path: String,
    pub(crate) runtime: Value,
    pub(crate) netns: Netns,
    pub(crate) result: Value,
}

impl TestPod<'_> {
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// The final CNI result of ADD (what the runtime caches).
    pub fn result(&self) -> &Value {
        &self.result
    }

    fn ip(&self, v6: bool) -> Option<String> {
        self.result["ips"].as_array()?.iter().find_map(|ip| {
            let a = ip["address"].as_str()?.split('/').next()?;
            (a.contains(':') == v6).then(|| a.to_string())
        })
    }

    pub fn ipv4(&self) -> Ipv4Addr {
        self.ip(false)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no IPv4 in CNI result {}", self.result))
    }

    pub fn ipv6(&self) -> Option<Ipv6Addr> {
        self.ip(true).and_then(|a| a.parse().ok())
    }

    pub(crate) fn run_plugin(
        &self,
        command: &str,
        ty: &str,
        ifname: &str,
        conf: &Value,
    ) -> Result<PluginOutput, CniFailure> {
        let out = self.invoke(
            ty,
            command,
            ifname,
            Some(self.netns.path()),
            &conf.to_string(),
        );
        if out.success() {
            Ok(out)
        } else {
            Err(CniFailure {
                plugin: ty.to_string(),
                output: out,
            })
        }
    }

    /// Finds plugin `ty` in `CNI_PATH` and runs it in the node namespace with `stdin`.
    pub fn invoke(
        &self,
        ty: &str,
        command: &str,
        ifname: &str,
        netns: Option<&Path>,
        stdin: &str,
    ) -> PluginOutput {
        self.invoke_in(&self.cni_path, ty, command, ifname, netns, stdin)
    }

    fn invoke_in(
        &self,
        cni_path: &str,
        ty: &str,
        command: &str,
        ifname: &str,
        netns: Option<&Path>,
        stdin: &str,
    ) -> PluginOutput {
        let plugin = std::env::split_paths(cni_path)
            .map(|d| d.join(ty))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("CNI plugin {ty} not in CNI_PATH {cni_path}"));
        let args = format!(
            "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={}",
            self.config.namespace, self.config.name, self.container_id
        );
        let inv = Invocation {
            command,
            container_id: &self.container_id,
            netns,
            ifname,
            cni_path,
            args: &args,
        };
        invoke(self.node.netns(), &plugin, &inv, stdin)
    }

    /// The exact config `palisade-cni` receives for `command` (prevResult = bridge's result).
    pub fn palisade_config(&self) -> Value {
        let plugin = self.list["plugins"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["type"] == "palisade-cni"))
            .cloned()
            .unwrap_or_else(|| {
                // Not chained at ADD: the config it would have had.
                let mut with = self.config.clone();
                with.chain_palisade = true;
                self.node.conflist(&with)["plugins"][1].clone()
            });
        plugin_config(&self.list, &plugin, Some(&self.result), &self.runtime)
    }

    /// Runs `palisade-cni` `command` (ADD, CHECK, DEL, ...) for this pod as the runtime would.
    pub fn palisade(&self, command: &str) -> PluginOutput {
        self.palisade_with(
            command,
            &self.palisade_config().to_string(),
            Some(self.netns.path()),
        )
    }

    /// Runs `palisade-cni` with arbitrary stdin and `CNI_NETNS` (bad-input tests).
    pub fn palisade_with(&self, command: &str, stdin: &str, netns: Option<&Path>) -> PluginOutput {
        let cni_path = if self.config.chain_palisade {
            self.cni_path.clone()
        } else {
            let dir = crate::bin("palisade-cni");
            format!(
                "{}:{}",
                crate::CNI_PLUGIN_DIR,
                dir.parent().expect("dir").display()
            )
        };
        self.invoke_in(&cni_path, "palisade-cni", command, "eth0", netns, stdin)
    }
}
