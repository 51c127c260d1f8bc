//! Pod metadata from the Kubernetes API, for runtimes that do not pass annotations in
//! `runtimeConfig`. Fails closed: if the pod cannot be read, the pod is refused rather than
//! started possibly unprotected.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::conf::NetConf;
use crate::error::{CniError, code};
use crate::pod::PodInfo;

/// Attempts before the pod is refused; the runtime retries the whole ADD later.
pub const ATTEMPTS: u32 = 3;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF: Duration = Duration::from_millis(500);

const HINT: &str =
    "declare the `io.kubernetes.cri.pod-annotations` capability for palisade-cni in the conflist";

/// Annotations and container names of `namespace/name`.
pub fn pod_info(conf: &NetConf, namespace: &str, name: &str) -> Result<PodInfo, CniError> {
    let Some(path) = conf
        .kubernetes
        .as_ref()
        .and_then(|k| k.kubeconfig.as_deref())
    else {
        return Err(CniError::new(
            code::INVALID_CONFIG,
            format!(
                "pod {namespace}/{name}: the runtime passed no pod annotations and kubernetes.kubeconfig is not set; {HINT}"
            ),
        ));
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CniError::new(
                code::IO_FAILURE,
                format!("starting the API client runtime: {e}"),
            )
        })?;
    let pod = rt.block_on(get_pod(path, namespace, name))?;
    let spec = pod.spec.unwrap_or_default();
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .map(|c| c.name.clone())
        .collect();
    Ok(PodInfo {
        namespace: namespace.to_string(),
        name: name.to_string(),
        annotations: pod.metadata.annotations.unwrap_or_default(),
        containers,
    })
}

async fn client(path: &Path) -> Result<Client, String> {
    let kubeconfig = Kubeconfig::read_from(path)
        .map_err(|e| format!("reading kubernetes.kubeconfig {}: {e}", path.display()))?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("kubernetes.kubeconfig {}: {e}", path.display()))?;
    Client::try_from(config).map_err(|e| format!("API client: {e}"))
}

async fn get_pod(path: &Path, namespace: &str, name: &str) -> Result<Pod, CniError> {
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(BACKOFF * attempt).await;
        }
        // The installer may be rewriting the kubeconfig (token rotation): re-read it each time.
        let result: Result<(), String> = match client(path).await {
            Ok(client) => {
                let api: Api<Pod> = Api::namespaced(client, namespace);
                match tokio::time::timeout(ATTEMPT_TIMEOUT, api.get(name)).await {
                    Ok(Ok(pod)) => return Ok(pod),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {ATTEMPT_TIMEOUT:?}")),
                }
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(attempt, namespace, pod = name, error = %e, "reading the pod from the API failed");
            last = e;
        }
    }
    Err(CniError::new(
        code::TRY_AGAIN_LATER,
        format!("pod {namespace}/{name}: could not read it from the Kubernetes API after {ATTEMPTS} attempts: {last}"),
    )
    .with_details(HINT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_api_fails_closed_with_try_again_later() {
        let dir = tempfile::tempdir().unwrap();
        let kc = dir.path().join("kubeconfig");
        // Port 1 on loopback: nothing listens there, every attempt is refused at once.
        std::fs::write(
            &kc,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1\n\
             contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n",
        )
        .unwrap();
        let conf = NetConf::parse(
            format!(
                r#"{{"cniVersion":"1.0.0","kubernetes":{{"kubeconfig":"{}"}}}}"#,
                kc.display()
            )
            .as_bytes(),
        )
        .unwrap();
        let e = pod_info(&conf, "shop", "web").unwrap_err();
        assert_eq!(e.code, code::TRY_AGAIN_LATER, "{e}");
        assert!(
            e.msg.contains("shop/web") && e.msg.contains("3 attempts"),
            "{e}"
        );
    }

    #[test]
    fn missing_kubeconfig_is_invalid_config() {
        let conf = NetConf::parse(br#"{"cniVersion":"1.0.0"}"#).unwrap();
        let e = pod_info(&conf, "shop", "web").unwrap_err();
        assert_eq!(e.code, code::INVALID_CONFIG);
        assert!(e.msg.contains("io.kubernetes.cri.pod-annotations"), "{e}");
    }
}
