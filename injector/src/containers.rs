//! The containers and volumes the injector adds. Engine settings travel as the engine's own
//! `PALISADE_*` configuration variables (docs/configuration.md), filled from the annotations
//! over the chart defaults (`palisade.dev/mode` -> `PALISADE_INSPECTION_MODE`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    HTTPGetAction, Probe, ResourceRequirements, SeccompProfile, SecurityContext, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use palisade_api::Quantity;
use palisade_api::names::{self, LOG_ENV, init_env};
use palisade_api::ports::format_list;

use crate::annotations::PodSettings;
use crate::config::{EngineConfig, RedirectConfig};

pub const TMP_VOLUME: &str = "palisade-tmp";
/// The cluster-wide rules ConfigMap (chart `engine.crs.configMap`).
pub const RULES_VOLUME: &str = "palisade-rules";
pub const RULES_DIR: &str = "/etc/palisade/rules";
/// The pod's own rules ConfigMap (`palisade.dev/rules-configmap`).
pub const POD_RULES_VOLUME: &str = "palisade-pod-rules";
pub const POD_RULES_DIR: &str = "/etc/palisade/pod-rules";
/// The rule set the engine image ships (its `PALISADE_INSPECTION_RULES` default): CRS setup,
/// then the CRS rules, in the order CRS requires.
pub const IMAGE_RULES: &str =
    "/usr/share/palisade/crs/crs-setup.conf,/usr/share/palisade/crs/rules/*.conf";
/// Named so a PodMonitor can scrape every engine by port name.
pub const ADMIN_PORT_NAME: &str = "palisade-admin";

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.into()),
        ..Default::default()
    }
}

fn http_probe(path: &str, port: u16, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::Int(i32::from(port)),
            ..Default::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

fn quantities(cpu: &Quantity, memory: &Quantity) -> BTreeMap<String, K8sQuantity> {
    BTreeMap::from([
        ("cpu".to_owned(), K8sQuantity(cpu.to_string())),
        ("memory".to_owned(), K8sQuantity(memory.to_string())),
    ])
}

/// The engine container; `native` makes it a native sidecar (an init container that keeps
/// running, whose startup probe holds back the app containers until the rules are loaded).
/// Requests and limits of the short-lived init containers (`palisade-init`,
/// `palisade-validate`): a few milliseconds of CPU and a little memory, capped at `memory`.
fn short_lived_resources(memory: &str) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), K8sQuantity("10m".to_owned())),
            ("memory".to_owned(), K8sQuantity("16Mi".to_owned())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_owned(),
            K8sQuantity(memory.to_owned()),
        )])),
        ..Default::default()
    }
}

pub fn engine(cfg: &EngineConfig, s: &PodSettings, native: bool) -> Container {
    let mut env_vars = vec![
        env("PALISADE_INSPECTION_MODE", s.mode.as_str()),
        env(
            "PALISADE_INSPECTION_PARANOIA_LEVEL",
            s.paranoia_level.to_string(),
        ),
        env(LOG_ENV, s.log_level.as_str()),
        env(
            "PALISADE_LISTEN",
            format!("0.0.0.0:{0},[::]:{0}", cfg.capture_port),
        ),
        env("PALISADE_ADMIN", format!("0.0.0.0:{}", cfg.admin_port)),
        env("PALISADE_TMP_DIR", "/tmp"),
    ];
    let mut mounts = vec![VolumeMount {
        name: TMP_VOLUME.to_owned(),
        mount_path: "/tmp".to_owned(),
        ..Default::default()
    }];
    let rules = rule_mounts(cfg, s);
    if !rules.is_empty() {
        // The user's rules and exclusions load after the CRS the image ships, cluster-wide
        // first, so a pod's own exclusions can refine them. Each directory is a ConfigMap
        // volume: kubelet swaps its `..data` link on a change and the engine reloads.
        let mut list = IMAGE_RULES.to_owned();
        for m in &rules {
            list.push_str(&format!(",{}/*.conf", m.dir));
            mounts.push(VolumeMount {
                name: m.volume.to_owned(),
                mount_path: m.dir.to_owned(),
                read_only: Some(true),
                ..Default::default()
            });
        }
        env_vars.push(env("PALISADE_INSPECTION_RULES", list));
    }
    Container {
        name: names::ENGINE_CONTAINER.to_owned(),
        image: Some(cfg.image.clone()),
        image_pull_policy: Some(cfg.image_pull_policy.clone()),
        restart_policy: native.then(|| "Always".to_owned()),
        env: Some(env_vars),
        ports: Some(vec![
            ContainerPort {
                name: Some("palisade-proxy".to_owned()),
                container_port: i32::from(cfg.capture_port),
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            },
            ContainerPort {
                name: Some(ADMIN_PORT_NAME.to_owned()),
                container_port: i32::from(cfg.admin_port),
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            },
        ]),
        startup_probe: Some(http_probe("/readyz", cfg.admin_port, 1, 120)),
        readiness_probe: Some(http_probe("/readyz", cfg.admin_port, 5, 3)),
        liveness_probe: Some(http_probe("/healthz", cfg.admin_port, 10, 3)),
        resources: Some(ResourceRequirements {
            requests: Some(quantities(&s.cpu_request, &s.memory_request)),
            limits: Some(quantities(&s.cpu_limit, &s.memory_limit)),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            run_as_user: cfg.uid,
            run_as_group: cfg.uid,
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Default::default()
            }),
            // Pod Security `restricted` requires it on every container.
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_owned(),
                localhost_profile: None,
            }),
            ..Default::default()
        }),
        volume_mounts: Some(mounts),
        ..Default::default()
    }
}

