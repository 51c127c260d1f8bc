//! docs/annotations.md and this crate agree: the table lists exactly [`ANNOTATIONS`], with
//! the same allowed values and defaults, and every example value parses.

use std::collections::BTreeMap;

use palisade_api::{ANNOTATIONS, EnginePorts, PodAnnotations};

struct Row {
    key: String,
    allowed: String,
    default: String,
    example: String,
}

fn table_rows() -> Vec<Row> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/annotations.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let section = text
        .split("\n## Annotations\n")
        .nth(1)
        .expect("docs/annotations.md has an '## Annotations' section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let plain = |cell: &str| cell.trim().replace('`', "");
    section
        .lines()
        .filter(|l| l.starts_with("| `palisade.dev/"))
        .map(|l| {
            // | `key` | allowed | default | `example` |
            let cells: Vec<&str> = l.split('|').collect();
            assert_eq!(cells.len(), 6, "row with four cells: {l}");
            Row {
                key: plain(cells[1]),
                allowed: plain(cells[2]),
                default: plain(cells[3]),
                example: plain(cells[4]),
            }
        })
        .collect()
}

#[test]
fn annotation_table_matches_the_contract_row_for_row() {
    let rows = table_rows();
    let documented: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.key.as_str(), r.allowed.as_str(), r.default.as_str()))
        .collect();
    let known: Vec<(&str, &str, &str)> = ANNOTATIONS
        .iter()
        .map(|a| (a.key, a.allowed, a.default))
        .collect();
    assert_eq!(documented, known);
}

#[test]
fn every_documented_example_value_is_accepted() {
    for row in table_rows() {
        let annotations = BTreeMap::from([(row.key.clone(), row.example.clone())]);
        let parsed =
            PodAnnotations::parse(&annotations, EnginePorts::default()).unwrap_or_else(|e| {
                panic!(
                    "documented example {}={:?} rejected: {e}",
                    row.key, row.example
                )
            });
        assert!(
            parsed.unknown.is_empty(),
            "{} unknown to the parser",
            row.key
        );
        assert_ne!(
            parsed,
            PodAnnotations::default(),
            "{}={:?} changed nothing",
            row.key,
            row.example
        );
    }
}
