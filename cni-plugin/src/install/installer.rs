//! The installer's file work on the node's CNI directories: synchronous and idempotent, so the
//! watch loop can call it on every change and only writes when something differs.

use std::path::PathBuf;

use serde_json::Value;

use super::config::{InstallConfig, InstallMode, PLUGIN_NAME};
use super::conflist::{self, ConflistError};
use super::files::{self, FileError};
use super::kubeconfig::{self, KubeconfigError};

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Conflist(#[from] ConflistError),
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    #[error("cannot list CNI conf dir {path}: {source}")]
    ListDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot find the running executable to copy: {0}")]
    CurrentExe(std::io::Error),
}

/// What [`Installer::ensure_config`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensure {
    /// The file was (re)written.
    Wrote(String),
    /// Already as wanted.
    Current(String),
    /// Chained mode and the primary CNI has not written its config yet.
    NoPrimary,
}

pub struct Installer {
    pub cfg: InstallConfig,
    server: String,
}

fn pretty(v: &Value) -> Vec<u8> {
    // Serialising a Value cannot fail.
    let mut out = serde_json::to_vec_pretty(v).unwrap_or_default();
    out.push(b'\n');
    out
}

// === impl Installer ===

impl Installer {
    /// `server` is the API server URL written into the plugin's kubeconfig.
    pub fn new(cfg: InstallConfig, server: String) -> Self {
        Self { cfg, server }
    }

    fn conf_names(&self) -> Result<Vec<String>, InstallError> {
        let dir = &self.cfg.host_conf_dir;
        let rd = std::fs::read_dir(dir).map_err(|source| InstallError::ListDir {
            path: dir.clone(),
            source,
        })?;
        Ok(rd
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    }

    fn entry(&self) -> Value {
        let (_, on_node) = self.cfg.kubeconfig_paths();
        conflist::plugin_entry(&self.cfg, &on_node.display().to_string())
    }

    pub fn install_binary(&self) -> Result<bool, InstallError> {
        let src = match &self.cfg.plugin_binary {
            Some(p) => p.clone(),
            None => std::env::current_exe().map_err(InstallError::CurrentExe)?,
        };
        Ok(files::install_binary(
            &src,
            &self.cfg.host_bin_dir.join(PLUGIN_NAME),
        )?)
    }

    /// Writes the kubeconfig when the token or CA changed; true when it wrote.
    pub fn refresh_kubeconfig(&self) -> Result<bool, InstallError> {
        let text = kubeconfig::from_service_account(&self.cfg.service_account_dir, &self.server)?;
        let (path, _) = self.cfg.kubeconfig_paths();
        if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
            return Ok(false);
        }
        files::atomic_write(&path, text.as_bytes(), 0o600)?;
        Ok(true)
    }

    /// Puts palisade's entry in place (chained) or writes the standalone conf.
    pub fn ensure_config(&self) -> Result<Ensure, InstallError> {
        let dir = &self.cfg.host_conf_dir;
        if self.cfg.mode == InstallMode::Standalone {
            let name = self.cfg.standalone_file();
            let (_, on_node) = self.cfg.kubeconfig_paths();
            let want = pretty(&conflist::standalone(
                &self.cfg,
                &on_node.display().to_string(),
            ));
            if std::fs::read(dir.join(&name)).is_ok_and(|old| old == want) {
                return Ok(Ensure::Current(name));
            }
            files::atomic_write(&dir.join(&name), &want, 0o644)?;
            return Ok(Ensure::Wrote(name));
        }
        let names = self.conf_names()?;
        let Some(primary) =
            conflist::pick_primary(&names, &self.cfg.conf_file, &self.cfg.standalone_file())
        else {
            return Ok(Ensure::NoPrimary);
        };
        let path = dir.join(&primary);
        let text = std::fs::read_to_string(&path).map_err(|source| FileError {
            action: "read",
            path: path.clone(),
            source,
        })?;
        let current = conflist::parse(&primary, &text)?;
        let entry = self.entry();
        if conflist::is_current(&current, &entry) {
            return Ok(Ensure::Current(primary));
        }
        let updated = conflist::insert(&primary, &current, &entry)?;
        let out = conflist::output_name(&primary);
        files::atomic_write(&dir.join(&out), &pretty(&updated), 0o644)?;
        if out != primary {
            // The runtime would otherwise see the network twice (.conf sorts before .conflist).
            files::remove_if_exists(&path)?;
        }
        Ok(Ensure::Wrote(out))
    }

    /// Removes palisade's entry or standalone conf, the kubeconfig and the binary.
    pub fn uninstall(&self) -> Result<(), InstallError> {
        let dir = &self.cfg.host_conf_dir;
        match self.cfg.mode {
            InstallMode::Standalone => {
                files::remove_if_exists(&dir.join(self.cfg.standalone_file()))?
            }
            InstallMode::Chained => {
                for name in self.conf_names()? {
                    if name.starts_with('.')
                        || !(name.ends_with(".conflist") || name.ends_with(".json"))
                    {
                        continue;
                    }
                    let path = dir.join(&name);
                    let Ok(text) = std::fs::read_to_string(&path) else {
                        continue;
                    };
                    let Ok(value) = conflist::parse(&name, &text) else {
                        continue;
                    };
                    if let Some(without) = conflist::remove(&value) {
                        files::atomic_write(&path, &pretty(&without), 0o644)?;
                    }
                }
            }
        }
        files::remove_if_exists(&self.cfg.kubeconfig_paths().0)?;
        files::remove_if_exists(&self.cfg.host_bin_dir.join(PLUGIN_NAME))?;
        Ok(())
    }
}