/// `palisade-init`: installs the redirect rules in the pod's network namespace, then exits.
/// It needs NET_ADMIN and NET_RAW and nothing else.
pub fn init(redirect: &RedirectConfig, engine: &EngineConfig, s: &PodSettings) -> Container {
    // The same syntax as the annotations, already validated by the contract crate.
    let mut env_vars = vec![
        env(LOG_ENV, s.log_level.as_str()),
        env(init_env::CAPTURE_PORT, engine.capture_port.to_string()),
        env(init_env::ADMIN_PORT, engine.admin_port.to_string()),
        env(init_env::SERVICE_MESH, s.ports.mesh.as_str()),
        env(init_env::INCLUDE_INBOUND_PORTS, s.ports.include.to_string()),
    ];
    // Unknown when the platform assigns the UID; palisade-init then uses its default. The
    // engine runs with GID = UID (`run_as_group` above), so both travel.
    if let Some(uid) = engine.uid {
        env_vars.push(env(init_env::ENGINE_UID, uid.to_string()));
        env_vars.push(env(init_env::ENGINE_GID, uid.to_string()));
    }
    if !s.ports.exclude.is_empty() {
        env_vars.push(env(
            init_env::EXCLUDE_INBOUND_PORTS,
            format_list(&s.ports.exclude),
        ));
    }
    Container {
        name: names::INIT_CONTAINER.to_owned(),
        image: Some(redirect.init_image.clone()),
        image_pull_policy: Some(redirect.init_image_pull_policy.clone()),
        command: Some(vec!["palisade-init".to_owned()]),
        env: Some(env_vars),
        resources: Some(short_lived_resources("64Mi")),
        security_context: Some(SecurityContext {
            run_as_user: Some(0),
            run_as_non_root: Some(false),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                add: Some(vec!["NET_ADMIN".to_owned(), "NET_RAW".to_owned()]),
                drop: Some(vec!["ALL".to_owned()]),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A ConfigMap of rules mounted read-only into the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMount {
    pub volume: &'static str,
    pub dir: &'static str,
    pub config_map: String,
}

/// The rule ConfigMaps of a pod, in load order: the cluster-wide one (chart
/// `engine.crs.configMap`), then the pod's own (`palisade.dev/rules-configmap`). Both apply;
/// a pod naming the cluster-wide ConfigMap gets it once (loading it twice would fail on
/// duplicate rule ids).
pub fn rule_mounts(cfg: &EngineConfig, s: &PodSettings) -> Vec<RuleMount> {
    let mut out = Vec::new();
    if let Some(cm) = &cfg.rules_config_map {
        out.push(RuleMount {
            volume: RULES_VOLUME,
            dir: RULES_DIR,
            config_map: cm.clone(),
        });
    }
    if let Some(cm) = &s.rules_config_map
        && cfg.rules_config_map.as_deref() != Some(cm.as_str())
    {
        out.push(RuleMount {
            volume: POD_RULES_VOLUME,
            dir: POD_RULES_DIR,
            config_map: cm.to_string(),
        });
    }
    out
}

pub fn volumes(cfg: &EngineConfig, s: &PodSettings) -> Vec<Volume> {
    let mut v = vec![Volume {
        name: TMP_VOLUME.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(K8sQuantity("64Mi".to_owned())),
            ..Default::default()
        }),
        ..Default::default()
    }];
    for m in rule_mounts(cfg, s) {
        // Not optional: a pod whose rules ConfigMap is missing waits (kubelet reports the
        // missing ConfigMap in the pod's events) instead of starting without its rules.
        v.push(Volume {
            name: m.volume.to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: m.config_map,
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    v
}

/// `palisade-validate` (CNI mode): proves, with no privilege at all, that palisade-cni put
/// the pod's redirect in place (a connection to 127.0.0.2:15302 that only the redirect plan
/// turns into one to the capture port), and otherwise fails the pod (exit 66, termination
/// message) before the engine and the app start, for palisade-cni's repair controller to
/// recreate it. Non-root, no capabilities, RuntimeDefault seccomp: Pod Security `restricted`
/// and OpenShift `restricted-v2` admit it.
pub fn validate(redirect: &RedirectConfig, engine: &EngineConfig, _s: &PodSettings) -> Container {
    Container {
        name: names::VALIDATE_CONTAINER.to_owned(),
        image: Some(redirect.init_image.clone()),
        image_pull_policy: Some(redirect.init_image_pull_policy.clone()),
        command: Some(vec!["palisade-validate".to_owned()]),
        env: Some(vec![env(
            init_env::CAPTURE_PORT,
            engine.capture_port.to_string(),
        )]),
        resources: Some(short_lived_resources("32Mi")),
        security_context: Some(SecurityContext {
            // The engine's identity; unset on OpenShift, where the SCC assigns one.
            run_as_user: engine.uid,
            run_as_group: engine.uid,
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Default::default()
            }),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_owned(),
                localhost_profile: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
