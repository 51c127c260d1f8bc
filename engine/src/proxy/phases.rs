//! Helpers for the proxy phases: enforcing verdicts, buffering the request body for
//! inspection, and mapping failures to answers.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use pingora::{Error, ErrorSource, ErrorType, Result};

use super::{Ctx, Decision, Engine, headers, inet, respond};
use crate::config::{MAX_INSPECT_REQUEST_BODY, Mode};
use crate::inspect::{Action, ConnInfo, Verdict};
use crate::state::Snapshot;

/// What to answer for a failure, and the `palisade_upstream_errors_total` kind.
pub(super) fn classify_error(e: &Error) -> (u16, Option<&'static str>) {
    use ErrorType::*;
    match e.etype() {
        HTTPStatus(code) => (*code, None),
        // A malformed chunk or head from the client, raised before pingora marks the side.
        Custom("InvalidChunk") | InvalidHTTPHeader if e.esource() != &ErrorSource::Upstream => {
            (400, None)
        }
        etype => match e.esource() {
            ErrorSource::Upstream => match etype {
                ConnectTimedout | ReadTimedout | WriteTimedout => (504, Some("timeout")),
                ConnectRefused | ConnectNoRoute | ConnectError | ConnectProxyFailure
                | BindError | SocketError => (502, Some("connect")),
                ConnectionClosed | ReadError | WriteError => (502, Some("closed")),
                _ => (502, Some("other")),
            },
            ErrorSource::Downstream => match etype {
                ReadError | WriteError | ConnectionClosed | ReadTimedout | WriteTimedout => {
                    (0, None)
                }
                _ => (400, None),
            },
            ErrorSource::Internal | ErrorSource::Unset => (500, None),
        },
    }
}

pub(super) fn status_error(status: u16, why: &'static str) -> Box<Error> {
    Error::explain(ErrorType::HTTPStatus(status), why)
}

pub(super) fn over_inspect_limit() -> Verdict {
    Verdict {
        status: 413,
        action: Action::Deny,
        rule_id: 0,
        message: "request body larger than the inspection buffer (inspection.request_body_limit)"
            .into(),
        limit: Some("request_body_limit"),
    }
}

impl Engine {
    pub(super) fn snapshot(&self, ctx: &Ctx) -> Arc<Snapshot> {
        ctx.snapshot
            .clone()
            .unwrap_or_else(|| self.shared.snapshot())
    }

    /// Record a rule verdict; true when it must be enforced.
    pub(super) fn rule_verdict(&self, ctx: &mut Ctx, v: Verdict, mode: Mode) -> bool {
        let enforce = mode == Mode::Block;
        if !enforce {
            tracing::info!(request_id = %ctx.request_id, rule_id = v.rule_id, message = %v.message, "verdict in monitor mode");
            ctx.decision = Decision::Monitor;
            ctx.verdict = Some(v);
        }
        enforce
    }

    /// Enforce `v` before anything was sent upstream.
    pub(super) async fn block(
        &self,
        session: &mut Session,
        ctx: &mut Ctx,
        v: Verdict,
    ) -> Result<bool> {
        ctx.decision = Decision::Block;
        self.shared
            .metrics
            .blocked
            .with_label_values(&[&v.label()])
            .inc();
        // The request body may be unread: do not reuse the connection.
        session.set_keepalive(None);
        let rule = (v.rule_id != 0).then_some(v.rule_id);
        let res = match &v.action {
            Action::Drop => {
                ctx.drop_connection = true;
                ctx.verdict = Some(v);
                return Err(Error::explain(
                    ErrorType::ConnectionClosed,
                    "connection dropped by inspection",
                ));
            }
            Action::Redirect(url) => {
                let status = if (300..400).contains(&v.status) {
                    v.status
                } else {
                    302
                };
                respond::json(
                    session,
                    status,
                    "redirected",
                    &ctx.request_id,
                    rule,
                    Some(&v.message),
                    Some(url),
                )
                .await
            }
            Action::Deny => {
                respond::json(
                    session,
                    v.status,
                    "blocked",
                    &ctx.request_id,
                    rule,
                    Some(&v.message),
                    None,
                )
                .await
            }
        };
        ctx.verdict = Some(v);
        res.map(|_| true)
    }

    /// Read the whole request body (bounded) so phase 2 sees it before the app does;
    /// pingora replays it upstream from its retry buffer.
    pub(super) async fn buffer_body(
        &self,
        session: &mut Session,
        snap: &Snapshot,
    ) -> Result<std::result::Result<Bytes, Verdict>> {
        let limit = snap
            .config
            .inspection
            .request_body_limit
            .min(MAX_INSPECT_REQUEST_BODY);
        let declared = headers::content_length(session.req_header());
        if declared == Some(0) || session.as_downstream_mut().is_body_done() {
            return Ok(Ok(Bytes::new()));
        }
        if declared.is_some_and(|l| l > limit as u64) {
            return Ok(if snap.config.inspection.mode == Mode::Block {
                Err(over_inspect_limit())
            } else {
                // Monitor mode: forward unbuffered; phase 2 sees no body.
                Ok(Bytes::new())
            });
        }
        let expects_continue = session
            .req_header()
            .headers
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if expects_continue {
            session
                .as_downstream_mut()
                .write_continue_response()
                .await?;
            session
                .req_header_mut()
                .remove_header(&http::header::EXPECT);
        }
        session.as_downstream_mut().enable_retry_buffering();
        let mut buf = BytesMut::new();
        while let Some(chunk) = session.as_downstream_mut().read_request_body().await? {
            buf.extend_from_slice(&chunk);
            if buf.len() > limit {
                return Ok(Err(over_inspect_limit()));
            }
        }
        Ok(Ok(buf.freeze()))
    }

    pub(super) fn conn_info(&self, session: &Session, ctx: &Ctx) -> ConnInfo {
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        let client = inet(session.client_addr()).unwrap_or(unspecified);
        let orig = session
            .digest()
            .and_then(|d| d.socket_digest.as_ref())
            .and_then(|s| inet(s.original_dst()))
            .filter(|o| !self.shared.own_ports.contains(&o.port()));
        let server = orig
            .or_else(|| inet(session.server_addr()))
            .unwrap_or(unspecified);
        ConnInfo {
            client_ip: client.ip(),
            client_port: client.port(),
            server_ip: server.ip(),
            server_port: server.port(),
            unique_id: ctx.request_id.clone(),
        }
    }
}
