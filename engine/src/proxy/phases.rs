//! Helpers for the proxy phases: enforcing verdicts, buffering the request body for
//! inspection, and mapping failures to answers.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use pingora::proxy::Session;
use pingora::{Error, ErrorSource, ErrorType, Result};

use super::body::{Spool, SpoolError};
use super::ctx::Hold;
use super::{Ctx, Decision, Engine, headers, inet, respond};
use crate::config::{BodyLimitAction, Mode};
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

/// The verdict for a body over an inspection limit (`limit` names the config key).
pub(super) fn over_limit(status: u16, limit: &'static str) -> Verdict {
    Verdict {
        status,
        action: Action::Deny,
        rule_id: 0,
        message: format!("body larger than inspection.{limit}"),
        limit: Some(limit),
    }
}

/// `Content-Length` of a response head, when present and valid.
pub(super) fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Answer the client for the verdict enforced in `ctx` (a `Deny` JSON body or a
/// redirect); returns the status sent (0 for none).
pub(super) async fn answer_verdict(session: &mut Session, ctx: &Ctx) -> Result<u16> {
    let Some(v) = ctx.verdict.as_ref() else {
        return Ok(0);
    };
    let rule = (v.rule_id != 0).then_some(v.rule_id);
    match &v.action {
        Action::Drop => Ok(0),
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
    }
}

/// What phase 2 gets after the request head.
pub(super) enum BodyStart {
    /// No body: phase 2 runs now with an empty one.
    Empty,
    /// The body is being collected in `ctx.hold`; phase 2 runs when it is complete.
    Held,
    /// Refuse the request before anything reaches the app.
    Reject(Verdict),
}

fn is_multipart(session: &Session) -> bool {
    session
        .req_header()
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .get(..19)
                .is_some_and(|p| p.eq_ignore_ascii_case("multipart/form-data"))
        })
}

