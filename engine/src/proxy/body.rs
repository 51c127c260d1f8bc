//! Bodies held back for inspection.
//!
//! pingora sends the request head to the app as soon as the body starts, then passes
//! every body chunk through `request_body_filter`. To inspect a whole body before the
//! app sees any of it, the filter keeps each chunk here instead of passing it on, and
//! at the end of the body hands pingora the whole body as one chunk. (pingora's own
//! retry buffer, which the engine used before, stops at 64 KiB: a body read in full in
//! `request_filter` cannot be replayed past that.)
//!
//! A [`Spool`] keeps up to `inspection.request_body_in_memory_limit` bytes in memory
//! and moves the body to an unlinked temporary file in `tmp_dir` beyond that, so a
//! slow upload holds at most that much memory while it arrives. The file is read back
//! once, when the body is complete, for inspection and the replay; that copy lives only
//! until the app has been sent the body.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use bytes::{Bytes, BytesMut};

/// A body being collected, in memory or spilled to a temporary file.
#[derive(Debug)]
pub struct Spool {
    chunks: Vec<Bytes>,
    file: Option<File>,
    len: usize,
    in_memory_limit: usize,
}

/// Errors keeping a body.
#[derive(Debug, thiserror::Error)]
#[error("cannot spool the request body to tmp_dir {dir}: {source}")]
pub struct SpoolError {
    pub dir: String,
    pub source: std::io::Error,
}

impl Spool {
    pub fn new(in_memory_limit: usize) -> Self {
        Spool {
            chunks: Vec::new(),
            file: None,
            len: 0,
            in_memory_limit,
        }
    }

    /// Bytes held so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the body has moved to a temporary file.
    pub fn spilled(&self) -> bool {
        self.file.is_some()
    }

    /// Keep `chunk`; spills everything to a file in `tmp_dir` once the memory limit is passed.
    pub fn push(&mut self, chunk: Bytes, tmp_dir: &str) -> Result<(), SpoolError> {
        self.len += chunk.len();
        let err = |source| SpoolError {
            dir: tmp_dir.to_string(),
            source,
        };
        if let Some(f) = self.file.as_mut() {
            return f.write_all(&chunk).map_err(err);
        }
        self.chunks.push(chunk);
        if self.len > self.in_memory_limit {
            // Written synchronously: the data goes to the page cache, as nginx's
            // client_body_temp files do without aio.
            let mut f = tempfile::tempfile_in(Path::new(tmp_dir)).map_err(err)?;
            for c in self.chunks.drain(..) {
                f.write_all(&c).map_err(err)?;
            }
            self.file = Some(f);
        }
        Ok(())
    }

    /// The whole body as one buffer (read back from the file if it spilled).
    pub fn into_bytes(self, tmp_dir: &str) -> Result<Bytes, SpoolError> {
        let err = |source| SpoolError {
            dir: tmp_dir.to_string(),
            source,
        };
        if let Some(mut f) = self.file {
            f.seek(SeekFrom::Start(0)).map_err(err)?;
            let mut buf = Vec::with_capacity(self.len);
            f.read_to_end(&mut buf).map_err(err)?;
            return Ok(Bytes::from(buf));
        }
        let mut chunks = self.chunks;
        if chunks.len() == 1 {
            return Ok(chunks.pop().unwrap_or_default());
        }
        let mut buf = BytesMut::with_capacity(self.len);
        for c in &chunks {
            buf.extend_from_slice(c);
        }
        Ok(buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::Spool;
    use bytes::Bytes;

    #[test]
    fn body_spills_past_memory_limit_and_reads_back_identical() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().to_str().unwrap();
        let mut s = Spool::new(10);
        s.push(Bytes::from_static(b"hello "), tmp).unwrap();
        assert!(!s.spilled());
        s.push(Bytes::from_static(b"world, "), tmp).unwrap();
        assert!(s.spilled());
        s.push(Bytes::from_static(b"again"), tmp).unwrap();
        assert_eq!(s.len(), 18);
        assert_eq!(&s.into_bytes(tmp).unwrap()[..], b"hello world, again");

        let mut s = Spool::new(100);
        s.push(Bytes::from_static(b"a"), tmp).unwrap();
        s.push(Bytes::from_static(b"b"), tmp).unwrap();
        assert_eq!(&s.into_bytes(tmp).unwrap()[..], b"ab");
    }

    #[test]
    fn unwritable_tmp_dir_is_an_error_naming_it() {
        let mut s = Spool::new(0);
        let e = s
            .push(Bytes::from_static(b"x"), "/nonexistent/palisade-tmp")
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/palisade-tmp"), "{e}");
    }
}
