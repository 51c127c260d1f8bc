//! Reading the layers and merging them into one validated [`Config`].

use std::path::Path;

use serde_yaml::Value;

use super::{Config, ConfigError, EnvSource, env};

/// Command-line flags; they win over the file and the environment.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<Vec<String>>,
    pub upstream: Option<String>,
    pub admin: Option<String>,
    pub threads: Option<usize>,
}

/// Load `path` (if any), apply the environment and flags, and validate.
pub fn load(
    path: Option<&Path>,
    env: &dyn EnvSource,
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    let (text, origin) = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.display().to_string(),
                source,
            })?;
            (text, p.display().to_string())
        }
        None => (String::new(), "<defaults>".to_string()),
    };
    load_from_str(&text, &origin, env, overrides)
}

/// Same as [`load`] with the file's text given directly.
pub fn load_from_str(
    text: &str,
    origin: &str,
    env: &dyn EnvSource,
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    let parse_err = |message: String| ConfigError::Parse {
        path: origin.to_string(),
        message,
    };
    let mut root: Value = if text.trim().is_empty() {
        Value::Mapping(Default::default())
    } else {
        serde_yaml::from_str(text).map_err(|e| parse_err(e.to_string()))?
    };
    if root.is_null() {
        root = Value::Mapping(Default::default());
    }
    env::check_unknown(env)?;
    env::apply(&mut root, env);
    let mut cfg: Config = serde_path_to_error::deserialize(root).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names the bad value and the allowed ones; the path names the field.
        let hint = env_hint(&field, env);
        parse_err(format!("config field `{field}`{hint}: {inner}"))
    })?;
    if let Some(listen) = &overrides.listen {
        cfg.listen = listen.clone();
    }
    if let Some(upstream) = &overrides.upstream {
        cfg.upstream = Some(upstream.clone());
    }
    if let Some(admin) = &overrides.admin {
        cfg.admin = admin.clone();
    }
    if let Some(threads) = overrides.threads {
        cfg.threads = threads;
    }
    super::validate::validate(&cfg)?;
    Ok(cfg)
}

/// When the bad field came from the environment, say which variable set it.
fn env_hint(field: &str, env: &dyn EnvSource) -> String {
    let var = format!("PALISADE_{}", field.replace('.', "_").to_uppercase());
    match env.get(&var) {
        Some(_) => format!(" (from {var})"),
        None => String::new(),
    }
}
