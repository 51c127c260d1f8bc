//! Both supported Core Rule Set releases load with zero errors.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use palisade_inspect::{LoadOptions, RuleSet};

#[test]
fn crs_v4_loads_without_errors() {
    let Some(crs) = common::crs4() else { return };
    let rs = RuleSet::load(&LoadOptions {
        files: vec![crs.join("crs-setup.conf.example"), crs.join("rules/*.conf")],
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("CRS v4 failed to load: {e}"));
    assert!(
        rs.rule_count() > 500,
        "only {} rules loaded",
        rs.rule_count()
    );
    let ids: Vec<u32> = rs.rule_ids().collect();
    for id in [901100, 920100, 942100, 949110, 959100, 980170] {
        assert!(ids.contains(&id), "rule {id} missing");
    }
    eprintln!(
        "CRS v4: {} rules, {} @rx on the PCRE2 fallback",
        rs.rule_count(),
        rs.pcre_fallback_count()
    );
}

#[test]
fn crs_v3_from_debian_loads_without_errors() {
    let Some((setup, rules)) = common::crs3_debian() else {
        return;
    };
    let rs = RuleSet::load(&LoadOptions {
        files: vec![setup, rules.join("*.conf")],
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("Debian CRS 3.3 failed to load: {e}"));
    assert!(
        rs.rule_count() > 400,
        "only {} rules loaded",
        rs.rule_count()
    );
    eprintln!(
        "CRS 3.3: {} rules, {} @rx on the PCRE2 fallback",
        rs.rule_count(),
        rs.pcre_fallback_count()
    );
}

#[test]
fn unknown_directive_is_an_error_naming_file_and_line() {
    let err = RuleSet::load(&LoadOptions {
        extra_rules: "SecRuleEngine On\n\nSecBogus x\n".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "<inline>:3: unknown directive \"SecBogus\""
    );
}

#[test]
fn unknown_action_is_an_error_naming_file_and_line() {
    let err = RuleSet::load(&LoadOptions {
        extra_rules: "SecRule ARGS \"@rx a\" \\\n  \"id:1,phase:2,\\\n   bogus:1\"\n".into(),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("<inline>:1: unknown action \"bogus\""),
        "{err}"
    );
}

#[test]
fn include_expands_globs_in_order() {
    let dir = std::env::temp_dir().join(format!("palisade-inspect-include-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("conf")).unwrap();
    std::fs::write(
        dir.join("conf/b.conf"),
        "SecAction \"id:2,phase:1,pass,nolog\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("conf/a.conf"),
        "SecAction \"id:1,phase:1,pass,nolog\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("main.conf"), "Include conf/*.conf\n").unwrap();
    let rs = RuleSet::load(&LoadOptions {
        files: vec![dir.join("main.conf")],
        ..Default::default()
    });
    std::fs::remove_dir_all(&dir).unwrap();
    let ids: Vec<u32> = rs.unwrap().rule_ids().collect();
    assert_eq!(ids, vec![1, 2]);
}

#[test]
fn recursive_and_special_file_includes_are_refused() {
    let err = RuleSet::load(&LoadOptions {
        extra_rules: "Include /**/*.conf\n".into(),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("`**` is not supported"), "{err}");
    let err = RuleSet::load(&LoadOptions {
        extra_rules: "Include /dev/zero\n".into(),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("not a regular file"), "{err}");
}
