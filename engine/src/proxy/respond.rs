//! Answers the engine writes itself: blocks, redirects and upstream failures, as small
//! JSON bodies that name the request id.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use serde::Serialize;

#[derive(Serialize)]
struct Body<'a> {
    status: u16,
    error: &'a str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

/// Write a JSON answer; `location` makes it a redirect. Returns the status written.
pub async fn json(
    session: &mut Session,
    status: u16,
    error: &str,
    request_id: &str,
    rule_id: Option<u32>,
    message: Option<&str>,
    location: Option<&str>,
) -> pingora::Result<u16> {
    let body = serde_json::to_vec(&Body {
        status,
        error,
        request_id,
        rule_id,
        message,
    })
    .unwrap_or_default();
    let mut resp = ResponseHeader::build(status, Some(5))?;
    resp.insert_header("content-type", "application/json")?;
    resp.insert_header("content-length", body.len().to_string())?;
    resp.insert_header("x-request-id", request_id)?;
    resp.insert_header("cache-control", "no-store")?;
    if let Some(loc) = location {
        resp.insert_header("location", loc)?;
    }
    let head_only = session.req_header().method == http::Method::HEAD;
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if !head_only {
        session
            .write_response_body(Some(Bytes::from(body)), true)
            .await?;
    }
    Ok(status)
}
