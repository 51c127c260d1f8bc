//! Multus: join the palisade-cni network by appending it to `k8s.v1.cni.cncf.io/networks`,
//! keeping whatever the pod already asked for, in whichever of the two forms it used.

use serde_json::{Value, json};

pub const NETWORKS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/networks";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "annotation {NETWORKS_ANNOTATION}: invalid value {value:?}; allowed: a comma-separated list of [namespace/]name[@interface] or a JSON list of objects with a \"name\""
)]
pub struct NetworksError {
    pub value: String,
}

/// Splits "ns/name" into (Some(ns), name).
fn split(network: &str) -> (Option<&str>, &str) {
    match network.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, network),
    }
}

/// Returns the new annotation value with `network` appended, or `None` if it is already there.
pub fn append(
    existing: Option<&str>,
    network: &str,
    pod_namespace: &str,
) -> Result<Option<String>, NetworksError> {
    let existing = existing.map(str::trim).unwrap_or("");
    let (want_ns, want_name) = split(network);
    let want_ns = want_ns.unwrap_or(pod_namespace);
    if existing.starts_with('[') {
        let bad = || NetworksError {
            value: existing.to_owned(),
        };
        let mut list: Vec<Value> = serde_json::from_str(existing).map_err(|_| bad())?;
        for item in &list {
            let name = item.get("name").and_then(Value::as_str).ok_or_else(bad)?;
            let ns = item
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or(pod_namespace);
            if name == want_name && ns == want_ns {
                return Ok(None);
            }
        }
        list.push(json!({ "name": want_name, "namespace": want_ns }));
        // Serialising a Vec<Value> cannot fail (no non-string map keys).
        return Ok(Some(serde_json::to_string(&list).unwrap_or_default()));
    }
    if existing.is_empty() {
        return Ok(Some(network.to_owned()));
    }
    for item in existing.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(NetworksError {
                value: existing.to_owned(),
            });
        }
        let without_iface = item.split_once('@').map_or(item, |(n, _)| n);
        let (ns, name) = split(without_iface);
        if name == want_name && ns.unwrap_or(pod_namespace) == want_ns {
            return Ok(None);
        }
    }
    Ok(Some(format!("{existing},{network}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_is_appended_to_the_comma_form() {
        let got = append(
            Some("sriov-net@net1, other/macvlan"),
            "palisade/palisade-cni",
            "shop",
        )
        .unwrap();
        assert_eq!(
            got.as_deref(),
            Some("sriov-net@net1, other/macvlan,palisade/palisade-cni")
        );
    }

    #[test]
    fn network_is_appended_to_the_json_list_form() {
        let got = append(
            Some(r#"[{"name":"sriov-net","interface":"net1"}]"#),
            "palisade/palisade-cni",
            "shop",
        )
        .unwrap();
        let list: Value = serde_json::from_str(&got.unwrap()).unwrap();
        assert_eq!(
            list,
            json!([{"name":"sriov-net","interface":"net1"},{"name":"palisade-cni","namespace":"palisade"}])
        );
    }

    #[test]
    fn network_already_present_is_not_added_twice() {
        assert_eq!(
            append(
                Some("palisade/palisade-cni"),
                "palisade/palisade-cni",
                "shop"
            )
            .unwrap(),
            None
        );
        assert_eq!(
            append(
                Some(r#"[{"name":"palisade-cni","namespace":"palisade"}]"#),
                "palisade/palisade-cni",
                "x"
            )
            .unwrap(),
            None
        );
        assert_eq!(
            append(Some("palisade-cni"), "palisade-cni", "shop").unwrap(),
            None
        );
    }

    #[test]
    fn empty_annotation_gets_the_network_alone() {
        assert_eq!(
            append(None, "palisade/palisade-cni", "shop")
                .unwrap()
                .as_deref(),
            Some("palisade/palisade-cni")
        );
    }

    #[test]
    fn malformed_networks_annotation_is_an_error() {
        assert!(append(Some("[{\"nam\":1}]"), "a/b", "x").is_err());
        assert!(append(Some("[not json"), "a/b", "x").is_err());
        assert!(append(Some("a,,b"), "a/b", "x").is_err());
    }
}
