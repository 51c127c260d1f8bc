//! `@pm` / `@pmFromFile`: case-insensitive phrase match on one Aho-Corasick automaton.
use super::{Captures, OperatorError};
use aho_corasick::AhoCorasick;
use std::path::Path;

#[derive(Debug)]
pub struct Pm {
    ac: Option<AhoCorasick>,
    /// The phrases, lower-cased: one of them occurs (ASCII case ignored) in every value
    /// the operator matches, so the rule prefilter can skip values holding none.
    phrases: Vec<Vec<u8>>,
}

impl Pm {
    pub fn from_phrases(param: &str) -> Result<Pm, String> {
        Self::build(
            param
                .split_whitespace()
                .map(str::as_bytes)
                .map(<[u8]>::to_vec)
                .collect(),
        )
    }

    pub fn from_files(op: &str, param: &str, base_dir: &Path) -> Result<Pm, OperatorError> {
        let mut phrases = Vec::new();
        for file in param.split_whitespace() {
            let path = base_dir.join(file);
            let text = std::fs::read(&path).map_err(|source| OperatorError::File {
                op: op.to_string(),
                path: path.display().to_string(),
                source,
            })?;
            for line in text.split(|&c| c == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let line = line.trim_ascii();
                if line.is_empty() || line[0] == b'#' {
                    continue;
                }
                phrases.push(line.to_vec());
            }
        }
        Self::build(phrases).map_err(|reason| OperatorError::BadParam {
            op: op.to_string(),
            param: param.to_string(),
            reason,
        })
    }

    fn build(phrases: Vec<Vec<u8>>) -> Result<Pm, String> {
        if phrases.is_empty() {
            return Ok(Pm { ac: None, phrases });
        }
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&phrases)
            .map_err(|e| e.to_string())?;
        let phrases = phrases.iter().map(|p| p.to_ascii_lowercase()).collect();
        Ok(Pm {
            ac: Some(ac),
            phrases,
        })
    }

    /// The lower-cased phrases (empty when the operator never matches).
    pub fn phrases(&self) -> &[Vec<u8>] {
        &self.phrases
    }

    pub fn eval(&self, input: &[u8], caps: Option<&mut Captures>) -> bool {
        let Some(ac) = &self.ac else { return false };
        match ac.find(input) {
            None => false,
            Some(m) => {
                if let Some(caps) = caps {
                    caps.clear();
                    caps.push(input[m.start()..m.end()].to_vec());
                }
                true
            }
        }
    }
}
