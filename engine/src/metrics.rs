//! Every Prometheus metric of the engine, registered in one place.
//! Names and labels are documented in `docs/metrics.md`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Handles to the engine's metrics.
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_duration: Histogram,
    pub upstream_duration: Histogram,
    pub upstream_errors: IntCounterVec,
    pub active_connections: IntGauge,
    pub in_flight_requests: IntGauge,
    pub blocked: IntCounterVec,
    pub reloads: IntCounterVec,
    pub non_http: IntCounterVec,
    pub refused: IntCounterVec,
    pub access_log_dropped: IntCounter,
    pub rule_matches: IntCounterVec,
    pub uninspected: IntCounterVec,
    pub slow_clients: IntCounterVec,
    pub connections_rejected: IntCounter,
    build_info: IntGaugeVec,
}

/// Registration fails only on duplicate or malformed names, which are fixed here.
fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: T) -> T {
    if let Err(e) = r.register(Box::new(c.clone())) {
        tracing::error!(error = %e, "metric registration failed");
    }
    c
}

// Latency buckets from 50 µs (the engine's own overhead) to 30 s (slow apps).
const BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0,
];

impl Metrics {
    /// Build and register all metrics. The names are literals, so the constructors'
    /// errors (invalid names) cannot occur; `expect` documents that.
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let r = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            reg(
                &r,
                IntCounterVec::new(Opts::new(name, help), labels).expect("static metric name"),
            )
        };
        let hist = |name: &str, help: &str| {
            reg(
                &r,
                Histogram::with_opts(HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()))
                    .expect("static metric name"),
            )
        };
        let gauge = |name: &str, help: &str| {
            reg(&r, IntGauge::new(name, help).expect("static metric name"))
        };
        let m = Metrics {
            requests: counter(
                "palisade_requests_total",
                "HTTP requests handled, by decision, method and status class.",
                &["decision", "method", "code_class"],
            ),
            request_duration: hist(
                "palisade_request_duration_seconds",
                "Time the engine adds to a request (total time to response head minus upstream time).",
            ),
            upstream_duration: hist(
                "palisade_upstream_duration_seconds",
                "Time from sending the request to the app until its response head arrived.",
            ),
            upstream_errors: counter(
                "palisade_upstream_errors_total",
                "Failures talking to the app, by kind.",
                &["kind"],
            ),
            active_connections: gauge(
                "palisade_active_connections",
                "Open client connections (HTTP and passed-through TCP).",
            ),
            in_flight_requests: gauge(
                "palisade_in_flight_requests",
                "HTTP requests being processed.",
            ),
            blocked: counter(
                "palisade_blocked_requests_total",
                "Requests blocked, by rule id (or limit name for built-in limits).",
                &["rule_id"],
            ),
            reloads: counter(
                "palisade_config_reloads_total",
                "Configuration reloads, by result (success, failure).",
                &["result"],
            ),
            non_http: counter(
                "palisade_non_http_connections_total",
                "Connections whose first bytes were not HTTP, by action (passthrough, reject).",
                &["action"],
            ),
            refused: counter(
                "palisade_refused_requests_total",
                "HTTP/1 requests refused before inspection, by kind (parse, framing, method, too_large, timeout, incomplete).",
                &["kind"],
            ),
            access_log_dropped: reg(
                &r,
                IntCounter::new(
                    "palisade_access_log_dropped_total",
                    "Access log lines dropped because stdout could not keep up.",
                )
                .expect("static metric name"),
            ),
            rule_matches: counter(
                "palisade_rule_matches_total",
                "Rule matches (disruptive or not), by rule id and mode.",
                &["rule_id", "mode"],
            ),
            uninspected: counter(
                "palisade_uninspected_total",
                "Requests with a part forwarded without (full) inspection, by part (request_body, response_body).",
                &["part"],
            ),
            slow_clients: counter(
                "palisade_slow_clients_total",
                "Connections cut for sending too slowly, by part (head, body).",
                &["part"],
            ),
            connections_rejected: reg(
                &r,
                IntCounter::new(
                    "palisade_connections_rejected_total",
                    "Client connections refused because limits.max_connections were open.",
                )
                .expect("static metric name"),
            ),
            build_info: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "palisade_build_info",
                        "Build of the running engine (always 1).",
                    ),
                    &["version"],
                )
                .expect("static metric name"),
            ),
            registry: r,
        };
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for kind in ["connect", "timeout", "closed", "other"] {
            m.upstream_errors.with_label_values(&[kind]);
        }
        for kind in [
            "parse",
            "framing",
            "method",
            "too_large",
            "timeout",
            "incomplete",
        ] {
            m.refused.with_label_values(&[kind]);
        }
        for part in ["request_body", "response_body"] {
            m.uninspected.with_label_values(&[part]);
        }
        for part in ["head", "body"] {
            m.slow_clients.with_label_values(&[part]);
        }
        for result in ["success", "failure"] {
            m.reloads.with_label_values(&[result]);
        }
        m
    }

    /// Prometheus text exposition of everything registered.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Bounded label values for the method label.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "OTHER",
    }
}

/// `2xx`, `4xx`... for the status label; `none` when no response was sent.
pub fn code_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "none",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn metrics_doc_lists_every_metric() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics.md"))
                .unwrap();
        let m = super::Metrics::new();
        m.blocked.with_label_values(&["1"]).inc();
        m.non_http.with_label_values(&["reject"]).inc();
        m.rule_matches.with_label_values(&["1", "block"]).inc();
        m.requests.with_label_values(&["allow", "GET", "2xx"]).inc();
        let text = String::from_utf8(m.render()).unwrap();
        let names: std::collections::BTreeSet<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        assert!(names.len() >= 12, "{names:?}");
        for name in names {
            assert!(
                doc.contains(&format!("| `{name}` |")),
                "{name} undocumented"
            );
        }
    }
}
