//! HTTPS server: `/mutate` (AdmissionReview v1), `/healthz`, `/metrics`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Namespace;
use tokio::net::TcpListener;
use tokio::sync::OnceCell;
use tokio_rustls::TlsAcceptor;

use crate::config::InjectorConfig;
use crate::inject::{self, Decision};
use crate::metrics::Metrics;
use crate::review;

/// AdmissionReviews for pods are far below this; anything larger is not one.
const MAX_BODY: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("accept failed: {0}")]
    Accept(std::io::Error),
}

pub struct State {
    pub config: InjectorConfig,
    pub metrics: Metrics,
    /// Built on first use: pods whose own label decides never need the API server.
    client: OnceCell<kube::Client>,
}

// === impl State ===

impl State {
    pub fn new(config: InjectorConfig, metrics: Metrics) -> Arc<Self> {
        Arc::new(Self {
            config,
            metrics,
            client: OnceCell::new(),
        })
    }

    async fn namespace_labels(&self, name: &str) -> Result<BTreeMap<String, String>, kube::Error> {
        let client = self
            .client
            .get_or_try_init(kube::Client::try_default)
            .await?;
        let ns = kube::Api::<Namespace>::all(client.clone())
            .get(name)
            .await?;
        Ok(ns.metadata.labels.unwrap_or_default())
    }

    /// Answers one AdmissionReview body; returns the response body and the result label.
    pub async fn admit(&self, body: &[u8]) -> (Vec<u8>, &'static str) {
        let req = match review::parse(body) {
            Ok(req) => req,
            Err(error) => {
                tracing::warn!(%error, "unreadable admission request");
                return (review::invalid(&error.to_string()), "error");
            }
        };
        let namespace = req.namespace.clone().unwrap_or_default();
        let Some(pod) = req.object.as_ref() else {
            return (
                review::invalid("admission request carries no pod object"),
                "error",
            );
        };
        let excluded = self.config.exclude_namespaces.contains(&namespace);
        let labels = if !excluded && inject::needs_namespace_labels(pod) {
            match self.namespace_labels(&namespace).await {
                Ok(labels) => labels,
                Err(error) => {
                    let d = Decision::Deny(format!(
                        "palisade: cannot read the labels of namespace {namespace}: {error}"
                    ));
                    return self.finish(&req, &d, "error");
                }
            }
        } else {
            BTreeMap::new()
        };
        let decision = inject::decide(pod, &namespace, &labels, &self.config);
        let result = match &decision {
            Decision::Skip(reason) => {
                tracing::debug!(namespace, pod = req.name, reason, "not injected");
                "skipped"
            }
            Decision::Deny(message) => {
                tracing::info!(namespace, pod = req.name, message, "denied");
                "denied"
            }
            Decision::Patch { .. } => {
                tracing::info!(namespace, pod = req.name, "injected");
                "injected"
            }
        };
        self.finish(&req, &decision, result)
    }

    fn finish(
        &self,
        req: &kube::core::admission::AdmissionRequest<k8s_openapi::api::core::v1::Pod>,
        decision: &Decision,
        result: &'static str,
    ) -> (Vec<u8>, &'static str) {
        match review::respond(req, decision).and_then(review::to_wire) {
            Ok(body) => (body, result),
            Err(error) => {
                tracing::error!(%error, "cannot build admission response");
                (review::invalid(&error.to_string()), "error")
            }
        }
    }
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

async fn route(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let text = "text/plain; charset=utf-8";
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => reply(StatusCode::OK, text, "ok\n"),
        (&Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            state.metrics.render(),
        ),
        (&Method::POST, "/mutate") => {
            let started = Instant::now();
            let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(error) => {
                    return Ok(reply(
                        StatusCode::BAD_REQUEST,
                        text,
                        format!("cannot read body: {error}\n"),
                    ));
                }
            };
            let (out, result) = state.admit(&body).await;
            state
                .metrics
                .observe(result, started.elapsed().as_secs_f64());
            reply(StatusCode::OK, "application/json", out)
        }
        _ => reply(StatusCode::NOT_FOUND, text, "not found\n"),
    })
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<State>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServerError> {
    let acceptor = TlsAcceptor::from(tls);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => accepted.map_err(ServerError::Accept)?,
            () = &mut shutdown => return Ok(()),
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let stream = match acceptor.accept(tcp).await {
                Ok(s) => s,
                Err(error) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
            };
            let svc = service_fn(move |req| route(req, state.clone()));
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
}

pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}
