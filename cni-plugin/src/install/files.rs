//! File writes the container runtime may read at any moment: always to a temporary file in
//! the same directory, then renamed over the target, so a reader sees old or new, never half.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct FileError {
    pub action: &'static str,
    pub path: PathBuf,
    pub source: std::io::Error,
}

fn err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FileError + 'a {
    move |source| FileError {
        action,
        path: path.to_owned(),
        source,
    }
}

pub fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A leading dot keeps the runtime from picking the temporary file up as a config.
    let tmp = dir.join(format!(".{name}.palisade-tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(err("create", &tmp))?;
    f.write_all(bytes).map_err(err("write", &tmp))?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(err("chmod", &tmp))?;
    f.sync_all().map_err(err("sync", &tmp))?;
    std::fs::rename(&tmp, path).map_err(err("rename into", path))
}

/// Copies the plugin binary unless the node already has identical bytes.
pub fn install_binary(src: &Path, dst: &Path) -> Result<bool, FileError> {
    let bytes = std::fs::read(src).map_err(err("read", src))?;
    if std::fs::read(dst).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    atomic_write(dst, &bytes, 0o755)?;
    Ok(true)
}

pub fn remove_if_exists(path: &Path) -> Result<(), FileError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(err("remove", path)(e)),
        _ => Ok(()),
    }
}
