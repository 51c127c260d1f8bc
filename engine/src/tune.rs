//! `palisade-engine tune`: turn access-log matches (monitor or block mode) into reviewable
//! SecLang exclusions, largest first. It only ever narrows one rule by one keyed variable:
//! never a whole rule, never a whole variable class, never the scoring rules.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::BufRead;

use serde::Deserialize;

/// Rule ids Palisade reserves for generated exclusions (inside SecLang's local-use range).
pub const GENERATED_IDS: std::ops::RangeInclusive<u32> = 95_000..=95_999;

#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    #[error("reading the log: {0}")]
    Io(#[from] std::io::Error),
    #[error("more exclusions than ids from --first-id {first} to {}; raise --min-count or lower --first-id", GENERATED_IDS.end())]
    TooMany { first: u32 },
    #[error("--first-id: value {first} is not allowed; allowed: {} to {} (the ids Palisade reserves for generated rules)", GENERATED_IDS.start(), GENERATED_IDS.end())]
    FirstId { first: u32 },
}

/// What `tune` proposes from.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Propose an exclusion only for a (rule, variable) seen at least this often.
    pub min_count: usize,
    /// The first generated rule id; files loaded together (a cluster-wide one and a pod's
    /// own) need ranges that do not overlap.
    pub first_id: u32,
}

impl Options {
    /// A `first_id` outside the reserved range is refused.
    pub fn validate(&self) -> Result<(), TuneError> {
        if GENERATED_IDS.contains(&self.first_id) {
            Ok(())
        } else {
            Err(TuneError::FirstId {
                first: self.first_id,
            })
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_count: 1,
            first_id: *GENERATED_IDS.start(),
        }
    }
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    matches: Vec<Match>,
}

#[derive(Deserialize)]
struct Match {
    id: u32,
    #[serde(default)]
    var: String,
}

/// What `tune` found: the rules file, and what it skipped or refused (for stderr).
#[derive(Debug, Default)]
pub struct Report {
    pub rules: String,
    pub notes: Vec<String>,
}

#[derive(Default)]
struct Group {
    count: usize,
    example: String,
    paths: BTreeMap<String, (usize, String)>,
}

/// Scoring and correlation rules: excluding from them would disarm the blocking decision.
fn is_scoring(id: u32) -> bool {
    matches!(id / 1000, 949 | 959 | 980)
}

/// Characters that can go unquoted into a SecLang target or `@streq` argument.
fn safe_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./[]@~%+".contains(&b))
}

