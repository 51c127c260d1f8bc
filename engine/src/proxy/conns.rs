//! Client connections: how many are open (for `limits.max_connections`, the gauge and
//! the drain), and a per-connection signal that a request ended, so the next request
//! head on a keep-alive connection gets its own `timeouts.request_header_ms` deadline.
//!
//! pingora's HTTP/1 server only applies the keep-alive timeout to each read of a later
//! head, so a client sending one byte just under that timeout would hold the
//! connection forever. The deadline itself lives in [`super::stream::FrontStream`],
//! which sees the bytes; the proxy tells it where a request ends through [`Conns`],
//! keyed by the connection's id (its file descriptor) since pingora gives the phases no
//! way back to the stream object.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pingora::protocols::{Stream, UniqueIDType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The open client connections.
#[derive(Default)]
pub struct Conns {
    open: AtomicUsize,
    clocks: parking_lot::Mutex<HashMap<UniqueIDType, Arc<HeadClock>>>,
}

/// One open connection; dropping it closes the slot.
pub struct ConnPermit {
    conns: Arc<Conns>,
    gauge: prometheus::IntGauge,
}

/// "A request ended: the next byte read starts a new head."
#[derive(Debug, Default)]
pub struct HeadClock {
    rearm: AtomicBool,
}

impl HeadClock {
    /// Whether a request ended since the last call.
    pub fn take_rearm(&self) -> bool {
        self.rearm.swap(false, Ordering::AcqRel)
    }
}

// === impl Conns ===

impl Conns {
    /// Take a slot unless `max` connections are open.
    pub fn admit(self: &Arc<Self>, max: usize, gauge: &prometheus::IntGauge) -> Option<ConnPermit> {
        let admitted = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            return None;
        }
        gauge.inc();
        Some(ConnPermit {
            conns: self.clone(),
            gauge: gauge.clone(),
        })
    }

    /// Connections open now (what the drain waits for).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    pub(crate) fn register(&self, id: UniqueIDType) -> Arc<HeadClock> {
        let clock = Arc::new(HeadClock::default());
        self.clocks.lock().insert(id, clock.clone());
        clock
    }

    pub(crate) fn unregister(&self, id: UniqueIDType) {
        self.clocks.lock().remove(&id);
    }

    /// A request on connection `id` ended (HTTP/1 only: HTTP/2 heads are frames).
    pub fn request_done(&self, id: UniqueIDType) {
        if let Some(c) = self.clocks.lock().get(&id) {
            c.rearm.store(true, Ordering::Release);
        }
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        self.conns.open.fetch_sub(1, Ordering::AcqRel);
        self.gauge.dec();
    }
}

/// Answer a connection over the cap with 503 and close it. The request is not read
/// (beyond a short drain so the close does not reset the answer away).
pub async fn refuse(mut stream: Stream) {
    const BODY: &str = "{\"status\":503,\"error\":\"too many connections\",\"message\":\"limits.max_connections reached\"}";
    let resp = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let write = async {
        stream.write_all(resp.as_bytes()).await?;
        stream.flush().await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), write).await;
}
