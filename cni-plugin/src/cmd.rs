//! The CNI operations. Each returns the JSON to print on success (`None`: print nothing).

use palisade_redirect::{BackendChoice, RedirectError};
use serde_json::{Value, json};

use crate::conf::NetConf;
use crate::error::{CniError, code};
use crate::pod::{PodInfo, redirect_config};
use crate::vars::{Attachment, Command, Vars};

/// Runs `command` with the parsed environment and stdin.
pub fn handle(vars: &dyn Vars, stdin: &[u8]) -> Result<Option<Value>, CniError> {
    let command = Command::from_vars(vars)?;
    if command == Command::Version {
        return Ok(Some(crate::conf::version_answer()));
    }
    let conf = NetConf::parse(stdin)?;
    match command {
        Command::Add => add(&conf, &Attachment::from_vars(vars, command)?).map(Some),
        Command::Del => del(&conf, &Attachment::from_vars(vars, command)?).map(|()| None),
        Command::Check => check(&conf, &Attachment::from_vars(vars, command)?).map(|()| None),
        Command::Status => status(&conf).map(|()| None),
        // Palisade keeps no state outside the pod's namespace, which dies with the pod.
        Command::Gc => Ok(None),
        Command::Version => Ok(Some(crate::conf::version_answer())),
    }
}

/// Chained: the previous result unchanged. Standalone (Multus): an empty result.
fn result(conf: &NetConf) -> Value {
    conf.prev_result.clone().unwrap_or_else(
        || json!({ "cniVersion": conf.cni_version, "interfaces": [], "ips": [], "dns": {} }),
    )
}

/// The pod's identity and annotations; `None` when the plugin must leave it alone.
fn pod_info(conf: &NetConf, att: &Attachment) -> Result<Option<PodInfo>, CniError> {
    let (Some(namespace), Some(name)) = (att.pod_namespace.clone(), att.pod_name.clone()) else {
        // Not a Kubernetes pod (no K8S_POD_* in CNI_ARGS): nothing Palisade injects into.
        tracing::info!(container_id = %att.container_id, "no Kubernetes pod identity in CNI_ARGS; passing through");
        return Ok(None);
    };
    if conf.exclude_namespaces.contains(&namespace) {
        tracing::info!(%namespace, pod = %name, "namespace excluded; passing through");
        return Ok(None);
    }
    match &conf.runtime_config.pod_annotations {
        Some(a) => Ok(Some(PodInfo {
            namespace,
            name,
            annotations: a.clone(),
            containers: Vec::new(),
        })),
        None => crate::apiserver::pod_info(conf, &namespace, &name).map(Some),
    }
}

fn redirect_error(context: &str, e: RedirectError) -> CniError {
    CniError::new(code::REDIRECT_FAILED, format!("{context}: {e}"))
}

fn add(conf: &NetConf, att: &Attachment) -> Result<Value, CniError> {
    let Some(pod) = pod_info(conf, att)? else {
        return Ok(result(conf));
    };
    if !pod.is_injected() {
        tracing::info!(namespace = %pod.namespace, pod = %pod.name, "pod not injected; passing through");
        return Ok(result(conf));
    }
    if let Some(mode) = pod.redirect_elsewhere() {
        tracing::info!(namespace = %pod.namespace, pod = %pod.name, redirect = %mode.as_str(), "pod's redirect is not the plugin's; passing through");
        return Ok(result(conf));
    }
    let config = redirect_config(conf, &pod)?;
    let netns = att
        .netns
        .as_deref()
        .ok_or_else(|| CniError::new(code::INVALID_ENV, "CNI_NETNS is not set"))?;
    let choice = conf.backend_choice()?;
    let (backend, plan) = palisade_redirect::apply_in(netns, &config, choice)
        .map_err(|e| redirect_error("applying redirect rules", e))?;
    // Verify what the kernel holds now, so a silently ignored rule fails the pod.
    let (_, drift) = palisade_redirect::check_in(netns, &config, BackendChoice::Fixed(backend))
        .map_err(|e| redirect_error("verifying redirect rules", e))?;
    if !drift.is_empty() {
        return Err(
            CniError::new(code::REDIRECT_FAILED, "redirect rules did not take effect")
                .with_details(drift.to_string()),
        );
    }
    tracing::info!(
        namespace = %pod.namespace, pod = %pod.name, %backend,
        v4 = plan.families.v4, v6 = plan.families.v6, rules = plan.rules.len(),
        "redirect applied"
    );
    Ok(result(conf))
}

fn del(conf: &NetConf, att: &Attachment) -> Result<(), CniError> {
    let Some(netns) = att.netns.as_deref() else {
        return Ok(());
    };
    // With `auto`, DEL does not know which backend ADD picked: remove_in cleans every one.
    let choice = conf.backend_choice()?;
    match palisade_redirect::remove_in(netns, choice) {
        Ok(()) => Ok(()),
        Err(RedirectError::Netns(e)) if e.is_gone() => {
            tracing::info!(netns = %netns.display(), "namespace already gone; nothing to remove");
            Ok(())
        }
        Err(e) => Err(redirect_error("removing redirect rules", e)),
    }
}

fn check(conf: &NetConf, att: &Attachment) -> Result<(), CniError> {
    let Some(pod) = pod_info(conf, att)? else {
        return Ok(());
    };
    if !pod.is_injected() || pod.redirect_elsewhere().is_some() {
        return Ok(());
    }
    let config = redirect_config(conf, &pod)?;
    let netns = att
        .netns
        .as_deref()
        .ok_or_else(|| CniError::new(code::INVALID_ENV, "CNI_NETNS is not set"))?;
    let (backend, drift) = palisade_redirect::check_in(netns, &config, conf.backend_choice()?)
        .map_err(|e| redirect_error("reading redirect rules", e))?;
    if drift.is_empty() {
        Ok(())
    } else {
        Err(CniError::new(
            code::DRIFT,
            format!(
                "redirect rules of pod {}/{} ({backend}) differ from the plan; delete and recreate the pod, or re-run ADD",
                pod.namespace, pod.name
            ),
        )
        .with_details(drift.to_string()))
    }
}

/// Ready when the packet-filter tools the configured backend needs are installed.
fn status(conf: &NetConf) -> Result<(), CniError> {
    let needed: &[&str] = match conf.backend_choice()? {
        BackendChoice::Fixed(palisade_redirect::Backend::Nft) | BackendChoice::Auto => &["nft"],
        BackendChoice::Fixed(palisade_redirect::Backend::IptablesNft) => &["iptables-nft-restore"],
        BackendChoice::Fixed(palisade_redirect::Backend::IptablesLegacy) => {
            &["iptables-legacy-restore"]
        }
    };
    for tool in needed {
        let found = std::process::Command::new(tool)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Err(CniError::new(
                code::NOT_AVAILABLE,
                format!(
                    "`{tool}` is not installed on this node; install Debian's iptables/nftables"
                ),
            ));
        }
    }
    Ok(())
}
