//! A "node" namespace whose "pods" are wired by the CNI reference plugins plus `palisade-cni`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::cni::{PluginOutput, plugin_config};
use crate::netns::Netns;
use crate::pod::TestPod;

/// Pod subnets handed out by `host-local`; each node namespace has its own bridge, so every
/// test may use the same ones without clashing.
pub const POD_SUBNET_V4: &str = "10.244.0.0/24";
pub const POD_SUBNET_V6: &str = "fd00:10:244::/64";
const ANNOTATIONS_CAP: &str = "io.kubernetes.cri.pod-annotations";

/// How to create one pod.
#[derive(Debug, Clone)]
pub struct PodConfig {
    pub name: String,
    pub namespace: String,
    pub annotations: BTreeMap<String, String>,
    /// Chain `palisade-cni` after `bridge` (off for the init-container path).
    pub chain_palisade: bool,
    /// Give the pod an IPv6 address as well.
    pub ipv6: bool,
    /// Extra keys for `palisade-cni`'s plugin config (`backend`, `capturePort`, ...).
    pub palisade_conf: serde_json::Map<String, Value>,
}

impl PodConfig {
    /// A pod the injector marked (`palisade.dev/status: injected`), with `palisade-cni` chained.
    pub fn injected(name: &str) -> Self {
        Self::plain(name).annotation(crate::INJECTED.0, crate::INJECTED.1)
    }

    /// A pod without Palisade's mark; `palisade-cni` is still chained and must leave it alone.
    pub fn plain(name: &str) -> Self {
        Self {
            name: name.to_string(),
            namespace: "default".into(),
            annotations: BTreeMap::new(),
            chain_palisade: true,
            ipv6: false,
            palisade_conf: serde_json::Map::new(),
        }
    }

    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_string(), value.to_string());
        self
    }

    /// Wire the pod with the reference plugins only (for `palisade-init` tests).
    pub fn without_palisade(mut self) -> Self {
        self.chain_palisade = false;
        self
    }

    pub fn ipv6(mut self) -> Self {
        self.ipv6 = true;
        self
    }

    /// Pin `palisade-cni`'s backend: `nft`, `iptables-nft` or `iptables-legacy`.
    pub fn backend(self, backend: &str) -> Self {
        self.palisade_option("backend", json!(backend))
    }

    pub fn palisade_option(mut self, key: &str, value: Value) -> Self {
        self.palisade_conf.insert(key.to_string(), value);
        self
    }
}

/// A plugin of the chain failed.
#[derive(Debug)]
pub struct CniFailure {
    pub plugin: String,
    pub output: PluginOutput,
}

impl fmt::Display for CniFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CNI plugin {} failed ({}): stdout={} stderr={}",
            self.plugin, self.output.status, self.output.stdout, self.output.stderr
        )
    }
}

impl std::error::Error for CniFailure {}

/// Deletes `pal-<pid>-...` namespaces whose process is gone (a test killed on timeout).
fn sweep_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for name in entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
    {
        let pid = name.strip_prefix("pal-").and_then(|r| r.split('-').next());
        if let Some(pid) = pid.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &name])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// The "node": a network namespace that plays the host of the pods.
pub struct TestNode {
    netns: Netns,
    test: String,
    // Dropped after the namespaces: host-local's state and palisade-cni's log.
    dir: tempfile::TempDir,
}

impl TestNode {
    /// [`TestNode::new`] named after the running test ([`crate::env::test_name`]), so a
    /// leftover namespace says which test left it.
    pub fn for_test() -> TestNode {
        Self::new(&crate::env::test_name())
    }

    /// Creates the node namespace `pal-<pid>-<test>-node` (pods: `pal-<pid>-<test>-<pod>`),
    /// after deleting namespaces left by test processes that were killed before their drop.
    pub fn new(test: &str) -> TestNode {
        sweep_stale_namespaces();
        let test = format!("{}-{test}", std::process::id());
        let netns = Netns::create(&format!("pal-{test}-node"));
        let dir = tempfile::Builder::new()
            .prefix(&format!("palisade-{test}-"))
            .tempdir()
            .expect("tempdir");
        TestNode { netns, test, dir }
    }

    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// Scratch directory of this node (IPAM state, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The file `palisade-cni` logs to.
    pub fn palisade_log(&self) -> PathBuf {
        self.dir().join("palisade-cni.log")
    }

    /// The conflist a runtime would read from /etc/cni/net.d for this pod.
    pub fn conflist(&self, pod: &PodConfig) -> Value {
        let mut ranges = vec![json!([{ "subnet": POD_SUBNET_V4 }])];
        let mut routes = vec![json!({ "dst": "0.0.0.0/0" })];
        if pod.ipv6 {
            ranges.push(json!([{ "subnet": POD_SUBNET_V6 }]));
            routes.push(json!({ "dst": "::/0" }));
        }
        let mut plugins = vec![json!({
            "type": "bridge",
            "bridge": "cni0",
            "isGateway": true,
            "ipMasq": false,
            "ipam": {
                "type": "host-local",
                "dataDir": self.dir().join("ipam"),
                "ranges": ranges,
                "routes": routes,
            }
        })];
        if pod.chain_palisade {
            let mut p = json!({
                "type": "palisade-cni",
                "capabilities": { ANNOTATIONS_CAP: true },
                "logFile": self.palisade_log(),
                "logLevel": "debug",
            });
            for (k, v) in &pod.palisade_conf {
                p[k] = v.clone();
            }
            plugins.push(p);
        }
        json!({ "cniVersion": "1.0.0", "name": "palisade-test", "plugins": plugins })
    }

    fn cni_path(&self, pod: &PodConfig) -> String {
        if pod.chain_palisade {
            let dir = crate::bin("palisade-cni");
            let dir = dir.parent().expect("binary has a directory");
            format!("{}:{}", crate::CNI_PLUGIN_DIR, dir.display())
        } else {
            crate::CNI_PLUGIN_DIR.to_string()
        }
    }

    /// Creates the pod namespace and runs CNI ADD for `lo` and the conflist, in order, as a
    /// runtime does. On failure the namespace is deleted and the failing plugin returned.
    pub fn add_pod(&self, config: PodConfig) -> Result<TestPod<'_>, CniFailure> {
        let netns = Netns::create(&format!("pal-{}-{}", self.test, config.name));
        let mut pod = TestPod {
            node: self,
            container_id: format!("{}-{}", self.test, config.name),
            list: self.conflist(&config),
            cni_path: self.cni_path(&config),
            runtime: json!({ ANNOTATIONS_CAP: config.annotations }),
            config,
            netns,
            result: Value::Null,
        };
        let lo = json!({ "cniVersion": "1.0.0", "name": "lo", "type": "loopback" });
        pod.run_plugin("ADD", "loopback", "lo", &lo)?;
        let mut prev: Option<Value> = None;
        let plugins = pod.list["plugins"].as_array().cloned().unwrap_or_default();
        for plugin in &plugins {
            let conf = plugin_config(&pod.list, plugin, prev.as_ref(), &pod.runtime);
            let ty = plugin["type"].as_str().unwrap_or_default().to_string();
            let out = pod.run_plugin("ADD", &ty, "eth0", &conf)?;
            prev = Some(out.json());
        }
        pod.result = prev.unwrap_or(Value::Null);
        Ok(pod)
    }
}
