//! Binding the listening sockets ourselves (so `:0` works and the bound port can be
//! reported) and handing them to pingora through its inherited-fd table.

use std::net::SocketAddr;
use std::os::fd::IntoRawFd;

use pingora::server::Fds;
use socket2::{Domain, Protocol, Socket, Type};

/// Errors binding a listener.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    pub addr: String,
    pub source: std::io::Error,
}

/// Bind `addr` (IPv6 sockets are v6-only so `0.0.0.0` and `[::]` can share a port),
/// register it in `fds` under its bound address and return that address.
pub fn bind(addr: &str, fds: &mut Fds) -> Result<SocketAddr, BindError> {
    let err = |source| BindError {
        addr: addr.to_string(),
        source,
    };
    let sa: SocketAddr = addr
        .parse()
        .map_err(|_| err(std::io::ErrorKind::InvalidInput.into()))?;
    let sock =
        Socket::new(Domain::for_address(sa), Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    sock.set_reuse_address(true).map_err(err)?;
    if sa.is_ipv6() {
        sock.set_only_v6(true).map_err(err)?;
    }
    sock.set_nonblocking(true).map_err(err)?;
    sock.bind(&sa.into()).map_err(err)?;
    sock.listen(1024).map_err(err)?;
    let bound = sock
        .local_addr()
        .map_err(err)?
        .as_socket()
        .ok_or_else(|| err(std::io::ErrorKind::InvalidInput.into()))?;
    fds.add(bound.to_string(), sock.into_raw_fd());
    Ok(bound)
}
