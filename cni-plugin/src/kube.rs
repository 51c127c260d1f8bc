//! Pod annotations when the runtime does not pass them in `runtimeConfig`.

use std::collections::BTreeMap;

use crate::conf::NetConf;
use crate::error::{CniError, code};

/// Fails closed: without annotations from the runtime the plugin cannot tell whether the pod
/// is protected, so it refuses the pod rather than start it unprotected.
pub fn pod_annotations(
    conf: &NetConf,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, String>, CniError> {
    let hint = "declare the `io.kubernetes.cri.pod-annotations` capability for palisade-cni in the conflist";
    match conf.kubernetes.as_ref().and_then(|k| k.kubeconfig.as_ref()) {
        Some(path) => Err(CniError::new(
            code::TRY_AGAIN_LATER,
            format!(
                "pod {namespace}/{name}: reading annotations from the Kubernetes API ({}) is not supported by this build; {hint}",
                path.display()
            ),
        )),
        None => Err(CniError::new(
            code::INVALID_CONFIG,
            format!(
                "pod {namespace}/{name}: the runtime passed no pod annotations and kubernetes.kubeconfig is not set; {hint}"
            ),
        )),
    }
}
