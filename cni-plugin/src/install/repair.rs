//! Race protection: a pod whose sandbox was set up before palisade-cni was on the node has no
//! redirect rules. The engine (or `palisade-init --validate`) finds that at start-up and exits
//! with [`exit::REDIRECT_MISSING`] or a termination message containing
//! [`exit::REDIRECT_MISSING_MARKER`] (both from the contract crate); this controller sees it
//! on the pods of its node and, with `repairMode: deletePods`, deletes the pod so its
//! controller recreates it with the plugin in place. Either way it records an Event on the pod.

use std::collections::HashSet;

use futures::TryStreamExt as _;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::api::{DeleteParams, Preconditions};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client, Resource as _, ResourceExt as _};

use palisade_api::{RedirectMode, exit, names};

use super::config::RepairMode;

#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error("watching pods on node {node}: {source}")]
    Watch {
        node: String,
        source: watcher::Error,
    },
    #[error(
        "repairMode: deletePods needs NODE_NAME (the node this installer runs on) to find its \
         pods; set it from spec.nodeName with the downward API, or use repairMode: none"
    )]
    NoNodeName,
}

/// The controller needs to know its node to delete anything: with `repairMode: deletePods` a
/// missing `NODE_NAME` is a configuration error, never a silently disabled controller. (With
/// `none` the controller only reports, and running without it is logged.)
pub fn check_node_name(mode: RepairMode, node: Option<&str>) -> Result<(), RepairError> {
    match (mode, node) {
        (RepairMode::DeletePods, None | Some("")) => Err(RepairError::NoNodeName),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    Ignore,
    /// Record an Event only (`repairMode: none`).
    Report(String),
    /// Delete the pod (`repairMode: deletePods`).
    Delete(String),
}

fn failed_check(status: &ContainerStatus) -> bool {
    let states = [status.state.as_ref(), status.last_state.as_ref()];
    states
        .into_iter()
        .flatten()
        .filter_map(|s| s.terminated.as_ref())
        .any(|t| {
            t.exit_code == exit::REDIRECT_MISSING_K8S
                || t.message
                    .as_deref()
                    .is_some_and(|m| m.contains(exit::REDIRECT_MISSING_MARKER))
        })
}

/// What to do about one pod; pure, so every case is a unit test.
pub fn decide(pod: &Pod, mode: RepairMode, exclude_namespaces: &[String]) -> Repair {
    let meta = &pod.metadata;
    if meta.deletion_timestamp.is_some()
        || meta
            .namespace
            .as_ref()
            .is_some_and(|ns| exclude_namespaces.contains(ns))
    {
        return Repair::Ignore;
    }
    let annotations = meta.annotations.as_ref();
    if annotations
        .and_then(|a| a.get(names::STATUS))
        .map(String::as_str)
        != Some(names::STATUS_INJECTED)
    {
        return Repair::Ignore;
    }
    // Pods redirected by their own init container, or not at all, never depend on the plugin.
    // (A value that does not parse was denied at admission; treat it as the plugin's.)
    let redirect = annotations
        .and_then(|a| a.get(names::REDIRECT))
        .and_then(|v| RedirectMode::parse(names::REDIRECT, v).ok());
    if matches!(redirect, Some(RedirectMode::Init | RedirectMode::None)) {
        return Repair::Ignore;
    }
    let Some(status) = pod.status.as_ref() else {
        return Repair::Ignore;
    };
    let statuses = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    let Some(failed) = statuses
        .filter(|s| names::REDIRECT_CHECKERS.contains(&s.name.as_str()))
        .find(|s| failed_check(s))
    else {
        return Repair::Ignore;
    };
    let reason = format!(
        "container {} found no redirect rules: the pod started before palisade-cni was installed on its node",
        failed.name
    );
    match mode {
        RepairMode::None => Repair::Report(reason),
        RepairMode::DeletePods => Repair::Delete(reason),
    }
}

/// Watches the pods of `node` and acts on [`decide`] until the stream ends or fails.
pub async fn run_controller(
    client: Client,
    node: String,
    mode: RepairMode,
    exclude: Vec<String>,
) -> Result<(), RepairError> {
    let pods: Api<Pod> = Api::all(client.clone());
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "palisade-cni".to_owned(),
            instance: Some(node.clone()),
        },
    );
    let cfg = watcher::Config::default().fields(&format!("spec.nodeName={node}"));
    let mut reported: HashSet<String> = HashSet::new();
    let stream = watcher(pods, cfg).default_backoff().applied_objects();
    futures::pin_mut!(stream);
    while let Some(pod) = stream
        .try_next()
        .await
        .map_err(|source| RepairError::Watch {
            node: node.clone(),
            source,
        })?
    {
        let action = decide(&pod, mode, &exclude);
        let uid = pod.uid().unwrap_or_default();
        let (note, delete) = match action {
            Repair::Ignore => continue,
            Repair::Report(note) if reported.insert(uid.clone()) => (note, false),
            Repair::Report(_) => continue,
            Repair::Delete(note) => (note, true),
        };
        let ns = pod.namespace().unwrap_or_default();
        let name = pod.name_any();
        tracing::warn!(
            namespace = ns,
            pod = name,
            delete,
            reason = note,
            "pod without redirection"
        );
        let event = Event {
            type_: EventType::Warning,
            reason: if delete {
                "PalisadeRepairDelete"
            } else {
                "PalisadeRedirectMissing"
            }
            .to_owned(),
            note: Some(note),
            action: if delete { "Delete" } else { "Report" }.to_owned(),
            secondary: None,
        };
        if let Err(error) = recorder.publish(&event, &pod.object_ref(&())).await {
            tracing::warn!(namespace = ns, pod = name, %error, "cannot record Event");
        }
        if delete {
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            // The uid precondition keeps a recreated pod of the same name safe.
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..Default::default()
            };
            if let Err(error) = api.delete(&name, &dp).await {
                tracing::warn!(namespace = ns, pod = name, %error, "cannot delete pod");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod node_name_tests {
    use super::*;

    #[test]
    fn delete_pods_without_node_name_is_a_config_error() {
        assert!(check_node_name(RepairMode::DeletePods, None).is_err());
        assert!(check_node_name(RepairMode::DeletePods, Some("")).is_err());
        assert!(check_node_name(RepairMode::DeletePods, Some("node-1")).is_ok());
        assert!(check_node_name(RepairMode::None, None).is_ok());
    }
}
