//! The end of a request: phase 5, metrics and the access log line.

use std::time::Instant;

use pingora::Error;
use pingora::proxy::Session;

use super::{Ctx, Decision, Engine, headers, inet};
use crate::accesslog::{AccessRecord, now_rfc3339};
use crate::metrics::{code_class, method_label};

pub(super) fn finish(engine: &Engine, session: &mut Session, e: Option<&Error>, ctx: &mut Ctx) {
    let shared = &engine.shared;
    let m = &shared.metrics;
    let (rule_ids, matches) = match ctx.inspection() {
        Some(i) => {
            i.logging();
            (i.matched_rule_ids(), i.matched_rules())
        }
        None => (Vec::new(), Vec::new()),
    };
    let status = session
        .response_written()
        .map(|r| r.status.as_u16())
        .unwrap_or(0);
    if e.is_some() && ctx.decision == Decision::Allow {
        ctx.decision = Decision::Error;
    }
    let req = session.req_header();
    let method = req.method.as_str();
    m.requests
        .with_label_values(&[
            ctx.decision.as_str(),
            method_label(method),
            code_class(status),
        ])
        .inc();

    let now = Instant::now();
    let total = ctx.response_head.unwrap_or(now) - ctx.start;
    let upstream = match (ctx.upstream_sent, ctx.upstream_head) {
        (Some(s), Some(h)) => Some(h - s),
        _ => None,
    };
    let added = total.saturating_sub(upstream.unwrap_or_default());
    m.request_duration.observe(added.as_secs_f64());

    let mode = ctx
        .snapshot
        .as_ref()
        .map(|s| s.config.inspection.mode)
        .unwrap_or(crate::config::Mode::Off);
    let mode_label = match mode {
        crate::config::Mode::Block => "block",
        crate::config::Mode::Monitor => "monitor",
        crate::config::Mode::Off => "off",
    };
    for id in &rule_ids {
        m.rule_matches
            .with_label_values(&[&id.to_string(), mode_label])
            .inc();
    }
    // Last, so that no request in flight means every finished one has been counted.
    if ctx.counted {
        m.in_flight_requests.dec();
    }

    let access_log = ctx.snapshot.as_ref().is_none_or(|s| s.config.access_log);
    if !access_log {
        return;
    }
    let uri = headers::raw_uri(req);
    let path = uri.split('?').next().unwrap_or("");
    let mut rule_ids = rule_ids;
    if let Some(v) = &ctx.verdict
        && v.rule_id != 0
        && !rule_ids.contains(&v.rule_id)
    {
        rule_ids.push(v.rule_id);
    }
    let record = AccessRecord {
        kind: "access",
        time: now_rfc3339(),
        request_id: &ctx.request_id,
        client: inet(session.client_addr())
            .map(|a| a.to_string())
            .unwrap_or_default(),
        method,
        path,
        protocol: headers::protocol(req.version),
        host: req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri.authority().map(|a| a.as_str()))
            .unwrap_or(""),
        status,
        decision: ctx.decision.as_str(),
        rule_ids: &rule_ids,
        matches: &matches,
        uninspected: &ctx.uninspected,
        message: ctx.verdict.as_ref().map(|v| v.message.as_str()),
        upstream: ctx.upstream.map(|u| u.to_string()),
        bytes_in: session.body_bytes_read() as u64,
        bytes_out: session.body_bytes_sent() as u64,
        duration_ms: (now - ctx.start).as_secs_f64() * 1000.0,
        upstream_ms: upstream.map(|u| u.as_secs_f64() * 1000.0),
        error: e.map(|e| e.to_string()),
    };
    if !shared.access_log.emit(&record) {
        m.access_log_dropped.inc();
    }
}
