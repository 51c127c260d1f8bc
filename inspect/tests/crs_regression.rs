//! The CRS v4.28.0 regression suite (go-ftw YAML) replayed in process: each stage's
//! request is built the way go-ftw builds it, evaluated by a rule set loaded the way
//! the suite's README configures it (DetectionOnly, paranoia level 4), and scored on
//! `expect_ids` / `no_expect_ids` / `match_regex` / `no_match_regex`. Responses come
//! from an in-process stand-in for the suite's `/reflect` backend.
mod common;
mod ftw;

use palisade_inspect::{LoadOptions, RuleSet};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn load_crs(crs: &Path, setup: &Path) -> Arc<RuleSet> {
    let rs = RuleSet::load(&LoadOptions {
        prelude: palisade_inspect::RECOMMENDED_BASE_RULES.to_string(),
        files: vec![
            crs.join("crs-setup.conf.example"),
            setup.to_path_buf(),
            crs.join("rules/*.conf"),
        ],
        ..Default::default()
    });
    Arc::new(rs.unwrap_or_else(|e| panic!("CRS failed to load: {e}")))
}

#[test]
fn crs_v4_regression_suite_pass_rate_stays_above_floor() {
    let Some(crs) = common::crs4() else { return };
    let data = common::repo_root().join("inspect/tests/data");
    let rs = load_crs(&crs, &data.join("crs-v4-regression-setup.conf"));
    let overrides = ftw::load_overrides(&data.join("crs-v4-overrides.yaml"));
    let output_overrides = ftw::load_output_overrides(&data.join("crs-v4-overrides.yaml"));
    let mut overridden = Vec::new();
    let floor: f64 = std::fs::read_to_string(data.join("crs-v4-floor.txt"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    // FTW_ONLY=942420-3,920171-1 replays just those cases and prints their logs.
    let only: Vec<String> = std::env::var("FTW_ONLY")
        .map(|v| v.split(',').map(String::from).collect())
        .unwrap_or_default();
    let mut per_file: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut excluded = Vec::new();
    let (mut pass, mut fail) = (0usize, 0usize);
    for file in ftw::test_files(&crs.join("tests/regression/tests")) {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let group = file
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for mut case in ftw::parse_file(&file) {
            let id = format!("{stem}-{}", case.test_id);
            if let Some((reason, output)) = output_overrides.get(&(case.rule_id, case.test_id)) {
                case.override_output(output);
                overridden.push(format!("{id}: {reason}"));
            }
            if !only.is_empty() {
                if only.contains(&id) {
                    eprintln!("{id}: {:?}\n{}", case.run(&rs), case.debug_log(&rs));
                }
                continue;
            }
            if let Some(reason) = overrides.get(&(case.rule_id, case.test_id)) {
                excluded.push(format!("{id}: {reason}"));
                continue;
            }
            if let Some(reason) = case.unscorable() {
                excluded.push(format!("{id}: {reason}"));
                continue;
            }
            let entry = per_file.entry(group.clone()).or_default();
            match case.run(&rs) {
                Ok(()) => {
                    pass += 1;
                    entry.0 += 1;
                }
                Err(why) => {
                    fail += 1;
                    entry.1 += 1;
                    failures.push(format!("{id}: {why}"));
                }
            }
        }
    }
    for f in &failures {
        eprintln!("FAILED {f}");
    }
    for e in &excluded {
        eprintln!("EXCLUDED {e}");
    }
    for o in &overridden {
        eprintln!("OVERRIDDEN {o}");
    }
    for (file, (p, f)) in &per_file {
        eprintln!("{file}: {p} passed, {f} failed");
    }
    if !only.is_empty() {
        return;
    }
    let rate = 100.0 * pass as f64 / (pass + fail).max(1) as f64;
    eprintln!("excluded: {}", excluded.len());
    eprintln!("pass rate: {rate:.2}% (floor {floor}%)");
    eprintln!("crs-v4: {pass} passed, {fail} failed");
    assert!(
        pass + fail > 4000,
        "only {} cases scored: the suite did not load",
        pass + fail
    );
    assert!(
        rate >= floor,
        "pass rate {rate:.2}% fell below the floor {floor}% in tests/data/crs-v4-floor.txt"
    );
}
