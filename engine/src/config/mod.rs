//! Typed engine configuration.
//!
//! Layers, lowest first: built-in defaults, the YAML file (`--config`), `PALISADE_*`
//! environment variables (one per field, see [`env`]), then command-line flags. Every
//! field is documented in `docs/configuration.md`; a test checks the doc names them all.

mod env;
mod load;
mod validate;

pub use env::{EnvSource, MapEnv, OTHER_VARS, ProcessEnv, env_var_names};
pub use load::{Overrides, load, load_from_str};
pub(crate) use validate::no_rules;

use serde::{Deserialize, Serialize};

/// What the engine does with a connection whose first bytes are not HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NonHttp {
    /// Relay the bytes to the upstream as plain TCP.
    Passthrough,
    /// Close the connection.
    Reject,
}

/// How verdicts of the rule inspector are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Disruptive verdicts are enforced.
    Block,
    /// Verdicts are logged and counted, traffic passes.
    Monitor,
    /// The rule inspector is not run at all.
    Off,
}

/// The whole configuration. Unknown fields are errors so typos do not pass silently.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Addresses the proxy listens on.
    pub listen: Vec<String>,
    /// `HOST:PORT` to forward to (explicit mode). Unset: transparent mode.
    pub upstream: Option<String>,
    /// Address of the admin server (`/healthz`, `/readyz`, `/metrics`).
    pub admin: String,
    /// Worker threads of the data plane.
    pub threads: usize,
    /// Directory for temporary files (the only writable path the engine needs).
    pub tmp_dir: String,
    /// Non-HTTP bytes on the proxy port.
    pub non_http: NonHttp,
    /// Keep an incoming `X-Request-Id` instead of generating one.
    pub trust_request_id: bool,
    /// Emit one JSON access log line per request on stdout.
    pub access_log: bool,
    pub tls: Option<TlsConfig>,
    pub timeouts: Timeouts,
    pub limits: Limits,
    pub inspection: Inspection,
}

/// HTTPS listener (HTTP/1.1 and HTTP/2 via ALPN).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub listen: String,
    pub cert: String,
    pub key: String,
}

/// All durations in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// Whole first request head must arrive within this time (slowloris).
    pub request_header_ms: u64,
    /// Idle keep-alive connection is closed after this time.
    pub idle_ms: u64,
    /// Connecting to the app.
    pub upstream_connect_ms: u64,
    /// Waiting for the app between reads (response head and body).
    pub upstream_response_ms: u64,
    /// SIGTERM: longest wait for in-flight requests.
    pub drain_ms: u64,
    /// Wait for the first bytes before deciding HTTP or not.
    pub protocol_detect_ms: u64,
    /// Longest wait for the next bytes of a request body; with
    /// `limits.min_request_body_rate` also the body's initial allowance.
    pub request_body_read_ms: u64,
}

/// Limits enforced by the built-in limits inspector (in every mode).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub max_header_count: usize,
    pub max_uri_bytes: usize,
    pub max_body_bytes: u64,
    pub allowed_methods: Vec<String>,
    /// Slowest average request body upload tolerated, in bytes per second (0: off).
    pub min_request_body_rate: u64,
    /// Most client connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Request body bytes spilled to `tmp_dir` by all requests together; a body that
    /// would pass it is answered 503.
    pub max_spooled_bytes: u64,
}

/// What happens to a body larger than its inspection limit (ModSecurity's
/// `SecRequestBodyLimitAction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyLimitAction {
    /// Refuse it (413 for requests) in block mode.
    Reject,
    /// Inspect up to the limit and forward the rest uninspected.
    ProcessPartial,
}

/// Rule inspection settings, handed to the rule inspector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Inspection {
    pub mode: Mode,
    /// Rule files or glob patterns, loaded in order.
    pub rules: Vec<String>,
    pub paranoia_level: u8,
    /// Most request body bytes inspected (`SecRequestBodyLimit`).
    pub request_body_limit: usize,
    /// Most request body bytes inspected apart from multipart file contents
    /// (`SecRequestBodyNoFilesLimit`).
    pub request_body_no_files_limit: usize,
    pub request_body_limit_action: BodyLimitAction,
    /// Request body bytes held in memory; beyond, the body spills to `tmp_dir`.
    pub request_body_in_memory_limit: usize,
    /// Most response body bytes held back for inspection.
    pub response_body_limit: usize,
    pub response_body_limit_action: BodyLimitAction,
    /// Run `block` or `monitor` mode with no rule loaded (only the built-in limits).
    /// Off by default: an empty or misspelt rule list must not start an unarmed engine.
    pub allow_no_rules: bool,
}

/// The largest `inspection.request_body_limit` accepted (1 GiB).
pub const MAX_INSPECT_REQUEST_BODY: usize = 1024 * 1024 * 1024;

// === impl Config ===

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: vec!["0.0.0.0:15300".into(), "[::]:15300".into()],
            upstream: None,
            admin: "0.0.0.0:15301".into(),
            threads: 2,
            tmp_dir: "/tmp".into(),
            non_http: NonHttp::Passthrough,
            trust_request_id: false,
            access_log: true,
            tls: None,
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            inspection: Inspection::default(),
        }
    }
}

