//! Entering a network namespace and reading its addresses.
//!
//! `setns(CLONE_NEWNET)` changes only the calling thread, so the work runs on a dedicated OS
//! thread that is thrown away afterwards: never on an async runtime worker, where the
//! namespace would leak into unrelated tasks. Processes spawned from that thread (the
//! `iptables-restore`/`nft` children) inherit its namespace.

use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use netlink_packet_route::address::AddressAttribute;
use nix::sched::{CloneFlags, setns};

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("network namespace {path} cannot be opened: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("entering network namespace {path} failed: {errno}; this needs CAP_SYS_ADMIN")]
    Enter {
        path: PathBuf,
        errno: nix::errno::Errno,
    },
    #[error("the namespace thread could not start or panicked: {0}")]
    Thread(String),
    #[error("reading addresses over netlink failed: {0}")]
    Netlink(String),
}

impl NetnsError {
    /// True when the namespace itself is gone (e.g. the pod sandbox was already deleted).
    /// A path left behind after its namespace was unmounted is a plain file: setns says EINVAL.
    pub fn is_gone(&self) -> bool {
        match self {
            NetnsError::Open { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            NetnsError::Enter { errno, .. } => *errno == nix::errno::Errno::EINVAL,
            _ => false,
        }
    }
}

/// Runs `f` inside the network namespace at `path` (`/var/run/netns/NAME`,
/// `/proc/PID/ns/net`) on a fresh OS thread and returns its result.
pub fn run_in<T, F>(path: &Path, f: F) -> Result<T, NetnsError>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    let file = File::open(path).map_err(|source| NetnsError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("palisade-netns".into())
            .spawn_scoped(scope, move || {
                setns(&file, CloneFlags::CLONE_NEWNET).map_err(|errno| NetnsError::Enter {
                    path: path.to_path_buf(),
                    errno,
                })?;
                Ok(f())
            })
            .map_err(|e| NetnsError::Thread(e.to_string()))?;
        handle
            .join()
            .map_err(|_| NetnsError::Thread("panicked".into()))?
    })
}

/// Addresses of every interface in the calling thread's namespace, read over rtnetlink.
/// Call it inside [`run_in`].
pub fn addresses() -> Result<Vec<IpAddr>, NetnsError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| NetnsError::Netlink(e.to_string()))?;
    rt.block_on(async {
        // The socket is opened here, on the calling thread, so it belongs to its namespace.
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetnsError::Netlink(e.to_string()))?;
        tokio::spawn(conn);
        let mut stream = handle.address().get().execute();
        let mut out = Vec::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| NetnsError::Netlink(e.to_string()))?
        {
            for attr in msg.attributes {
                if let AddressAttribute::Address(addr) = attr {
                    out.push(addr);
                }
            }
        }
        Ok(out)
    })
}
