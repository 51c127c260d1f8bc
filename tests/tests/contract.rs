//! One contract, three readers: a table of annotation sets goes through the injector's
//! admission decision, the CNI plugin's redirect config and `palisade-init`'s flags. A set
//! one of them refuses, all three refuse with the same message (init names its variable
//! instead of the annotation); a set they accept yields the same redirect config in the CNI
//! plugin and in the `palisade-init` container the injector writes. No root needed.

use std::collections::BTreeMap;

use clap::Parser as _;
use k8s_openapi::api::core::v1::Pod;
use palisade_api::names;
use palisade_cni_plugin::conf::NetConf;
use palisade_cni_plugin::error::code;
use palisade_cni_plugin::pod::{PodInfo, redirect_config};
use palisade_injector::config::InjectorConfig;
use palisade_injector::inject::{Decision, decide};
use palisade_redirect::RedirectConfig;
use serde_json::{Value, json};

const INCLUDE: &str = names::INCLUDE_INBOUND_PORTS;
const EXCLUDE: &str = names::EXCLUDE_INBOUND_PORTS;
const MESH: &str = names::SERVICE_MESH;

/// Annotation sets every component accepts.
const GOOD: &[&[(&str, &str)]] = &[
    &[],
    &[(INCLUDE, "*")],
    &[(INCLUDE, " 8080 , 8443 ")],
    &[(INCLUDE, "8000-9000"), (EXCLUDE, "8500")],
    &[(EXCLUDE, "")],
    &[(EXCLUDE, "8081,9000-9100"), (MESH, "istio")],
    &[(MESH, "none")],
    &[(INCLUDE, "15302-15400"), (EXCLUDE, "15300")],
];

/// Annotation sets every component refuses; the second item is in the message.
const BAD: &[(&[(&str, &str)], &str)] = &[
    (&[(INCLUDE, "15300")], "capture port 15300"),
    (&[(INCLUDE, "8080,15301")], "admin port 15301"),
    (&[(INCLUDE, "15000-15400")], "capture port 15300"),
    (&[(INCLUDE, "")], "empty list"),
    (&[(INCLUDE, "80,,81")], "empty item"),
    (&[(EXCLUDE, "80,,81")], "empty item"),
    (&[(EXCLUDE, "80,")], "empty item"),
    (&[(EXCLUDE, "0")], "0 is not a port"),
    (&[(EXCLUDE, "70000")], "above 65535"),
    (&[(EXCLUDE, "9100-9000")], "starts after it ends"),
    (&[(INCLUDE, "http")], "not a port number"),
    (&[(MESH, "linkerd")], "none, istio"),
];

fn injector_config(redirect_mode: &str) -> InjectorConfig {
    let config = json!({
        "kubernetesVersion": "1.33",
        "engine": {
            "image": "palisade-engine:test", "mode": "block", "paranoiaLevel": 1,
            "logLevel": "info", "capturePort": 15300, "adminPort": 15301, "uid": 15300,
            "cpuRequest": "100m", "memoryRequest": "128Mi", "cpuLimit": "1", "memoryLimit": "512Mi"
        },
        "redirect": { "mode": redirect_mode, "initImage": "palisade-init:test" }
    });
    InjectorConfig::from_json(&config.to_string(), "contract test").unwrap()
}

fn annotations(set: &[(&str, &str)]) -> BTreeMap<String, String> {
    set.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn pod(set: &[(&str, &str)]) -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": "web", "namespace": "shop",
            "labels": { names::INJECT_LABEL: names::INJECT_POD_ON },
            "annotations": annotations(set),
        },
        "spec": { "containers": [{ "name": "app", "image": "app:1" }] }
    }))
    .unwrap()
}

fn admit(set: &[(&str, &str)], redirect_mode: &str) -> Decision {
    decide(
        &pod(set),
        "shop",
        &BTreeMap::new(),
        &injector_config(redirect_mode),
    )
}