/// Read access-log lines and build the exclusions for every (rule, variable) seen at least
/// `opts.min_count` times, with ids from `opts.first_id`.
pub fn tune(input: impl BufRead, opts: Options) -> Result<Report, TuneError> {
    opts.validate()?;
    let min_count = opts.min_count;
    let mut report = Report::default();
    let mut groups: BTreeMap<(u32, String), Group> = BTreeMap::new();
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: Record = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                report.notes.push(format!(
                    "line {}: not an access-log record ({e}); skipped",
                    n + 1
                ));
                continue;
            }
        };
        if rec.kind != "access" {
            continue; // lifecycle events (listening, stopped, reload) share the stream
        }
        for m in rec.matches {
            let (class, key) = m.var.split_once(':').unwrap_or((m.var.as_str(), ""));
            let why = if is_scoring(m.id) {
                Some(format!("rule {}: scoring rule, never excluded from", m.id))
            } else if class == "TX" || class.is_empty() {
                Some(format!("rule {} on {:?}: not request data", m.id, m.var))
            } else if key.is_empty() {
                Some(format!(
                    "rule {} on {}: would exclude the whole variable; review by hand",
                    m.id, m.var
                ))
            } else if !safe_token(key) || !safe_token(&rec.path) {
                Some(format!(
                    "rule {} on {} at {:?}: name or path needs quoting; review by hand",
                    m.id, m.var, rec.path
                ))
            } else {
                None
            };
            if let Some(why) = why {
                *refused.entry(why).or_default() += 1;
                continue;
            }
            let g = groups.entry((m.id, m.var.clone())).or_default();
            g.count += 1;
            if g.example.is_empty() {
                g.example.clone_from(&rec.request_id);
            }
            let p = g
                .paths
                .entry(rec.path.clone())
                .or_insert_with(|| (0, rec.request_id.clone()));
            p.0 += 1;
        }
    }
    for (why, count) in refused {
        report.notes.push(format!("refused ({count}x): {why}"));
    }
    // One exclusion per (rule, variable): everywhere when seen on several paths, else
    // scoped to its one path. Largest first, ties in rule order.
    let mut items: Vec<_> = groups
        .into_iter()
        .filter(|(_, g)| g.count >= min_count.max(1))
        .collect();
    items.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    let mut ids = opts.first_id..=*GENERATED_IDS.end();
    let mut out = String::new();
    if !items.is_empty() {
        out.push_str("# Generated by palisade-engine tune: review before loading after the CRS.\n");
    }
    for ((rule, var), g) in items {
        let paths: BTreeSet<&String> = g.paths.keys().collect();
        if let [path] = paths.into_iter().collect::<Vec<_>>()[..] {
            let id = ids.next().ok_or(TuneError::TooMany {
                first: opts.first_id,
            })?;
            let _ = writeln!(
                out,
                "\n# {count} matches of rule {rule} on {var} at {path}, e.g. request {ex}\n\
                 SecRule REQUEST_FILENAME \"@streq {path}\" \"id:{id},phase:1,pass,nolog,ctl:ruleRemoveTargetById={rule};{var}\"",
                count = g.count,
                ex = g.example,
            );
        } else {
            let _ = writeln!(
                out,
                "\n# {count} matches of rule {rule} on {var} on {n} paths, e.g. request {ex}\n\
                 SecRuleUpdateTargetById {rule} \"!{var}\"",
                count = g.count,
                n = g.paths.len(),
                ex = g.example,
            );
        }
    }
    report.rules = out;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, path: &str, matches: &str) -> String {
        format!(r#"{{"type":"access","request_id":"{id}","path":"{path}","matches":[{matches}]}}"#)
    }

    const XSS: &str = r#"{"id":941100,"var":"ARGS:comment","value":"<b>"}"#;
    const SQL: &str = r#"{"id":942100,"var":"ARGS:q","value":"x"}"#;
    const SCORE: &str = r#"{"id":949110,"var":"TX:BLOCKING_INBOUND_ANOMALY_SCORE","value":"5"}"#;

    #[test]
    fn path_specific_and_everywhere_exclusions_largest_first() {
        let log = [
            line("r1", "/blog/post", &format!("{XSS},{SCORE}")),
            line("r2", "/blog/post", XSS),
            line("r3", "/blog/post", XSS),
            line("r4", "/search", SQL),
            line("r5", "/api/search", SQL),
        ]
        .join("\n");
        let r = tune(log.as_bytes(), Options::default()).unwrap();
        let want = "# Generated by palisade-engine tune: review before loading after the CRS.\n\
\n# 3 matches of rule 941100 on ARGS:comment at /blog/post, e.g. request r1\n\
SecRule REQUEST_FILENAME \"@streq /blog/post\" \"id:95000,phase:1,pass,nolog,ctl:ruleRemoveTargetById=941100;ARGS:comment\"\n\
\n# 2 matches of rule 942100 on ARGS:q on 2 paths, e.g. request r4\n\
SecRuleUpdateTargetById 942100 \"!ARGS:q\"\n";
        assert_eq!(r.rules, want);
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("949110") && n.contains("scoring")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn min_count_drops_rare_matches() {
        let log = [
            line("r1", "/a", XSS),
            line("r2", "/a", XSS),
            line("r3", "/b", SQL),
        ]
        .join("\n");
        let r = tune(
            log.as_bytes(),
            Options {
                min_count: 2,
                ..Options::default()
            },
        )
        .unwrap();
        assert!(r.rules.contains("941100"));
        assert!(!r.rules.contains("942100"));
    }

    #[test]
    fn whole_variables_scoring_rules_and_odd_names_are_refused() {
        let log = [
            line(
                "r1",
                "/a",
                r#"{"id":920100,"var":"REQUEST_FILENAME","value":"/a"}"#,
            ),
            line("r2", "/a", r#"{"id":942100,"var":"ARGS","value":"x"}"#),
            line("r3", "/a", r#"{"id":942100,"var":"ARGS:a\"b","value":"x"}"#),
            line("r4", "/a", r#"{"id":980170,"var":"TX:X","value":"x"}"#),
        ]
        .join("\n");
        let r = tune(log.as_bytes(), Options::default()).unwrap();
        assert_eq!(r.rules, "", "nothing safe to propose");
        assert_eq!(r.notes.len(), 4, "{:?}", r.notes);
    }

    #[test]
    fn non_records_are_reported_by_line_and_skipped() {
        let log = format!(
            "not json\n{{\"type\":\"listening\"}}\n{}\n{{\"type\":\"access\",\"matches\":\"x\"}}\n",
            line("r1", "/a", "")
        );
        let r = tune(log.as_bytes(), Options::default()).unwrap();
        assert_eq!(r.rules, "", "no exclusions when nothing matched");
        assert_eq!(r.notes.len(), 2, "{:?}", r.notes);
        assert!(r.notes[0].starts_with("line 1:"));
        assert!(r.notes[1].starts_with("line 4:"));
    }

    #[test]
    fn first_id_moves_the_generated_ids_and_stays_in_the_reserved_range() {
        let log = [line("r1", "/a", XSS), line("r2", "/b", SQL)].join("\n");
        let opts = Options {
            first_id: 95_500,
            ..Options::default()
        };
        let r = tune(log.as_bytes(), opts).unwrap();
        assert!(
            r.rules.contains("id:95500,") && r.rules.contains("id:95501,"),
            "{}",
            r.rules
        );
        let last = Options {
            first_id: 95_999,
            ..Options::default()
        };
        let e = tune(log.as_bytes(), last).unwrap_err().to_string();
        assert!(e.contains("--first-id 95999"), "{e}");
        for bad in [94_999, 96_000] {
            let e = tune(
                log.as_bytes(),
                Options {
                    first_id: bad,
                    ..Options::default()
                },
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.starts_with(&format!("--first-id: value {bad} is not allowed")),
                "{e}"
            );
        }
    }
}
