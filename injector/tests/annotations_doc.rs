//! docs/annotations.md and the parser agree: every annotation the parser knows is in the
//! table, every table row is one the parser knows, and every example value parses.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use palisade_injector::annotations::{ANNOTATIONS, parse};

fn table_rows() -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/annotations.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let section = text
        .split("\n## Annotations\n")
        .nth(1)
        .expect("docs/annotations.md has an '## Annotations' section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.starts_with("| `palisade.dev/"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            // | `name` | allowed | default | `example` |
            let name = cells[1].trim_matches('`').to_owned();
            let example = cells[4].trim_matches('`').to_owned();
            (name, example)
        })
        .collect()
}

#[test]
fn annotation_table_lists_exactly_the_parsed_annotations() {
    let documented: BTreeSet<String> = table_rows().into_iter().map(|(n, _)| n).collect();
    let known: BTreeSet<String> = ANNOTATIONS
        .iter()
        .map(|a| format!("palisade.dev/{}", a.name))
        .collect();
    assert_eq!(documented, known);
}

#[test]
fn every_documented_example_value_is_accepted() {
    let cfg = common::config_with(|_| {});
    for (name, example) in table_rows() {
        let annotations = BTreeMap::from([(name.clone(), example.clone())]);
        let settings = parse(&annotations, &cfg.engine, cfg.redirect.mode)
            .unwrap_or_else(|e| panic!("documented example {name}={example:?} rejected: {e}"));
        assert!(settings.unknown.is_empty(), "{name} unknown to the parser");
    }
}
