//! `palisade-init --probe`: the unprivileged validator. It needs no capability and no root:
//! it listens on the engine's capture port (before the engine starts) and connects to
//! `127.0.0.2:VALIDATION_PORT`, where nothing listens. Only the redirect plan's nat OUTPUT
//! rule, applied in the same transaction as the inbound rules, turns that connection into one
//! to the capture port; a random token sent over it and read back on the accepted side proves
//! the connection is ours. Without the rules the connect is refused at once.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use palisade_redirect::{VALIDATION_ADDR, VALIDATION_PORT};

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The redirect is not in place: the pod must not start unprotected.
    #[error(
        "connecting to {VALIDATION_ADDR}:{VALIDATION_PORT} did not reach the capture port {capture_port}: {why}"
    )]
    NotRedirected { capture_port: u16, why: String },
    /// Something else holds the capture port (the engine already running, or another app):
    /// the probe cannot tell, so it fails rather than pass blindly.
    #[error("cannot listen on the capture port 0.0.0.0:{capture_port}: {source}")]
    Listen {
        capture_port: u16,
        source: std::io::Error,
    },
}

/// A token no other process can guess: the std hasher's per-process random keys, mixed with
/// the time.
fn token() -> [u8; 16] {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

/// Proves the redirect is in place within `timeout`.
pub fn probe(capture_port: u16, timeout: Duration) -> Result<(), ProbeError> {
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, capture_port)).map_err(|source| {
        ProbeError::Listen {
            capture_port,
            source,
        }
    })?;
    let not_redirected = |why: String| ProbeError::NotRedirected { capture_port, why };
    let target = SocketAddr::from((VALIDATION_ADDR, VALIDATION_PORT));
    let mut client = TcpStream::connect_timeout(&target, timeout)
        .map_err(|e| not_redirected(format!("connect: {e}")))?;
    let sent = token();
    client
        .write_all(&sent)
        .map_err(|e| not_redirected(format!("write: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| not_redirected(format!("listener: {e}")))?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((mut conn, peer)) => {
                conn.set_nonblocking(false)
                    .and_then(|()| conn.set_read_timeout(Some(timeout)))
                    .map_err(|e| not_redirected(format!("accepted socket: {e}")))?;
                let mut got = [0u8; 16];
                // Another connection to the capture port (a stray client) is not proof: keep
                // waiting for ours.
                if conn.read_exact(&mut got).is_ok() && got == sent {
                    tracing::info!(%peer, capture_port, "redirect verified");
                    return Ok(());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(not_redirected(format!("accept: {e}"))),
        }
        if Instant::now() >= deadline {
            return Err(not_redirected(format!(
                "the connection was accepted by something else; nothing arrived on the capture port within {timeout:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ() {
        assert_ne!(token(), token());
    }
}
