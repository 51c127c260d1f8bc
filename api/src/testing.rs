//! Test helpers shared by every crate's tests (feature `testing`, a dev-dependency only).
//!
//! - [`require`]: the one skip-or-fail rule. A test whose prerequisite (root, a tool, a kernel
//!   feature, `../shared`) is missing fails under `CI=true` and is skipped, loudly, elsewhere.
//! - [`golden`]: compares output with a checked-in file; `UPDATE_GOLDEN=1` rewrites it.

use std::path::Path;

/// The variable that makes missing prerequisites failures.
pub const CI_ENV: &str = "CI";
/// The variable that rewrites golden files instead of comparing.
pub const UPDATE_GOLDEN_ENV: &str = "UPDATE_GOLDEN";

/// True when `CI` is `true` or `1`: the one meaning of CI for every test.
pub fn ci() -> bool {
    matches!(std::env::var(CI_ENV).as_deref(), Ok("true" | "1"))
}

/// Returns `true` when `ok`; otherwise panics under CI and returns `false` (skip) elsewhere,
/// saying why on stderr.
pub fn require(ok: bool, why: &str) -> bool {
    if ok {
        return true;
    }
    assert!(
        !ci(),
        "{why}; {CI_ENV}=true, so this test fails instead of skipping"
    );
    eprintln!("SKIPPED: {why} (set {CI_ENV}=true to make this a failure)");
    false
}

/// Asserts that `actual` equals the file at `path`; with `UPDATE_GOLDEN` set, writes it first.
pub fn golden(path: &Path, actual: &str) {
    if std::env::var_os(UPDATE_GOLDEN_ENV).is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        }
        std::fs::write(path, actual).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with {UPDATE_GOLDEN_ENV}=1 to create it",
            path.display()
        )
    });
    assert!(
        actual == expected,
        "{} differs from the output (run with {UPDATE_GOLDEN_ENV}=1 after an intended change)\n\
         --- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}
