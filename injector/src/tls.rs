//! Serving certificate from PEM files, reloaded when they change (cert-manager renewals or a
//! re-generated chart Secret) without restarting the webhook.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCert { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("unusable private key in {path}: {source}")]
    Key {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parses a certificate chain and key into what rustls serves.
pub fn load(cert_path: &Path, key_path: &Path) -> Result<(CertifiedKey, Vec<u8>), TlsError> {
    let cert_pem = read(cert_path)?;
    let key_pem = read(key_path)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Read {
            path: cert_path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert {
            path: cert_path.to_owned(),
        });
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|source| TlsError::Read {
            path: key_path.to_owned(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey {
            path: key_path.to_owned(),
        })?;
    let signing =
        rustls::crypto::ring::sign::any_supported_type(&key).map_err(|source| TlsError::Key {
            path: key_path.to_owned(),
            source,
        })?;
    let mut fingerprint = cert_pem;
    fingerprint.extend_from_slice(&key_pem);
    Ok((CertifiedKey::new(certs, signing), fingerprint))
}

/// Hands out the current certificate; [`ReloadingCert::watch`] swaps it when the files change.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, Vec<u8>)>,
}

// === impl ReloadingCert ===

impl ReloadingCert {
    pub fn new(cert_path: PathBuf, key_path: PathBuf) -> Result<Arc<Self>, TlsError> {
        let (key, fingerprint) = load(&cert_path, &key_path)?;
        Ok(Arc::new(Self {
            cert_path,
            key_path,
            current: RwLock::new((Arc::new(key), fingerprint)),
        }))
    }

    /// Re-reads the files; returns true when a new certificate was installed.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let (key, fingerprint) = load(&self.cert_path, &self.key_path)?;
        let mut cur = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cur.1 == fingerprint {
            return Ok(false);
        }
        *cur = (Arc::new(key), fingerprint);
        Ok(true)
    }

    /// Polls the files: Secret volumes change by an atomic symlink swap, which polling sees
    /// reliably where inotify on the file itself does not.
    pub fn watch(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match self.reload() {
                    Ok(true) => {
                        tracing::info!(cert = %self.cert_path.display(), "serving certificate reloaded")
                    }
                    Ok(false) => {}
                    // A half-written pair is normal during a rotation: keep serving the old one.
                    Err(error) => {
                        tracing::warn!(%error, "certificate reload failed; keeping the current one")
                    }
                }
            }
        })
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let cur = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(cur.0.clone())
    }
}

/// A rustls server config (ring provider, h1) that serves whatever `cert` currently holds.
pub fn server_config(cert: Arc<ReloadingCert>) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}
