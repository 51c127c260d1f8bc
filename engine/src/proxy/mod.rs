//! The data plane: pingora's `ProxyHttp` phases with inspection, forwarding headers,
//! limits, metrics and the access log. [`front`] decides what a connection speaks.

pub mod body;
pub mod conns;
mod ctx;
pub mod front;
mod headers;
mod logging;
mod phases;
mod respond;
pub mod stream;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use pingora::http::ResponseHeader;
use pingora::prelude::HttpPeer;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{Error, ErrorSource, ErrorType, Result};

pub use ctx::{Ctx, Decision};
use phases::{BodyStart, classify_error, over_limit};

use crate::config::BodyLimitAction;
use crate::inspect::limits;
use crate::state::Shared;

/// The pingora proxy application.
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn inet(a: Option<&pingora::protocols::l4::socket::SocketAddr>) -> Option<SocketAddr> {
    a.and_then(|a| a.as_inet()).copied()
}

// === impl Engine ===

impl Engine {
    pub fn new(shared: Arc<Shared>) -> Self {
        Engine { shared }
    }
}

#[async_trait]
impl ProxyHttp for Engine {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx::new()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        let snap = self.shared.snapshot();
        ctx.snapshot = Some(snap.clone());
        self.shared.metrics.in_flight_requests.inc();
        ctx.counted = true;
        ctx.request_id = headers::request_id(session.req_header(), snap.config.trust_request_id);
        if self.shared.is_draining() {
            session.set_keepalive(None);
        } else if session.get_keepalive().is_some() {
            // Only where the client and pingora agreed on keep-alive (not HTTP/1.0 by default).
            session.set_keepalive(Some(snap.config.timeouts.idle_ms.div_ceil(1000)));
        }

        let limit_verdict = {
            let req = session.req_header();
            let uri = headers::raw_uri(req);
            snap.limits.check_head(&headers::head_view(req, &uri))
        };
        if let Some(v) = limit_verdict {
            return self.block(session, ctx, v).await;
        }

        ctx.body_start = Some(Instant::now());
        if !session.is_upgrade_req() {
            // pingora applies it to every body read (a tunnel after 101 keeps its own).
            session.set_read_timeout(Some(ms(snap.config.timeouts.request_body_read_ms)));
        }

