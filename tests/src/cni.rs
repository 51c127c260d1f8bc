//! Running a CNI plugin the way a container runtime does: `CNI_*` environment variables,
//! the network config on stdin, the result (or error) as JSON on stdout.

use std::io::Write;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use serde_json::Value;

use crate::netns::Netns;

/// What a plugin invocation returned.
#[derive(Debug)]
pub struct PluginOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl PluginOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// stdout parsed as JSON (result or CNI error); panics with the raw output otherwise.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "plugin stdout is not JSON ({e}): stdout={:?} stderr={:?}",
                self.stdout, self.stderr
            )
        })
    }

    /// The CNI error code, when the plugin failed with an error object.
    pub fn error_code(&self) -> Option<u64> {
        serde_json::from_str::<Value>(&self.stdout)
            .ok()?
            .get("code")?
            .as_u64()
    }
}

/// One invocation: environment as the runtime sets it.
pub(crate) struct Invocation<'a> {
    pub command: &'a str,
    pub container_id: &'a str,
    /// `None` leaves `CNI_NETNS` unset (DEL after the sandbox is gone, or a bad-input test).
    pub netns: Option<&'a Path>,
    pub ifname: &'a str,
    pub cni_path: &'a str,
    pub args: &'a str,
}

/// Runs `plugin` inside `host` (the node namespace) with `stdin`.
pub(crate) fn invoke(
    host: &Netns,
    plugin: &Path,
    inv: &Invocation<'_>,
    stdin: &str,
) -> PluginOutput {
    let mut cmd = host.command(plugin);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CNI_COMMAND", inv.command)
        .env("CNI_CONTAINERID", inv.container_id)
        .env("CNI_IFNAME", inv.ifname)
        .env("CNI_PATH", inv.cni_path)
        .env("CNI_ARGS", inv.args);
    if let Some(ns) = inv.netns {
        cmd.env("CNI_NETNS", ns);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run CNI plugin {}: {e}", plugin.display()));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write plugin stdin");
    let out = child.wait_with_output().expect("wait for CNI plugin");
    PluginOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The config libcni hands one plugin of a conflist: the plugin's own object plus the list's
/// `name` and `cniVersion`, the previous plugin's result, and the runtime's capability args
/// for the capabilities the plugin declares.
pub(crate) fn plugin_config(
    list: &Value,
    plugin: &Value,
    prev: Option<&Value>,
    runtime: &Value,
) -> Value {
    let mut conf = plugin.clone();
    let obj = conf.as_object_mut().expect("plugin config is an object");
    obj.insert("name".into(), list["name"].clone());
    obj.insert("cniVersion".into(), list["cniVersion"].clone());
    if let Some(prev) = prev {
        obj.insert("prevResult".into(), prev.clone());
    }
    if let Some(caps) = plugin.get("capabilities").and_then(Value::as_object) {
        let mut rc = serde_json::Map::new();
        for (cap, on) in caps {
            if on.as_bool() == Some(true)
                && let Some(v) = runtime.get(cap)
            {
                rc.insert(cap.clone(), v.clone());
            }
        }
        if !rc.is_empty() {
            obj.insert("runtimeConfig".into(), Value::Object(rc));
        }
    }
    conf
}
