use std::process::Command;

use crate::support::{BIN, Engine, app, client};

fn check(yaml: &str, env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(BIN)
        .arg("--check-config")
        .arg(&path)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout),
    )
}

#[test]
fn check_config_accepts_a_valid_file() {
    let (code, out) = check(
        "upstream: 127.0.0.1:8080\ninspection:\n  mode: monitor\n  allow_no_rules: true\n",
        &[],
    );
    assert_eq!(code, 0, "{out}");
}

#[test]
fn check_config_names_field_value_and_allowed_values() {
    let (code, out) = check("inspection:\n  mode: blok\n", &[]);
    assert_eq!(code, 64);
    assert!(out.contains("inspection.mode"), "{out}");
    assert!(out.contains("blok"), "{out}");
    assert!(
        out.contains("block") && out.contains("monitor") && out.contains("off"),
        "{out}"
    );

    let (code, out) = check("inspection:\n  paranoia_level: 7\n", &[]);
    assert_eq!(code, 64);
    assert!(
        out.contains("inspection.paranoia_level")
            && out.contains('7')
            && out.contains("1, 2, 3 or 4"),
        "{out}"
    );

    let (code, out) = check("limits:\n  max_uri_bytez: 5\n", &[]);
    assert_eq!(code, 64);
    assert!(out.contains("max_uri_bytez"), "{out}");
}

#[test]
fn environment_variable_is_validated_like_the_file() {
    let (code, out) = check("", &[("PALISADE_NON_HTTP", "drop")]);
    assert_eq!(code, 64);
    assert!(
        out.contains("non_http") && out.contains("drop") && out.contains("passthrough"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn environment_overrides_file_and_flags_override_both() {
    let app = app::http().await;
    let engine = Engine::start_args(
        &["--upstream", &app.addr.to_string()],
        "upstream: 127.0.0.1:1\nlimits:\n  max_uri_bytes: 5000\n",
        &[
            ("PALISADE_LIMITS_MAX_URI_BYTES", "50"),
            ("PALISADE_UPSTREAM", "127.0.0.1:2"),
        ],
    );
    // The flag's upstream wins over env and file.
    assert_eq!(client::get(engine.addr, "/").await.status(), 200);
    // The env limit wins over the file.
    let long = format!("/{}", "u".repeat(60));
    assert_eq!(client::get(engine.addr, &long).await.status(), 414);
}

/// Issue #9, class 7: none of these may start an engine in block mode with no rules.
#[test]
fn settings_that_would_disarm_the_engine_are_refused() {
    let (code, out) = check("", &[("PALISADE_INSPECTON_MODE", "block")]);
    assert_eq!(code, 64, "{out}");
    assert!(
        out.contains("PALISADE_INSPECTON_MODE") && out.contains("PALISADE_INSPECTION_MODE"),
        "{out}"
    );
    let (code, out) = check("", &[("PALISADE_INSPECTION_CRS_DIR", "/etc/crs")]);
    assert_eq!(code, 64, "{out}");
    assert!(out.contains("PALISADE_INSPECTION_CRS_DIR"), "{out}");
    let (code, out) = check("", &[("PALISADE_INSPECTION_RULES", "")]);
    assert_eq!(code, 64, "{out}");
    assert!(out.contains("inspection.rules"), "{out}");
    let (code, out) = check("inspection:\n  mode: monitor\n", &[]);
    assert_eq!(code, 64, "{out}");
    // A rule file with no rule in it is no better than none.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.conf");
    std::fs::write(&empty, "# nothing here\n").unwrap();
    let (code, out) = check(
        &format!("inspection:\n  rules: [{}]\n", empty.display()),
        &[],
    );
    assert_eq!(code, 64, "{out}");
    let (code, out) = check("inspection:\n  mode: off\n", &[]);
    assert_eq!(code, 0, "{out}");
}

/// The running engine (not only --check-config) exits 64 on an unknown variable.
#[test]
fn engine_exits_64_on_a_misspelt_variable() {
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .args(["--upstream", "127.0.0.1:9"])
        .env("PALISADE_INSPECTION_ALLOW_NO_RULES", "true")
        .env("PALISADE_LIMITS_MAX_URI_BYTE", "10")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("did you mean PALISADE_LIMITS_MAX_URI_BYTES?"),
        "{err}"
    );
}
