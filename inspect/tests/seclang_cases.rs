//! Every operator and transformation case in ../shared/seclang-tests, table-driven.
//! Known failures are listed below with a reason; the test also checks they still
//! fail, so a fix must remove its entry.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use palisade_inspect::{apply_transform_by_name, eval_operator_for_test};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Deserialize)]
struct Case {
    name: String,
    #[serde(default)]
    input: String,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    param: Option<String>,
    ret: i64,
    #[serde(default)]
    re_groups: Option<Vec<String>>,
}

/// (file stem, case index) -> why it fails.
const KNOWN_FAILURES: &[(&str, usize, &str)] = &[(
    "ipMatch",
    16,
    "`10.0.0.0/100` is rejected at load with an error naming the entry; the case expects a silent no-match",
)];

/// Files whose operator is not implemented: every case in them is expected to fail.
const UNSUPPORTED_OPERATORS: &[(&str, &str)] = &[
    (
        "nids",
        "@validateNid is a Coraza extension, not a ModSecurity operator; CRS does not use it",
    ),
    (
        "validateSchema",
        "needs testdata/schema.json, which seclang-tests does not ship; CRS does not use @validateSchema",
    ),
];

/// The test files write raw bytes as `\xHH`, `\u00HH` and a lone `\0` (NUL when no
/// octal digit follows, so `\012` stays an escape for the decoders under test).
fn bytes(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let hex =
        |i: usize, n: usize| b.len() >= i + n && b[i..i + n].iter().all(u8::is_ascii_hexdigit);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && hex(i + 2, 2) {
            out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
            i += 4;
        } else if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'u')
            && hex(i + 2, 4)
            && &s[i + 2..i + 4] == "00"
        {
            out.push(u8::from_str_radix(&s[i + 4..i + 6], 16).unwrap());
            i += 6;
        } else if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'0')
            && !b.get(i + 2).is_some_and(|c| (b'0'..=b'7').contains(c))
        {
            out.push(0);
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn load(dir: &Path) -> BTreeMap<String, Vec<Case>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&p).unwrap();
            let cases: Vec<Case> =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.insert(p.file_stem().unwrap().to_string_lossy().into_owned(), cases);
        }
    }
    out
}

fn check(kind: &str, results: Vec<(String, usize, Result<(), String>)>) {
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    let (mut pass, mut known) = (0, 0);
    for (file, idx, res) in &results {
        let listed = KNOWN_FAILURES.iter().any(|(f, i, _)| f == file && i == idx)
            || UNSUPPORTED_OPERATORS.iter().any(|(f, _)| f == file);
        match (res, listed) {
            (Ok(()), false) => pass += 1,
            (Ok(()), true) => fixed.push(format!("{file}#{idx}")),
            (Err(_), true) => known += 1,
            (Err(e), false) => unexpected.push(format!("{file}#{idx}: {e}")),
        }
    }
    eprintln!(
        "{kind}: {} cases, {pass} pass, {known} known failures",
        results.len()
    );
    for u in &unexpected {
        eprintln!("FAIL {u}");
    }
    assert!(
        unexpected.is_empty(),
        "{} unexpected failures (listed above)",
        unexpected.len()
    );
    assert!(
        fixed.is_empty(),
        "listed as known failures but now pass, remove them: {fixed:?}"
    );
}

fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

#[test]
fn every_transformation_case_passes_or_is_listed() {
    let Some(dir) = common::require(
        common::shared().join("seclang-tests/transformations"),
        "seclang-tests",
    ) else {
        return;
    };
    let mut results = Vec::new();
    for (file, cases) in load(&dir) {
        for (idx, c) in cases.iter().enumerate() {
            let input = bytes(&c.input);
            let want = bytes(c.output.as_deref().unwrap_or(""));
            // The file names the transformation; `name` is sometimes a case label.
            let res = match apply_transform_by_name(&file, &input) {
                Err(e) => Err(e.to_string()),
                Ok(got) if got == want => Ok(()),
                Ok(got) => Err(format!(
                    "t:{file} ({}) on {:?}: got {:?}, want {:?}",
                    c.name,
                    show(&input),
                    show(&got),
                    show(&want)
                )),
            };
            results.push((file.clone(), idx, res));
        }
    }
    check("transformations", results);
}

#[test]
fn every_operator_case_passes_or_is_listed() {
    let Some(dir) = common::require(
        common::shared().join("seclang-tests/operators"),
        "seclang-tests",
    ) else {
        return;
    };
    let files_dir = dir.join("op");
    let mut results = Vec::new();
    for (file, cases) in load(&dir) {
        for (idx, c) in cases.iter().enumerate() {
            let input = bytes(&c.input);
            let param = c.param.clone().unwrap_or_default();
            let res = match eval_operator_for_test(&c.name, &param, &input, &files_dir) {
                Err(e) => Err(e.to_string()),
                Ok((m, caps)) => {
                    if i64::from(m) != c.ret {
                        Err(format!(
                            "@{} {:?} on {:?}: got {}, want {}",
                            c.name,
                            param,
                            show(&input),
                            i64::from(m),
                            c.ret
                        ))
                    } else if let Some(want) = &c.re_groups {
                        let got: Vec<String> = caps
                            .iter()
                            .map(|g| String::from_utf8_lossy(g).into_owned())
                            .collect();
                        if &got == want {
                            Ok(())
                        } else {
                            Err(format!("@{} groups: got {got:?}, want {want:?}", c.name))
                        }
                    } else {
                        Ok(())
                    }
                }
            };
            results.push((file.clone(), idx, res));
        }
    }
    check("operators", results);
}