        let Some(rules) = snap.rules.clone() else {
            return Ok(false);
        };
        let mode = snap.config.inspection.mode;
        let conn = self.conn_info(session, ctx);
        let mut insp = rules.begin(&conn);
        let mut verdict = {
            let req = session.req_header();
            let uri = headers::inspected_uri(session);
            insp.request_headers(&headers::head_view(req, &uri))
        };
        let wants_body = verdict.is_none() && insp.wants_request_body();
        ctx.inspection = Some(Mutex::new(insp));
        if verdict.is_none() {
            verdict = if wants_body {
                match self.begin_body(session, ctx, &snap).await? {
                    BodyStart::Held => None,
                    BodyStart::Empty => ctx.inspection().and_then(|i| i.request_body(&[])),
                    BodyStart::Reject(v) => return self.block(session, ctx, v).await,
                }
            } else {
                ctx.inspection().and_then(|i| i.request_body(&[]))
            };
        }
        match verdict {
            Some(v) if self.rule_verdict(ctx, v.clone(), mode) => self.block(session, ctx, v).await,
            _ => Ok(false),
        }
    }

    async fn request_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> Result<()> {
        if session.was_upgraded() {
            // Tunnelled bytes after a 101 are not a request body.
            return Ok(());
        }
        if let Some(b) = body {
            ctx.body_in += b.len() as u64;
        }
        let snap = self.snapshot(ctx);
        if ctx.body_in > snap.config.limits.max_body_bytes {
            return Err(self.enforce(ctx, limits::body_too_large()));
        }
        self.check_body_rate(ctx, &snap)?;
        self.hold_body(body, end_of_stream, ctx, &snap)
    }

    async fn upstream_peer(&self, session: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        let snap = self.snapshot(ctx);
        let addr = match snap.upstream {
            Some(a) => Some(a),
            None => session
                .digest()
                .and_then(|d| d.socket_digest.as_ref())
                .and_then(|s| inet(s.original_dst()))
                .and_then(|o| upstream::loopback_for(&o, &self.shared.own_ports)),
        };
        let Some(addr) = addr else {
            let mut e = Error::explain(
                ErrorType::ConnectNoRoute,
                "no original destination: the connection was not redirected to the engine",
            );
            e.esource = ErrorSource::Upstream;
            return Err(e);
        };
        ctx.upstream = Some(addr);
        let mut peer = HttpPeer::new(addr, false, String::new());
        let t = &snap.config.timeouts;
        peer.options.connection_timeout = Some(ms(t.upstream_connect_ms));
        peer.options.read_timeout = Some(ms(t.upstream_response_ms));
        peer.options.idle_timeout = Some(ms(t.idle_ms));
        Ok(Box::new(peer))
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        _ctx: &mut Ctx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        // The app is on loopback: a refused connect will not succeed on an instant retry.
        e.set_retry(false);
        e
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        up: &mut pingora::http::RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let client = inet(session.client_addr()).map(|a| a.ip().to_string());
        let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
        headers::forwarded(up, client, tls, &ctx.request_id)?;
        ctx.upstream_sent = Some(Instant::now());
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        _resp: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        if ctx.upstream_head.is_none() {
            let now = Instant::now();
            ctx.upstream_head = Some(now);
            if let Some(sent) = ctx.upstream_sent {
                self.shared
                    .metrics
                    .upstream_duration
                    .observe((now - sent).as_secs_f64());
            }
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        ctx.response_head = Some(Instant::now());
        resp.insert_header("x-request-id", ctx.request_id.as_str())?;
        let snap = self.snapshot(ctx);
        let mode = snap.config.inspection.mode;
        let Some(insp) = ctx.inspection() else {
            return Ok(());
        };
        let status = resp.status.as_u16();
        let protocol = headers::protocol(resp.version);
        let hdrs: Vec<(&str, &[u8])> = resp
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let verdict = insp.response_headers(status, protocol, &hdrs);
        let wants_body = insp.wants_response_body();
        if let Some(v) = verdict
            && self.rule_verdict(ctx, v.clone(), mode)
        {
            return Err(self.enforce(ctx, v));
        }
        if ctx.hold.take().is_some() {
            // The app answered before the whole body arrived: it never saw the body, and
            // the rest is dropped rather than forwarded uninspected.
            ctx.discard_body = true;
            self.uninspected(ctx, "request_body");
        }
        if wants_body && status != 101 {
            let i = &snap.config.inspection;
            let declared = phases::declared_length(&resp.headers);
            if declared.is_some_and(|l| l > i.response_body_limit as u64)
                && i.response_body_limit_action == BodyLimitAction::Reject
            {
                let v = over_limit(500, "response_body_limit");
                if self.rule_verdict(ctx, v.clone(), mode) {
                    return Err(self.enforce(ctx, v));
                }
            }
            ctx.resp_buf = Some(BytesMut::new());
        }
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> Result<Option<Duration>> {
        let Some(buf) = ctx.resp_buf.as_mut() else {
            return Ok(None);
        };
        if let Some(b) = body.take() {
            buf.extend_from_slice(&b);
        }
        let snap = self.snapshot(ctx);
        let i = &snap.config.inspection;
        let over = ctx
            .resp_buf
            .as_ref()
            .is_some_and(|b| b.len() > i.response_body_limit);
        if !(end_of_stream || over) {
            return Ok(None);
        }
        let data = ctx.resp_buf.take().unwrap_or_default().freeze();
        let mut inspected = &data[..];
        if over {
            if i.response_body_limit_action == BodyLimitAction::Reject {
                let v = over_limit(500, "response_body_limit");
                if self.rule_verdict(ctx, v.clone(), i.mode) {
                    // The head is already out: all that is left is to cut the connection.
                    self.enforce(ctx, v);
                    ctx.drop_connection = true;
                    return Err(Error::explain(
                        ErrorType::ConnectionClosed,
                        "response body larger than inspection.response_body_limit",
                    ));
                }
            }
            self.uninspected(ctx, "response_body");
            inspected = &data[..i.response_body_limit];
        }
        let verdict = ctx
            .inspection()
            .and_then(|insp| insp.response_body(inspected));
        if let Some(v) = verdict
            && self.rule_verdict(ctx, v.clone(), i.mode)
        {
            // The head is already out: all that is left is to cut the connection.
            self.enforce(ctx, v);
            ctx.drop_connection = true;
            return Err(Error::explain(
                ErrorType::ConnectionClosed,
                "response body blocked by inspection",
            ));
        }
        *body = Some(data);
        Ok(None)
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
        let no_reuse = |code| FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        };
        if ctx.drop_connection {
            return no_reuse(0);
        }
        if ctx.decision == Decision::Block && ctx.verdict.is_some() {
            let written = phases::answer_verdict(session, ctx).await;
            return no_reuse(written.unwrap_or(0));
        }
        let (code, kind) = classify_error(e);
        if let Some(kind) = kind {
            self.shared
                .metrics
                .upstream_errors
                .with_label_values(&[kind])
                .inc();
            ctx.error_kind = Some(kind);
        }
        if code >= 500 || kind.is_some() {
            ctx.decision = Decision::Error;
        }
        if code == 0 {
            return no_reuse(0);
        }
        let error = match code {
            502 => "upstream unavailable",
            504 => "upstream timeout",
            500 => "internal error",
            _ => "bad request",
        };
        // The client learns the status and the request id; the upstream address and the
        // error chain are internals and go to the log only.
        if code >= 500 {
            tracing::warn!(request_id = %ctx.request_id, status = code, upstream = ?ctx.upstream, error = %e, "request failed");
        } else {
            tracing::debug!(request_id = %ctx.request_id, status = code, error = %e, "request refused");
        }
        let written = respond::json(session, code, error, &ctx.request_id, None, None, None).await;
        no_reuse(written.unwrap_or(0))
    }

    fn suppress_error_log(&self, _session: &Session, _ctx: &Ctx, e: &Error) -> bool {
        // A client that goes away mid-request is routine (and in the access log).
        e.esource() == &ErrorSource::Downstream
            && matches!(
                e.etype(),
                ErrorType::ConnectionClosed | ErrorType::ReadError | ErrorType::WriteError
            )
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut Ctx) {
        if !session.as_downstream().is_http2()
            && let Some(s) = session.stream()
        {
            self.shared.conns.request_done(s.id());
        }
        logging::finish(self, session, e, ctx);
    }
}
