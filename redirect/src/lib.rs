//! Palisade's traffic redirection: plan the nat rules that send a pod's inbound TCP to the
//! engine, render them for `iptables-restore` and `nft -f`, and apply, check or remove them
//! inside a pod's network namespace.
//!
//! ```
//! use palisade_redirect::{RedirectConfig, plan, render};
//! let plan = plan(&RedirectConfig::default());
//! assert!(render::nft::render(&plan).contains("redirect to :15300"));
//! ```
//!
//! The planner and renderers are pure and build on any OS. [`exec`] runs the packet-filter
//! tools in the calling thread's namespace; [`netns::run_in`] moves work into a pod's
//! namespace on its own thread; both, and everything that uses them, are Linux only.
#![forbid(unsafe_code)]

pub mod backend;
pub mod config;
#[cfg(target_os = "linux")]
pub mod exec;
#[cfg(target_os = "linux")]
pub mod netns;
pub mod plan;
pub mod render;

pub use backend::{Backend, BackendChoice};
pub use config::{
    ConfigError, EnginePorts, IpFamilies, PortRange, PortSelection, RedirectConfig,
    RedirectSettings, ServiceMesh,
};
#[cfg(target_os = "linux")]
pub use exec::{Drift, ExecError};
#[cfg(target_os = "linux")]
pub use netns::NetnsError;
pub use plan::{Plan, VALIDATION_ADDR, VALIDATION_PORT, plan};

#[cfg(target_os = "linux")]
pub use linux::*;

/// Applying, checking and removing in a namespace: Linux only.
#[cfg(target_os = "linux")]
mod linux {
    use std::path::Path;

    use crate::{
        Backend, BackendChoice, Drift, ExecError, IpFamilies, NetnsError, Plan, RedirectConfig,
        exec, netns, plan,
    };

    /// Any failure of [`apply_in`], [`check_in`] or [`remove_in`].
    #[derive(Debug, thiserror::Error)]
    pub enum RedirectError {
        #[error(transparent)]
        Netns(#[from] NetnsError),
        #[error(transparent)]
        Exec(#[from] ExecError),
    }

    /// In the calling thread's namespace: sets the IP families from its addresses, plans,
    /// resolves the backend and applies. Returns the backend used and the plan applied.
    pub fn apply_here(
        config: &RedirectConfig,
        choice: BackendChoice,
    ) -> Result<(Backend, Plan), RedirectError> {
        let plan = plan_here(config)?;
        let backend = choice.resolve()?;
        exec::apply(backend, &plan)?;
        Ok((backend, plan))
    }

    /// The plan for `config` with the IP families of the calling thread's namespace.
    pub fn plan_here(config: &RedirectConfig) -> Result<Plan, RedirectError> {
        let mut config = config.clone();
        config.families = IpFamilies::from_addresses(&netns::addresses()?);
        Ok(plan(&config))
    }

    /// In the calling thread's namespace: compares the live rules with the plan for `config`.
    pub fn check_here(
        config: &RedirectConfig,
        choice: BackendChoice,
    ) -> Result<(Backend, Drift), RedirectError> {
        let plan = plan_here(config)?;
        let backend = choice.resolve()?;
        Ok((backend, exec::check(backend, &plan)?))
    }

    /// In the calling thread's namespace: removes Palisade's rules from the chosen backend, or
    /// from all of them for [`BackendChoice::Auto`].
    pub fn remove_here(choice: BackendChoice) -> Result<(), RedirectError> {
        match choice {
            BackendChoice::Auto => exec::remove_all()?,
            BackendChoice::Fixed(b) => exec::remove(b)?,
        }
        Ok(())
    }

    /// [`apply_here`] inside the namespace at `netns`, on a dedicated thread.
    pub fn apply_in(
        netns: &Path,
        config: &RedirectConfig,
        choice: BackendChoice,
    ) -> Result<(Backend, Plan), RedirectError> {
        netns::run_in(netns, || apply_here(config, choice))?
    }

    /// [`check_here`] inside the namespace at `netns`, on a dedicated thread.
    pub fn check_in(
        netns: &Path,
        config: &RedirectConfig,
        choice: BackendChoice,
    ) -> Result<(Backend, Drift), RedirectError> {
        netns::run_in(netns, || check_here(config, choice))?
    }

    /// [`remove_here`] inside the namespace at `netns`, on a dedicated thread.
    pub fn remove_in(netns: &Path, choice: BackendChoice) -> Result<(), RedirectError> {
        netns::run_in(netns, || remove_here(choice))?
    }
}