impl Config {
    /// Transparent mode forwards to the original destination port on loopback.
    pub fn is_transparent(&self) -> bool {
        self.upstream.is_none()
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            request_header_ms: 10_000,
            idle_ms: 60_000,
            upstream_connect_ms: 5_000,
            upstream_response_ms: 60_000,
            drain_ms: 30_000,
            protocol_detect_ms: 1_000,
            request_body_read_ms: 30_000,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Envoy's default for the whole header block.
            max_header_bytes: 60 * 1024,
            max_header_count: 100,
            max_uri_bytes: 8 * 1024,
            max_body_bytes: 10 * 1024 * 1024,
            allowed_methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
                .into_iter()
                .map(String::from)
                .collect(),
            // Apache's mod_reqtimeout `MinRate=500`, rounded up.
            min_request_body_rate: 512,
            max_connections: 10_000,
            // Below the 64 MiB emptyDir the injector mounts at /tmp.
            max_spooled_bytes: 48 * 1024 * 1024,
        }
    }
}

impl Default for Inspection {
    fn default() -> Self {
        Inspection {
            mode: Mode::Block,
            rules: Vec::new(),
            paranoia_level: 1,
            // ModSecurity's recommended configuration.
            request_body_limit: 13_107_200,
            request_body_no_files_limit: 131_072,
            request_body_limit_action: BodyLimitAction::Reject,
            request_body_in_memory_limit: 131_072,
            response_body_limit: 524_288,
            response_body_limit_action: BodyLimitAction::ProcessPartial,
            allow_no_rules: false,
        }
    }
}

/// A configuration error an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config field `{field}`: value `{value}` is not allowed; allowed: {allowed}")]
    Invalid {
        field: String,
        value: String,
        allowed: String,
    },
    #[error(
        "unknown environment variable {name} (did you mean {nearest}?); every PALISADE_* \
         variable must name a setting (docs/configuration.md)"
    )]
    UnknownEnv { name: String, nearest: String },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

impl ConfigError {
    pub(crate) fn invalid(
        field: impl Into<String>,
        value: impl ToString,
        allowed: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field and its environment variable are documented.
    #[test]
    fn configuration_doc_lists_every_setting() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/configuration.md"
        ))
        .unwrap();
        for (var, path) in env_var_names() {
            assert!(
                doc.contains(&format!("| `{path}` | `{var}` |")),
                "{path} / {var} undocumented"
            );
        }
    }

    /// Every setting and variable the inspection and configuration docs name exists.
    #[test]
    fn inspection_doc_names_only_real_settings() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/");
        let known = env_var_names();
        let vars: Vec<&str> = known
            .iter()
            .map(|(v, _)| v.as_str())
            .chain(OTHER_VARS.iter().copied())
            .collect();
        let paths: Vec<&str> = known.iter().map(|(_, p)| p.as_str()).collect();
        // The misspelling the docs show as an example of what is refused.
        let examples = ["PALISADE_INSPECTON_MODE"];
        let mut checked = 0;
        for doc in ["inspection.md", "configuration.md"] {
            let text = std::fs::read_to_string(format!("{root}{doc}")).unwrap();
            let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'));
            for w in words.map(|w| w.trim_end_matches('.')) {
                if w.starts_with("PALISADE_") && !w.ends_with('_') {
                    assert!(
                        vars.contains(&w) || examples.contains(&w),
                        "{doc} names {w}, which the engine does not read"
                    );
                    checked += 1;
                } else if let Some(field) = w.strip_prefix("inspection.")
                    && !field.is_empty()
                    && field != "md"
                    && field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                {
                    assert!(
                        paths.contains(&w),
                        "{doc} names the setting {w}, which the config parser does not know"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 20, "only {checked} names found");
    }

    #[test]
    fn unknown_palisade_variable_is_refused_with_the_nearest_name() {
        let env = MapEnv(
            [("PALISADE_INSPECTON_MODE", "off"), ("HOME", "/root")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        let err = load_from_str("", "t", &env, &Overrides::default()).unwrap_err();
        assert!(matches!(err, ConfigError::UnknownEnv { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("PALISADE_INSPECTON_MODE"), "{msg}");
        assert!(
            msg.contains("did you mean PALISADE_INSPECTION_MODE?"),
            "{msg}"
        );
    }

    #[test]
    fn block_or_monitor_without_rules_is_refused_unless_allowed() {
        for (vars, ok) in [
            (vec![], false),
            (vec![("PALISADE_INSPECTION_RULES", "")], false),
            (vec![("PALISADE_INSPECTION_MODE", "monitor")], false),
            (vec![("PALISADE_INSPECTION_MODE", "off")], true),
            (vec![("PALISADE_INSPECTION_ALLOW_NO_RULES", "true")], true),
        ] {
            let env = MapEnv(
                vars.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            );
            let res = load_from_str("", "t", &env, &Overrides::default());
            assert_eq!(res.is_ok(), ok, "{vars:?}: {res:?}");
            if let Err(e) = res {
                let msg = e.to_string();
                assert!(
                    msg.contains("inspection.rules") && msg.contains("allow_no_rules"),
                    "{msg}"
                );
            }
        }
    }

    #[test]
    fn environment_sets_nested_fields_and_lists() {
        let env = MapEnv(
            [
                ("PALISADE_INSPECTION_MODE", "monitor"),
                ("PALISADE_LIMITS_ALLOWED_METHODS", "GET, POST"),
                ("PALISADE_TIMEOUTS_IDLE_MS", "1234"),
                ("PALISADE_TRUST_REQUEST_ID", "true"),
                ("PALISADE_INSPECTION_ALLOW_NO_RULES", "true"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        let cfg = load_from_str(
            "limits:\n  max_uri_bytes: 99\n",
            "t",
            &env,
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(cfg.inspection.mode, Mode::Monitor);
        assert_eq!(cfg.limits.allowed_methods, ["GET", "POST"]);
        assert_eq!(cfg.limits.max_uri_bytes, 99);
        assert_eq!(cfg.timeouts.idle_ms, 1234);
        assert!(cfg.trust_request_id);
    }
}
