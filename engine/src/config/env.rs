//! `PALISADE_*` environment variables: one per config field, named after its path
//! (`inspection.paranoia_level` -> `PALISADE_INSPECTION_PARANOIA_LEVEL`). Lists are
//! comma-separated. Read through [`EnvSource`] so tests pass a map instead of mutating
//! the process environment.

use std::collections::BTreeMap;

use serde_yaml::Value;

use super::{Config, ConfigError, TlsConfig};

/// Where environment variables come from.
pub trait EnvSource {
    fn get(&self, name: &str) -> Option<String>;
    /// Names of every variable set, so unknown `PALISADE_*` ones can be refused.
    fn names(&self) -> Vec<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn names(&self) -> Vec<String> {
        std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .collect()
    }
}

/// A fixed map, for tests and `--check-config` without the environment.
#[derive(Default)]
pub struct MapEnv(pub BTreeMap<String, String>);

impl EnvSource for MapEnv {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }

    fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

/// A config with every optional section present, so every leaf has a name.
fn template() -> Value {
    let cfg = Config {
        upstream: Some(String::new()),
        tls: Some(TlsConfig {
            listen: String::new(),
            cert: String::new(),
            key: String::new(),
        }),
        ..Config::default()
    };
    // Serialising a plain struct of strings, numbers and lists cannot fail.
    serde_yaml::to_value(cfg).unwrap_or(Value::Null)
}

/// Leaf paths of the config and whether each is a list.
fn leaves() -> Vec<(Vec<String>, bool)> {
    fn walk(v: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, bool)>) {
        match v {
            Value::Mapping(m) => {
                for (k, child) in m {
                    if let Some(k) = k.as_str() {
                        path.push(k.to_string());
                        walk(child, path, out);
                        path.pop();
                    }
                }
            }
            Value::Sequence(_) => out.push((path.clone(), true)),
            _ => out.push((path.clone(), false)),
        }
    }
    let mut out = Vec::new();
    walk(&template(), &mut Vec::new(), &mut out);
    out
}

fn var_name(path: &[String]) -> String {
    format!("PALISADE_{}", path.join("_").to_uppercase())
}

/// Every environment variable the engine reads, with its config path (for the docs test).
pub fn env_var_names() -> Vec<(String, String)> {
    leaves()
        .into_iter()
        .map(|(p, _)| (var_name(&p), p.join(".")))
        .collect()
}

/// `PALISADE_*` variables the engine reads that are not config fields.
pub const OTHER_VARS: &[&str] = &[
    // The tracing filter (`main.rs`).
    "PALISADE_LOG",
];

/// Refuse a `PALISADE_*` variable that names no setting: a misspelt
/// `PALISADE_INSPECTON_MODE` must not leave the engine running with defaults.
pub(super) fn check_unknown(env: &dyn EnvSource) -> Result<(), ConfigError> {
    let known: Vec<String> = env_var_names()
        .into_iter()
        .map(|(v, _)| v)
        .chain(OTHER_VARS.iter().map(|v| v.to_string()))
        .collect();
    let mut names = env.names();
    names.sort();
    for name in names {
        if !name.starts_with("PALISADE_") || known.contains(&name) {
            continue;
        }
        let nearest = known
            .iter()
            .min_by_key(|k| strsim::levenshtein(k, &name))
            .cloned()
            .unwrap_or_default();
        return Err(ConfigError::UnknownEnv { name, nearest });
    }
    Ok(())
}

/// Write every set variable into the parsed file's YAML tree.
pub(super) fn apply(root: &mut Value, env: &dyn EnvSource) {
    for (path, is_list) in leaves() {
        let Some(raw) = env.get(&var_name(&path)) else {
            continue;
        };
        let value = if is_list {
            Value::Sequence(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )
        } else {
            // Scalars keep YAML typing (`true`, `5`), falling back to a string.
            match serde_yaml::from_str::<Value>(&raw) {
                Ok(v @ (Value::Bool(_) | Value::Number(_))) => v,
                _ => Value::String(raw),
            }
        };
        set(root, &path, value);
    }
}

fn set(root: &mut Value, path: &[String], value: Value) {
    if !root.is_mapping() {
        *root = Value::Mapping(Default::default());
    }
    let mut cur = root;
    for (i, key) in path.iter().enumerate() {
        let Value::Mapping(m) = cur else { return };
        let k = Value::String(key.clone());
        if i + 1 == path.len() {
            m.insert(k, value);
            return;
        }
        let entry = m
            .entry(k)
            .or_insert_with(|| Value::Mapping(Default::default()));
        if !entry.is_mapping() {
            *entry = Value::Mapping(Default::default());
        }
        cur = entry;
    }
}
