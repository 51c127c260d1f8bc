//! JSON lines on stdout: one per request (`"type":"access"`) plus lifecycle events.
//! A dedicated thread writes them so a slow stdout never stalls a worker; when its
//! queue is full, lines are dropped and counted (`palisade_access_log_dropped_total`).

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

const QUEUE: usize = 16 * 1024;

/// One request, as logged.
#[derive(Debug, Serialize)]
pub struct AccessRecord<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub time: String,
    pub request_id: &'a str,
    pub client: String,
    pub method: &'a str,
    pub path: &'a str,
    pub protocol: &'a str,
    pub host: &'a str,
    pub status: u16,
    pub decision: &'a str,
    pub rule_ids: &'a [u32],
    /// The logged matches (id, msg, data, var, value) behind `rule_ids`; absent when none.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub matches: &'a [crate::inspect::RuleMatch],
    /// Parts forwarded without (full) inspection: `request_body`, `response_body`.
    pub uninspected: &'a [&'static str],
    pub message: Option<&'a str>,
    pub upstream: Option<String>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration_ms: f64,
    pub upstream_ms: Option<f64>,
    pub error: Option<String>,
}

/// Handle for queueing lines.
#[derive(Clone)]
pub struct AccessLog {
    tx: SyncSender<Msg>,
}

enum Msg {
    Line(Vec<u8>),
    Flush(std::sync::mpsc::Sender<()>),
}

impl AccessLog {
    /// Start the writer thread.
    pub fn start() -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer(rx))?;
        Ok(AccessLog { tx })
    }

    /// Queue a serialisable record; returns false if it had to be dropped.
    pub fn emit<T: Serialize>(&self, record: &T) -> bool {
        let Ok(mut line) = serde_json::to_vec(record) else {
            return false;
        };
        line.push(b'\n');
        match self.tx.try_send(Msg::Line(line)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Wait until everything queued so far is written.
    pub fn flush(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(std::time::Duration::from_secs(5));
        }
    }

    /// Queue a line and wait until there is room (lifecycle events must not be lost).
    pub fn emit_blocking<T: Serialize>(&self, record: &T) {
        if let Ok(mut line) = serde_json::to_vec(record) {
            line.push(b'\n');
            let _ = self.tx.send(Msg::Line(line));
        }
    }
}

fn writer(rx: Receiver<Msg>) {
    // Batch what is queued, then write it under one short stdout lock: never hold the
    // lock while waiting, so other writers (and test harnesses) are not blocked.
    let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
    while let Ok(first) = rx.recv() {
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Line(line) => batch.extend_from_slice(&line),
                Msg::Flush(done) => flushes.push(done),
            }
            next = if batch.len() < 256 * 1024 {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&batch);
        let _ = out.flush();
        drop(out);
        batch.clear();
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// RFC 3339 UTC timestamp with milliseconds.
pub fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn dates_convert_across_leap_years() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_414), (2025, 11, 22));
    }
}
