//! Reload triggers: SIGHUP, and changes to the config file or to any rule file.
//!
//! Files are watched through the directories that name them (non-recursive inotify), so an
//! editor's rename-over and a Kubernetes ConfigMap update count: kubelet writes a ConfigMap
//! volume into a new timestamped directory, then atomically renames a `..data` symlink over
//! the old one; each key (`exclusions.conf`) is a symlink through `..data`, so the swap shows
//! as a rename in the mounted directory. A burst of events settles for 100 ms, then the
//! engine reloads only if the bytes of the config file or of a rule file (or the list of
//! rule files a glob matches) really changed. Each reload is built on a blocking thread and
//! swapped in by [`Shared::reload`]; a rejected one keeps the running rules, is counted
//! (`palisade_config_reloads_total{result="failure"}`) and logged with the rule file and line.
//!
//! Watched: the config file's directory; for each `inspection.rules` entry, the directory
//! of a plain path or of a glob in its last component (`/etc/palisade/rules/*.conf`), the
//! fixed part of a glob with wildcards in directories (new subdirectories are not seen:
//! send SIGHUP), and the directory of every file it matched. A rule file that is a symlink
//! to a file elsewhere, edited in place there, is not seen either: send SIGHUP.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::{self, Inspection, ProcessEnv};
use crate::inspect::rules;
use crate::state::{BuildError, Shared};

/// Errors setting up the triggers.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot install the SIGHUP handler: {0}")]
    Signal(std::io::Error),
    #[error("cannot watch {path} for changes: {source}")]
    Watch { path: String, source: notify::Error },
}

/// The file watcher and the directories it watches; shared with the reload task, which
/// re-aims it after each reload (the rule list may have changed).
pub struct Watching {
    inner: Arc<Mutex<Watches>>,
}

struct Watches {
    watcher: notify::RecommendedWatcher,
    dirs: BTreeSet<PathBuf>,
}

// === impl Watching ===

impl Watching {
    /// The directories watched now.
    pub fn dirs(&self) -> Vec<PathBuf> {
        match self.inner.lock() {
            Ok(w) => w.dirs.iter().cloned().collect(),
            Err(_) => Vec::new(),
        }
    }
}

// === impl Watches ===

impl Watches {
    /// Watch exactly `want`: add the new directories, drop the ones no longer needed.
    /// Missing directories are skipped (a glob that matches nothing fails the reload anyway).
    fn aim(&mut self, want: BTreeSet<PathBuf>) -> Result<(), ReloadError> {
        for gone in self.dirs.difference(&want) {
            let _ = self.watcher.unwatch(gone);
        }
        let mut now = BTreeSet::new();
        for dir in want {
            if self.dirs.contains(&dir) {
                now.insert(dir);
                continue;
            }
            if !dir.is_dir() {
                continue;
            }
            match self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    now.insert(dir);
                }
                Err(source) => {
                    self.dirs = now;
                    return Err(ReloadError::Watch {
                        path: dir.display().to_string(),
                        source,
                    });
                }
            }
        }
        self.dirs = now;
        Ok(())
    }
}

/// What a reload reads: the config file and every rule file, by name, with their bytes
/// (`None`: unreadable). Equal fingerprints mean a reload would change nothing.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint(Vec<(PathBuf, Option<Vec<u8>>)>);

/// The inputs of a reload now: the files to fingerprint and the directories to watch.
fn inputs(
    config_path: Option<&Path>,
    inspection: &Inspection,
) -> (Vec<PathBuf>, BTreeSet<PathBuf>) {
    let mut files = Vec::new();
    let mut dirs = BTreeSet::new();
    if let Some(p) = config_path {
        files.push(p.to_path_buf());
        dirs.insert(parent(p));
    }
    for pattern in &inspection.rules {
        dirs.insert(fixed_dir(Path::new(pattern)));
        // A bad pattern is the reload's error to report; here it just matches nothing.
        for f in rules::matching_files(pattern).unwrap_or_default() {
            dirs.insert(parent(&f));
            files.push(f);
        }
    }
    (files, dirs)
}