/// A body the engine cannot keep: 503 when the spill budget is used up (try again
/// later), 500 when `tmp_dir` fails.
fn spool_error(e: SpoolError) -> Box<Error> {
    tracing::warn!(error = %e, "request body not kept for inspection");
    let status = match e {
        SpoolError::Full { .. } => 503,
        SpoolError::Io { .. } => 500,
    };
    Error::explain(ErrorType::HTTPStatus(status), e.to_string())
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

    /// Enforce `v` before anything was sent upstream: answer the client now.
    pub(super) async fn block(
        &self,
        session: &mut Session,
        ctx: &mut Ctx,
        v: Verdict,
    ) -> Result<bool> {
        let e = self.enforce(ctx, v);
        // The request body may be unread: do not reuse the connection.
        session.set_keepalive(None);
        if ctx.drop_connection {
            return Err(e);
        }
        answer_verdict(session, ctx).await.map(|_| true)
    }

    /// Enforce `v`: the one place that records a block (decision, metric, the verdict
    /// for the log and the answer). The returned error ends the exchange; where the
    /// proxy phases return it, `fail_to_proxy` answers with [`answer_verdict`]
    /// (nothing for `Drop`, and nothing once the response head is out).
    pub(super) fn enforce(&self, ctx: &mut Ctx, v: Verdict) -> Box<Error> {
        ctx.decision = Decision::Block;
        self.shared
            .metrics
            .blocked
            .with_label_values(&[&v.label()])
            .inc();
        let status = v.status;
        let drop = v.action == Action::Drop;
        ctx.drop_connection |= drop;
        ctx.verdict = Some(v);
        if drop {
            return Error::explain(
                ErrorType::ConnectionClosed,
                "connection dropped by inspection",
            );
        }
        status_error(status, "blocked by inspection")
    }

    /// Record that `part` was not (fully) inspected: access log field and metric.
    pub(super) fn uninspected(&self, ctx: &mut Ctx, part: &'static str) {
        if !ctx.uninspected.contains(&part) {
            ctx.uninspected.push(part);
            self.shared
                .metrics
                .uninspected
                .with_label_values(&[part])
                .inc();
        }
    }

    /// Decide how phase 2 gets the body: refuse it up front when its declared length is
    /// over the limit (block mode, `reject`), else start holding it back.
    pub(super) async fn begin_body(
        &self,
        session: &mut Session,
        ctx: &mut Ctx,
        snap: &Snapshot,
    ) -> Result<BodyStart> {
        let i = &snap.config.inspection;
        if session.as_downstream_mut().is_body_empty() || session.is_body_done() {
            return Ok(BodyStart::Empty);
        }
        // ModSecurity's meaning: the no-files limit covers everything except multipart
        // file contents, so it bounds every non-multipart body; multipart bodies are
        // bounded by the request body limit here and by the no-files limit in the rule
        // engine, which sees the parts.
        let (limit, limit_name) = if is_multipart(session) {
            (i.request_body_limit, "request_body_limit")
        } else if i.request_body_no_files_limit < i.request_body_limit {
            (i.request_body_no_files_limit, "request_body_no_files_limit")
        } else {
            (i.request_body_limit, "request_body_limit")
        };
        let declared = headers::content_length(session.req_header());
        if declared.is_some_and(|l| l > limit as u64)
            && i.request_body_limit_action == BodyLimitAction::Reject
            && i.mode == Mode::Block
        {
            return Ok(BodyStart::Reject(over_limit(413, limit_name)));
        }
        let expects_continue = session
            .req_header()
            .headers
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if expects_continue {
            // Answered here: the app would answer only after seeing the body's start,
            // and it sees nothing until the body is inspected.
            session
                .as_downstream_mut()
                .write_continue_response()
                .await?;
            session
                .req_header_mut()
                .remove_header(&http::header::EXPECT);
        }
        ctx.hold = Some(Hold {
            spool: Spool::new(
                i.request_body_in_memory_limit,
                self.shared.spool_budget.clone(),
            ),
            limit,
            limit_name,
        });
        Ok(BodyStart::Held)
    }

    /// `request_body_filter` while the body is held: keep the chunk, and at the end of
    /// the body (or at the limit) run phase 2 and hand pingora everything kept.
    pub(super) fn hold_body(
        &self,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Ctx,
        snap: &Snapshot,
    ) -> Result<()> {
        let tmp = &snap.config.tmp_dir;
        if ctx.discard_body {
            *body = (!end_of_stream).then(Bytes::new);
            return Ok(());
        }
        let streams = ctx.inspection().is_some_and(|i| i.streams_request_body());
        let Some(hold) = ctx.hold.as_mut() else {
            return Ok(());
        };
        let before = hold.spool.len();
        // What the inspection gets of this chunk now (streaming, within the limit).
        let mut piece = None;
        if let Some(b) = body.take()
            && !b.is_empty()
        {
            if streams && before < hold.limit {
                piece = Some(b.slice(..(hold.limit - before).min(b.len())));
            }
            let max = snap.config.limits.max_spooled_bytes;
            if let Err(e) = hold.spool.push(b, tmp, max) {
                ctx.hold = None;
                ctx.decision = Decision::Error;
                return Err(spool_error(e));
            }
        }
        let over = hold.spool.len() > hold.limit;
        let i = &snap.config.inspection;
        if let Some(p) = piece
            && let Some(v) = ctx
                .inspection()
                .and_then(|insp| insp.request_body_chunk(&p))
            && self.rule_verdict(ctx, v.clone(), i.mode)
        {
            // Blocked before the rest of the body has even arrived.
            ctx.hold = None;
            return Err(self.enforce(ctx, v));
        }
        if !(over || end_of_stream) {
            // Nothing goes to the app yet (pingora skips empty chunks).
            *body = Some(Bytes::new());
            return Ok(());
        }
        let Some(hold) = ctx.hold.take() else {
            return Ok(());
        };
        let data = hold.spool.into_bytes(tmp).map_err(spool_error)?;
        let mut inspected = &data[..];
        if over {
            if i.request_body_limit_action == BodyLimitAction::Reject {
                let v = over_limit(413, hold.limit_name);
                if self.rule_verdict(ctx, v.clone(), i.mode) {
                    return Err(self.enforce(ctx, v));
                }
            }
            // ProcessPartial (or monitor mode): the rest passes uninspected.
            self.uninspected(ctx, "request_body");
            inspected = &data[..hold.limit];
        }
        let verdict = ctx.inspection().and_then(|insp| {
            if streams {
                insp.request_body_end()
            } else {
                insp.request_body(inspected)
            }
        });
        if let Some(v) = verdict
            && self.rule_verdict(ctx, v.clone(), i.mode)
        {
            return Err(self.enforce(ctx, v));
        }
        *body = (!data.is_empty()).then_some(data);
        Ok(())
    }

    /// The body must keep arriving at `limits.min_request_body_rate` on average after an
    /// allowance of `timeouts.request_body_read_ms` (Apache's `RequestReadTimeout
    /// body=…,MinRate=…`); silence longer than that is pingora's read timeout.
    pub(super) fn check_body_rate(&self, ctx: &mut Ctx, snap: &Snapshot) -> Result<()> {
        let rate = snap.config.limits.min_request_body_rate;
        let Some(start) = ctx.body_start else {
            return Ok(());
        };
        if rate == 0 {
            return Ok(());
        }
        let allowed_ms =
            snap.config.timeouts.request_body_read_ms + ctx.body_in.saturating_mul(1000) / rate;
        if start.elapsed().as_millis() as u64 > allowed_ms {
            self.shared
                .metrics
                .slow_clients
                .with_label_values(&["body"])
                .inc();
            ctx.decision = Decision::Error;
            return Err(status_error(
                408,
                "request body slower than limits.min_request_body_rate",
            ));
        }
        Ok(())
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
