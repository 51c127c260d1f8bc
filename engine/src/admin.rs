//! The admin server: `/healthz` (alive), `/readyz` (ready, not draining), `/metrics`.

use std::sync::Arc;

use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::state::Shared;

/// Admin endpoints over the shared state.
pub struct Admin {
    pub shared: Arc<Shared>,
}

fn reply(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    let len = resp.body().len();
    resp.headers_mut()
        .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    resp
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let text = "text/plain; charset=utf-8";
        match session.req_header().uri.path() {
            "/healthz" => reply(StatusCode::OK, text, b"ok\n".to_vec()),
            "/readyz" if self.shared.is_ready() => reply(StatusCode::OK, text, b"ready\n".to_vec()),
            "/readyz" => {
                let why: &[u8] = if self.shared.is_draining() {
                    b"draining\n"
                } else {
                    b"starting\n"
                };
                reply(StatusCode::SERVICE_UNAVAILABLE, text, why.to_vec())
            }
            "/metrics" => reply(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                self.shared.metrics.render(),
            ),
            _ => reply(StatusCode::NOT_FOUND, text, b"not found\n".to_vec()),
        }
    }
}
