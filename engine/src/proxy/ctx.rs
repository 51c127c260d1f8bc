//! Per-request state carried through the pingora phases.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::BytesMut;

use super::body::Spool;

use crate::inspect::{Inspection, Verdict};
use crate::state::Snapshot;

/// What happened to the request, for logs and `palisade_requests_total{decision}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Forwarded with no verdict.
    Allow,
    /// A verdict was enforced.
    Block,
    /// A verdict was raised in monitor mode and only logged.
    Monitor,
    /// The engine or the app failed.
    Error,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Block => "block",
            Decision::Monitor => "monitor",
            Decision::Error => "error",
        }
    }
}

/// One request's context.
pub struct Ctx {
    pub start: Instant,
    pub snapshot: Option<Arc<Snapshot>>,
    pub request_id: String,
    /// `Mutex` only to make the context `Sync` for pingora; accessed through
    /// `get_mut`, never locked.
    pub inspection: Option<Mutex<Box<dyn Inspection>>>,
    pub decision: Decision,
    /// The enforced verdict (also set for monitor-mode verdicts, for the log).
    pub verdict: Option<Verdict>,
    /// Close without answering (a `Drop` verdict).
    pub drop_connection: bool,
    pub upstream: Option<SocketAddr>,
    pub upstream_sent: Option<Instant>,
    pub upstream_head: Option<Instant>,
    pub response_head: Option<Instant>,
    pub body_in: u64,
    /// When the request head was complete (the body's clock for the minimum rate).
    pub body_start: Option<Instant>,
    /// Request body held back for phase 2; `None` once released (or never held).
    pub hold: Option<Hold>,
    /// The app answered while the body was held: the rest is not forwarded.
    pub discard_body: bool,
    /// Response body held back for phase 4.
    pub resp_buf: Option<BytesMut>,
    /// Parts of the exchange that were not (fully) inspected, for the access log.
    pub uninspected: Vec<&'static str>,
    pub counted: bool,
    pub error_kind: Option<&'static str>,
}

/// A request body being collected for phase 2.
#[derive(Debug)]
pub struct Hold {
    pub spool: Spool,
    /// Most bytes inspected for this request (the no-files limit unless multipart).
    pub limit: usize,
    /// The config key of `limit`, for verdicts and logs.
    pub limit_name: &'static str,
}

impl Ctx {
    pub fn new() -> Self {
        Ctx {
            start: Instant::now(),
            snapshot: None,
            request_id: String::new(),
            inspection: None,
            decision: Decision::Allow,
            verdict: None,
            drop_connection: false,
            upstream: None,
            upstream_sent: None,
            upstream_head: None,
            response_head: None,
            body_in: 0,
            body_start: None,
            hold: None,
            discard_body: false,
            resp_buf: None,
            uninspected: Vec::new(),
            counted: false,
            error_kind: None,
        }
    }

    /// The inspection, if a rule inspector runs for this request.
    pub fn inspection(&mut self) -> Option<&mut Box<dyn Inspection>> {
        self.inspection
            .as_mut()
            .map(|m| m.get_mut().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Default for Ctx {
    fn default() -> Self {
        Self::new()
    }
}
