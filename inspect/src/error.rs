//! Load-time errors: every one names the file and line and what is wrong.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{file}:{line}: {message}")]
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}: include pattern {pattern:?} matched no file")]
    EmptyInclude {
        file: String,
        line: usize,
        pattern: String,
    },
}

impl LoadError {
    pub(crate) fn at(file: &str, line: usize, message: impl Into<String>) -> Self {
        LoadError::Syntax {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}
