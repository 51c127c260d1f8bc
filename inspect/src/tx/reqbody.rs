//! The request body as it streams in: limits, the body processors, and the
//! variables they fill (`REQUEST_BODY`, `ARGS_POST`, `FILES*`, `XML`, `REQBODY_*`).
//!
//! What is held in memory is bounded: multipart file contents are only counted;
//! form fields, URL-encoded, JSON and XML bodies are kept up to
//! `SecRequestBodyNoFilesLimit` (over it the body is an error, as in ModSecurity);
//! a body no processor parses is kept up to `SecRequestBodyLimit` for `REQUEST_BODY`.
use super::store::Store;
use super::{Disruptive, Intervention, Transaction};
use crate::body;
use crate::rule::BodyProcessor;
use crate::ruleset::{BodyLimitAction, EngineMode};
use crate::vars::Var;

/// The body processor's state between chunks.
pub(crate) struct BodyState {
    /// Bytes received so far (all of them, also past a limit).
    received: usize,
    /// Bytes handed to the processor (at most `SecRequestBodyLimit`).
    accepted: usize,
    /// Raw bytes kept for `REQUEST_BODY` and the buffered processors.
    raw: Vec<u8>,
    /// Most bytes `raw` keeps.
    raw_cap: usize,
    /// More bytes arrived than `raw_cap`.
    raw_truncated: bool,
    multipart: Option<Result<body::multipart::Parser, String>>,
}

impl BodyState {
    fn new(tx: &Transaction) -> BodyState {
        let cfg = &tx.rs.config;
        let (raw_cap, multipart) = match tx.body_processor {
            Some(BodyProcessor::Multipart) => (
                cfg.request_body_no_files_limit,
                Some(body::multipart::Parser::new(
                    &tx.content_type,
                    cfg.request_body_no_files_limit,
                )),
            ),
            Some(_) => (cfg.request_body_no_files_limit, None),
            None => (cfg.request_body_limit, None),
        };
        BodyState {
            received: 0,
            accepted: 0,
            raw: Vec::new(),
            raw_cap,
            raw_truncated: false,
            multipart,
        }
    }
}

/// Takes the next piece of the body; answers 413 when it passes
/// `SecRequestBodyLimit` with `SecRequestBodyLimitAction Reject` in blocking mode.
pub fn chunk(tx: &mut Transaction, data: &[u8]) -> Option<Intervention> {
    if tx.mode == EngineMode::Off || tx.interrupted || !tx.request_body_access {
        return None;
    }
    if tx.body.is_none() {
        tx.body = Some(BodyState::new(tx));
    }
    let limit = tx.rs.config.request_body_limit;
    let action = tx.rs.config.request_body_limit_action;
    let st = tx.body.as_mut()?;
    st.received = st.received.saturating_add(data.len());
    let room = limit.saturating_sub(st.accepted);
    let data = if data.len() > room {
        if action == BodyLimitAction::Reject {
            tx.store.set(Var::InboundDataError, "1");
            if tx.mode == EngineMode::On {
                tx.interrupted = true;
                return Some(Intervention {
                    status: 413,
                    disruptive: Disruptive::Deny,
                    rule_id: 0,
                    message: format!(
                        "request body is over SecRequestBodyLimit {limit} bytes \
                         ({} received so far)",
                        st.received
                    ),
                });
            }
        }
        tx.body_partial = true;
        &data[..room]
    } else {
        data
    };
    st.accepted += data.len();
    let keep = st.raw_cap.saturating_sub(st.raw.len()).min(data.len());
    st.raw.extend_from_slice(&data[..keep]);
    st.raw_truncated |= keep < data.len();
    if let Some(Ok(p)) = st.multipart.as_mut() {
        p.feed(data);
    }
    None
}

/// Ends the body: runs the body processor and fills the variables phase 2 reads.
pub fn finish(tx: &mut Transaction) {
    let st = match tx.body.take() {
        Some(st) => st,
        None => BodyState::new(tx),
    };
    let cfg = &tx.rs.config;
    let s = &mut tx.store;
    s.set(Var::RequestBodyLength, st.accepted.to_string());
    // ModSecurity v3 fills REQUEST_BODY for every body processor, XML included.
    // A multipart body keeps only its first SecRequestBodyNoFilesLimit bytes here.
    s.set(Var::RequestBody, st.raw.as_slice());
    let Some(proc) = tx.body_processor else {
        if tx.args_over_limit > 0 {
            let msg = args_limit_msg(tx.args_over_limit, cfg.arguments_limit);
            s.set(Var::ReqbodyError, "1");
            s.set(Var::ReqbodyErrorMsg, msg);
        }
        return;
    };
    s.set(Var::ReqbodyError, "0");
    s.set(Var::ReqbodyProcessorError, "0");
    let no_files = cfg.request_body_no_files_limit;
    let result = match (proc, st.multipart) {
        (BodyProcessor::Multipart, Some(Ok(p))) => p.finish(s),
        (BodyProcessor::Multipart, Some(Err(e))) => {
            body::multipart::set_unusable(s);
            Err(format!("Multipart: {e}"))
        }
        _ if st.raw_truncated => {
            s.set(Var::InboundDataError, "1");
            Err(format!(
                "Request body excluding files is bigger than the maximum expected \
                 (SecRequestBodyNoFilesLimit {no_files})."
            ))
        }
        (BodyProcessor::UrlEncoded, _) => {
            super::request::parse_args(&st.raw, cfg.arg_separator, &mut s.args_post);
            Ok(())
        }
        (BodyProcessor::Json, _) => {
            let limits = body::json::Limits {
                max_depth: cfg.request_body_json_depth_limit,
                max_args: cfg.arguments_limit.saturating_sub(s.args_get.len()),
            };
            body::json::parse(&st.raw, limits, &mut s.args_post)
        }
        (BodyProcessor::Xml, _) => body::xml::parse(&st.raw).map(|(text, attrs)| {
            s.xml_text = Some(text);
            s.xml_attrs = attrs;
        }),
        (BodyProcessor::Multipart, None) => Ok(()),
    };
    // SecArgumentsLimit: the arguments past it are dropped, and the body is an
    // error so that a rule blocks rather than the request passing half-inspected.
    let limit = cfg.arguments_limit;
    let over_in_query = tx.args_over_limit;
    let result = result.and_then(|()| {
        let total = s.args_get.len() + s.args_post.len();
        if over_in_query > 0 {
            s.args_post.clear();
            return Err(args_limit_msg(over_in_query, limit));
        }
        if total > limit {
            s.args_post.truncate(limit.saturating_sub(s.args_get.len()));
            return Err(args_limit_msg(total, limit));
        }
        Ok(())
    });
    if let Err(msg) = result {
        set_error(s, proc, &msg);
    }
    super::request::update_combined_size(s);
}

fn args_limit_msg(n: usize, limit: usize) -> String {
    format!("{n} arguments, more than SecArgumentsLimit {limit}")
}

fn set_error(s: &mut Store, proc: BodyProcessor, msg: &str) {
    s.set(Var::ReqbodyError, "1");
    s.set(Var::ReqbodyProcessorError, "1");
    s.set(Var::ReqbodyErrorMsg, format!("{}: {msg}", proc.name()));
}
