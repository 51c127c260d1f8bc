//! The kubeconfig the plugin uses to read pods, built from the installer's own service-account
//! token and CA (the kubelet runs the plugin on the host, outside any pod).

use std::path::Path;

use base64::Engine as _;

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("KUBERNETES_SERVICE_HOST is not set: the installer must run in a pod")]
    NoApiServer,
}

/// `https://host:port`, with brackets for an IPv6 host.
pub fn server_url(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("https://[{host}]:{port}")
    } else {
        format!("https://{host}:{port}")
    }
}

/// Kubeconfig text; the token and CA are inline so the file alone is enough.
pub fn render(server: &str, ca_pem: &[u8], token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let token = token.trim();
    format!(
        "# Written by palisade-cni install; rewritten when the token rotates.\n\
         apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: local\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\n\
         users:\n\
         - name: palisade-cni\n  user:\n    token: \"{token}\"\n\
         contexts:\n\
         - name: palisade-cni\n  context:\n    cluster: local\n    user: palisade-cni\n\
         current-context: palisade-cni\n"
    )
}

/// Reads the token and CA from a service-account directory and renders the kubeconfig.
pub fn from_service_account(dir: &Path, server: &str) -> Result<String, KubeconfigError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| KubeconfigError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let token = read("token")?;
    let ca = read("ca.crt")?;
    Ok(render(server, &ca, &String::from_utf8_lossy(&token)))
}

/// The API server address from the environment every pod gets.
pub fn server_from_env() -> Result<String, KubeconfigError> {
    let host =
        std::env::var("KUBERNETES_SERVICE_HOST").map_err(|_| KubeconfigError::NoApiServer)?;
    let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".to_owned());
    Ok(server_url(&host, &port))
}
