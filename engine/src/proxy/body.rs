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
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};

/// A body being collected, in memory or spilled to a temporary file.
#[derive(Debug)]
pub struct Spool {
    chunks: Vec<Bytes>,
    file: Option<File>,
    len: usize,
    in_memory_limit: usize,
    budget: Arc<SpoolBudget>,
    /// Bytes of `budget` this spool holds (its file's size).
    reserved: u64,
}

/// Bytes in spill files across all requests (`limits.max_spooled_bytes`), so uploads
/// cannot fill `tmp_dir` (an emptyDir over its size limit gets the pod evicted).
#[derive(Debug, Default)]
pub struct SpoolBudget {
    used: AtomicU64,
}

impl SpoolBudget {
    fn reserve(&self, n: u64, max: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                (u + n <= max).then_some(u + n)
            })
            .is_ok()
    }

    /// Bytes spilled now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.reserved, Ordering::AcqRel);
    }
}

/// Errors keeping a body.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("cannot spool the request body to tmp_dir {dir}: {source}")]
    Io { dir: String, source: std::io::Error },
    #[error("request bodies in tmp_dir would pass limits.max_spooled_bytes ({max})")]
    Full { max: u64 },
}

impl Spool {
    pub fn new(in_memory_limit: usize, budget: Arc<SpoolBudget>) -> Self {
        Spool {
            chunks: Vec::new(),
            file: None,
            len: 0,
            in_memory_limit,
            budget,
            reserved: 0,
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

    /// Keep `chunk`; spills everything to a file in `tmp_dir` once the memory limit is
    /// passed, within `max_spooled` bytes of spill files across all requests.
    pub fn push(
        &mut self,
        chunk: Bytes,
        tmp_dir: &str,
        max_spooled: u64,
    ) -> Result<(), SpoolError> {
        self.len += chunk.len();
        if self.len > self.in_memory_limit {
            let n = self.len as u64 - self.reserved;
            if !self.budget.reserve(n, max_spooled) {
                return Err(SpoolError::Full { max: max_spooled });
            }
            self.reserved += n;
        }
        let err = |source| SpoolError::Io {
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
    pub fn into_bytes(mut self, tmp_dir: &str) -> Result<Bytes, SpoolError> {
        let err = |source| SpoolError::Io {
            dir: tmp_dir.to_string(),
            source,
        };
        if let Some(mut f) = self.file.take() {
            f.seek(SeekFrom::Start(0)).map_err(err)?;
            let mut buf = Vec::with_capacity(self.len);
            f.read_to_end(&mut buf).map_err(err)?;
            return Ok(Bytes::from(buf));
        }
        let mut chunks = std::mem::take(&mut self.chunks);
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
    use super::{Spool, SpoolBudget, SpoolError};
    use bytes::Bytes;
    use std::sync::Arc;

    #[test]
    fn body_spills_past_memory_limit_and_reads_back_identical() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().to_str().unwrap();
        let budget = Arc::new(SpoolBudget::default());
        let mut s = Spool::new(10, budget.clone());
        s.push(Bytes::from_static(b"hello "), tmp, 100).unwrap();
        assert!(!s.spilled());
        s.push(Bytes::from_static(b"world, "), tmp, 100).unwrap();
        assert!(s.spilled());
        s.push(Bytes::from_static(b"again"), tmp, 100).unwrap();
        assert_eq!(s.len(), 18);
        assert_eq!(budget.used(), 18);
        assert_eq!(&s.into_bytes(tmp).unwrap()[..], b"hello world, again");
        assert_eq!(budget.used(), 0, "released with the body");

        let mut s = Spool::new(100, budget.clone());
        s.push(Bytes::from_static(b"a"), tmp, 100).unwrap();
        s.push(Bytes::from_static(b"b"), tmp, 100).unwrap();
        assert_eq!(&s.into_bytes(tmp).unwrap()[..], b"ab");
    }

    #[test]
    fn unwritable_tmp_dir_is_an_error_naming_it() {
        let mut s = Spool::new(0, Arc::default());
        let e = s
            .push(Bytes::from_static(b"x"), "/nonexistent/palisade-tmp", 100)
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/palisade-tmp"), "{e}");
    }

    #[test]
    fn spill_files_together_stay_within_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().to_str().unwrap();
        let budget = Arc::new(SpoolBudget::default());
        let mut a = Spool::new(0, budget.clone());
        let mut b = Spool::new(0, budget.clone());
        a.push(Bytes::from(vec![1u8; 60]), tmp, 100).unwrap();
        let e = b.push(Bytes::from(vec![2u8; 60]), tmp, 100).unwrap_err();
        assert!(matches!(e, SpoolError::Full { max: 100 }), "{e}");
        drop(a);
        drop(b);
        assert_eq!(budget.used(), 0);
    }
}
