//! Logging goes to the file named by `logFile`, never to stdout (which carries the result).

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Installs a file logger when the config names a file; otherwise logging stays off.
pub fn init(stdin: &[u8]) {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct LogConf {
        log_file: Option<std::path::PathBuf>,
        log_level: Option<String>,
    }
    let Ok(LogConf {
        log_file: Some(path),
        log_level,
    }) = serde_json::from_slice::<LogConf>(stdin)
    else {
        return;
    };
    let Ok(file) = OpenOptions::new().create(true).append(true).open(&path) else {
        return;
    };
    let filter = EnvFilter::try_new(log_level.as_deref().unwrap_or("info"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init();
}
