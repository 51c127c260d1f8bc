//! The plugin runs on the host, started by the container runtime: its stderr goes to the
//! runtime's log, not to any pod. The installer points the plugin's `logFile` at a host file
//! it also mounts, and copies new lines to its own stderr, so `kubectl logs` on the DaemonSet
//! pod shows what the plugin did on that node. The file is truncated once it has been copied
//! and grew past [`MAX_BYTES`], so it never fills the node's disk.

use std::io::{Read as _, Seek as _, SeekFrom, Write};
use std::path::PathBuf;

/// Above this size the copied file is truncated.
pub const MAX_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug)]
pub struct PluginLog {
    path: PathBuf,
    offset: u64,
}

impl PluginLog {
    /// Follows `path` from its current end: lines logged before the installer started were
    /// already copied by its predecessor.
    pub fn follow(path: PathBuf) -> Self {
        let offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Self { path, offset }
    }

    /// Copies complete lines written since the last call to `out`; returns the bytes copied.
    pub fn drain(&mut self, out: &mut impl Write) -> std::io::Result<usize> {
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Truncated by someone else: start over.
            self.offset = 0;
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        // Only whole lines; a line being written stays for the next call.
        let complete = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        out.write_all(&buf[..complete])?;
        self.offset += complete as u64;
        if self.offset >= MAX_BYTES && complete == buf.len() {
            file.set_len(0)?;
            self.offset = 0;
        }
        Ok(complete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_complete_lines_are_copied_once_and_a_big_file_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugin.log");
        std::fs::write(&path, "before\n").unwrap();
        let mut log = PluginLog::follow(path.clone());
        let mut out = Vec::new();
        assert_eq!(
            log.drain(&mut out).unwrap(),
            0,
            "earlier lines are not repeated"
        );
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"one\ntw").unwrap();
        log.drain(&mut out).unwrap();
        assert_eq!(out, b"one\n");
        f.write_all(b"o\n").unwrap();
        log.drain(&mut out).unwrap();
        assert_eq!(out, b"one\ntwo\n");
        let big = vec![b'x'; MAX_BYTES as usize];
        f.write_all(&big).unwrap();
        f.write_all(b"\n").unwrap();
        log.drain(&mut out).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "truncated");
        f.write_all(b"after\n").unwrap();
        let mut out = Vec::new();
        log.drain(&mut out).unwrap();
        assert_eq!(out, b"after\n");
    }
}
