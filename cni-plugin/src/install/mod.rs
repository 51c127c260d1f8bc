//! `palisade-cni install`: the node side of the CNI plugin, run by the palisade-cni DaemonSet.
//!
//! It copies the plugin binary onto the node, writes the kubeconfig the plugin uses to read
//! pods (and rewrites it when the service-account token rotates), adds the plugin as the last
//! entry of the primary CNI conflist (or writes a standalone conf for Multus), puts it back
//! whenever the primary CNI rewrites its file, serves `/readyz`, optionally deletes pods that
//! started without redirection (`repairMode: deletePods`) and removes everything on SIGTERM.
//! The decisions (conflist editing, kubeconfig text, repair) are pure functions.

pub mod cli;
pub mod config;
pub mod conflist;
pub mod files;
pub mod installer;
pub mod kubeconfig;
pub mod pluginlog;
pub mod repair;
pub mod run;

#[cfg(test)]
mod tests;

pub use config::{InstallConfig, InstallMode, RepairMode};
pub use installer::Installer;
pub use run::run;