fn cni(set: &[(&str, &str)]) -> Result<RedirectConfig, palisade_cni_plugin::error::CniError> {
    let conf = NetConf::parse(br#"{"cniVersion":"1.1.0","name":"k8s"}"#).unwrap();
    redirect_config(
        &conf,
        &PodInfo {
            namespace: "shop".into(),
            name: "web".into(),
            annotations: annotations(set),
            containers: vec![],
        },
    )
}

/// The flag `palisade-init` reads an annotation's value from, and the variable it names.
fn init_flag(annotation: &str) -> (&'static str, &'static str) {
    match annotation {
        INCLUDE => (
            "--include-inbound-ports",
            names::init_env::INCLUDE_INBOUND_PORTS,
        ),
        EXCLUDE => (
            "--exclude-inbound-ports",
            names::init_env::EXCLUDE_INBOUND_PORTS,
        ),
        MESH => ("--service-mesh", names::init_env::SERVICE_MESH),
        other => panic!("no palisade-init flag for {other}"),
    }
}

fn init(flags: impl IntoIterator<Item = String>) -> Result<RedirectConfig, String> {
    let args = palisade_init::Args::try_parse_from(
        std::iter::once("palisade-init".to_owned()).chain(flags),
    )
    .map_err(|e| format!("clap: {e}"))?;
    args.redirect_config().map_err(|e| e.to_string())
}

fn init_from_annotations(set: &[(&str, &str)]) -> Result<RedirectConfig, String> {
    init(set.iter().map(|(k, v)| format!("{}={v}", init_flag(k).0)))
}

/// The `palisade-init` container of an admitted pod, its environment turned back into flags.
fn injected_init_flags(decision: &Decision) -> Vec<String> {
    let Decision::Patch { patch, .. } = decision else {
        panic!("expected a patch, got {decision:?}");
    };
    let containers = patch
        .as_array()
        .unwrap()
        .iter()
        .filter(|op| {
            op["path"]
                .as_str()
                .unwrap_or("")
                .starts_with("/spec/initContainers")
        })
        .flat_map(|op| match &op["value"] {
            Value::Array(list) => list.clone(),
            one => vec![one.clone()],
        });
    let init = containers
        .into_iter()
        .find(|c| c["name"] == names::INIT_CONTAINER)
        .expect("palisade-init container in the patch");
    init["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let name = e["name"].as_str()?;
            let value = e["value"].as_str()?;
            // PALISADE_LOG is logging, not a flag.
            let flag = name
                .strip_prefix("PALISADE_")
                .filter(|_| name != names::LOG_ENV)?;
            Some(format!(
                "--{}={value}",
                flag.to_lowercase().replace('_', "-")
            ))
        })
        .collect()
}

#[test]
fn refused_annotations_are_refused_by_all_three_with_one_message() {
    for (set, needle) in BAD {
        let cni_err = cni(set).expect_err(&format!("CNI plugin accepted {set:?}"));
        assert_eq!(cni_err.code, code::INVALID_ANNOTATION, "{set:?}");
        assert!(cni_err.msg.contains(needle), "{set:?}: {}", cni_err.msg);

        for mode in ["cni", "init"] {
            match admit(set, mode) {
                Decision::Deny(msg) => {
                    assert_eq!(msg, format!("palisade: {}", cni_err.msg), "{set:?}")
                }
                other => panic!("injector admitted {set:?} (redirect {mode}): {other:?}"),
            }
        }

        let init_err = init_from_annotations(set).expect_err(&format!("init accepted {set:?}"));
        let (annotation, _) = set[0];
        let (_, variable) = init_flag(annotation);
        assert_eq!(
            init_err,
            cni_err.msg.replace(annotation, variable),
            "palisade-init says what the CNI plugin says, naming its variable"
        );
    }
}

#[test]
fn capture_port_include_is_denied_at_admission_with_the_cni_message() {
    let set: &[(&str, &str)] = &[(INCLUDE, "15300")];
    let cni_err = cni(set).unwrap_err();
    assert_eq!(
        admit(set, "cni"),
        Decision::Deny(format!("palisade: {}", cni_err.msg))
    );
    assert_eq!(
        cni_err.msg,
        "palisade.dev/include-inbound-ports: 15300 includes the engine's capture port 15300, \
         which is never redirected; list only the application's ports, or `*`"
    );
}

#[test]
fn accepted_annotations_give_one_redirect_config_everywhere() {
    for set in GOOD {
        let from_cni = cni(set).unwrap_or_else(|e| panic!("CNI plugin refused {set:?}: {e}"));
        let from_init = init_from_annotations(set)
            .unwrap_or_else(|e| panic!("palisade-init refused {set:?}: {e}"));
        assert_eq!(from_cni, from_init, "{set:?}");
        assert!(
            matches!(admit(set, "cni"), Decision::Patch { .. }),
            "injector refused {set:?}"
        );
        // What the injector hands the init container means what the annotations meant.
        let flags = injected_init_flags(&admit(set, "init"));
        let from_injected =
            init(flags.clone()).unwrap_or_else(|e| panic!("{set:?} -> {flags:?}: {e}"));
        assert_eq!(from_injected, from_cni, "{set:?} -> {flags:?}");
    }
}