fn fingerprint(files: &[PathBuf]) -> Fingerprint {
    Fingerprint(
        files
            .iter()
            .map(|f| (f.clone(), std::fs::read(f).ok()))
            .collect(),
    )
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The directory of a path or glob up to its first component with a wildcard.
fn fixed_dir(pattern: &Path) -> PathBuf {
    let wild = |c: &Component<'_>| c.as_os_str().to_string_lossy().contains(['*', '?', '[']);
    let components: Vec<Component<'_>> = pattern.components().collect();
    match components.iter().position(wild) {
        // A glob in a directory: the fixed prefix.
        Some(i) if i + 1 < components.len() => {
            let fixed: PathBuf = components[..i].iter().collect();
            if fixed.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                fixed
            }
        }
        // A plain file, or a glob in the file name only.
        _ => parent(pattern),
    }
}

/// The rule list the engine would load now: the config as it is on disk, or the running
/// one when that does not parse (the reload will report why).
fn current_inspection(shared: &Shared) -> Inspection {
    match config::load(
        shared.config_path.as_deref(),
        &ProcessEnv,
        &shared.overrides,
    ) {
        Ok(c) => c.inspection,
        Err(_) => shared.snapshot().config.inspection.clone(),
    }
}

/// Fingerprint the inputs as they are now and aim the watcher at their directories.
fn survey(shared: &Shared, watches: &Mutex<Watches>) -> Result<Fingerprint, ReloadError> {
    let (files, dirs) = inputs(shared.config_path.as_deref(), &current_inspection(shared));
    if let Ok(mut w) = watches.lock() {
        w.aim(dirs)?;
    }
    Ok(fingerprint(&files))
}

/// Start the reload task.
pub fn spawn(shared: Arc<Shared>) -> Result<Watching, ReloadError> {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(ReloadError::Signal)?;
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // Opening and reading (ours included, at each reload) is not a change.
        if let Ok(ev) = res
            && !matches!(ev.kind, EventKind::Access(_))
        {
            let _ = tx.send(());
        }
    })
    .map_err(|source| ReloadError::Watch {
        path: "(inotify)".to_owned(),
        source,
    })?;
    let watches = Arc::new(Mutex::new(Watches {
        watcher,
        dirs: BTreeSet::new(),
    }));
    let mut last = survey(&shared, &watches)?;
    let task_watches = watches.clone();
    tokio::spawn(async move {
        let watches = task_watches;
        loop {
            let from_signal = tokio::select! {
                s = hup.recv() => match s { Some(()) => true, None => return },
                f = rx.recv() => match f { Some(()) => false, None => return },
            };
            if !from_signal {
                // Let a burst of file events settle.
                tokio::time::sleep(Duration::from_millis(100)).await;
                while rx.try_recv().is_ok() {}
            }
            let (s, w) = (shared.clone(), watches.clone());
            let Ok(Ok(now)) = tokio::task::spawn_blocking(move || survey(&s, &w)).await else {
                tracing::warn!(
                    "cannot watch the config and rule files for changes; SIGHUP still reloads"
                );
                continue;
            };
            // Fingerprinted before the reload reads: a change after this is a new event.
            if !from_signal && now == last {
                continue;
            }
            last = now;
            tracing::info!(
                trigger = if from_signal { "SIGHUP" } else { "file" },
                "reloading configuration"
            );
            let (s, w) = (shared.clone(), watches.clone());
            let outcome = tokio::task::spawn_blocking(move || {
                let result = s.reload(&ProcessEnv);
                // The rule list may have changed: watch its directories from now on.
                if let Err(e) = survey(&s, &w) {
                    tracing::warn!(error = %e, "cannot watch every rule directory; SIGHUP still reloads");
                }
                result
            })
            .await;
            if let Ok(Err(BuildError::Rules(e))) = &outcome
                && let Some((file, line)) = e.location()
            {
                tracing::error!(
                    file,
                    line,
                    "rule file rejected at {file}:{line}; still enforcing the previous rules"
                );
            }
        }
    });
    Ok(Watching { inner: watches })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_directory_is_the_fixed_part_of_each_rule_path() {
        for (pattern, dir) in [
            ("/etc/palisade/rules/*.conf", "/etc/palisade/rules"),
            ("/etc/palisade/rules/a.conf", "/etc/palisade/rules"),
            ("/crs/*/rules/*.conf", "/crs"),
            ("rules.conf", "."),
            ("*/x.conf", "."),
        ] {
            assert_eq!(fixed_dir(Path::new(pattern)), Path::new(dir), "{pattern}");
        }
    }

    #[test]
    fn fingerprint_changes_with_bytes_and_with_the_files_a_glob_matches() {
        let d = tempfile::tempdir().unwrap();
        let pattern = format!("{}/*.conf", d.path().display());
        let inspection = Inspection {
            rules: vec![pattern],
            ..Inspection::default()
        };
        std::fs::write(d.path().join("a.conf"), "SecRule A").unwrap();
        let take = || {
            let (files, dirs) = inputs(None, &inspection);
            assert_eq!(dirs, BTreeSet::from([d.path().to_path_buf()]));
            fingerprint(&files)
        };
        let first = take();
        assert_eq!(take(), first, "nothing changed");
        std::fs::write(d.path().join("a.conf"), "SecRule B").unwrap();
        let second = take();
        assert_ne!(second, first, "bytes changed");
        std::fs::write(d.path().join("b.conf"), "").unwrap();
        assert_ne!(take(), second, "a new file matched");
    }
}
