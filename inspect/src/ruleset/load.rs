//! File and glob handling, chain assembly and the final phase tables.
use super::{Config, Defaults, Entry, RuleSet, base_dir_of};
use crate::error::LoadError;
use crate::parser::lexer;
use crate::rule::Rule;
use crate::transform::Transform;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What to load: `prelude`, then `files` in order (glob patterns allowed), then `extra_rules`.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Inline SecLang parsed before the files (reported as `<prelude>`), e.g.
    /// [`crate::RECOMMENDED_BASE_RULES`] or the engine's mode settings.
    pub prelude: String,
    pub files: Vec<PathBuf>,
    /// Inline SecLang parsed after the files (reported as `<inline>` in errors).
    pub extra_rules: String,
    /// Where relative `Include`, `@pmFromFile` and `@ipMatchFromFile` paths of the
    /// inline rules resolve; files resolve relative to their own directory.
    pub base_dir: PathBuf,
}

pub(super) enum Item {
    Rule(Box<Rule>),
    Marker(Arc<str>),
}

pub(super) struct Loader {
    pub items: Vec<Item>,
    pub defaults: [Defaults; 6],
    pub config: Config,
    pub chain: Vec<Rule>,
    pub chain_at: Option<(Arc<str>, usize)>,
    pub tchains: HashMap<Vec<Transform>, u32>,
    pub depth: usize,
}

impl RuleSet {
    /// Loads and compiles every rule; fails on the first error, naming file and line.
    pub fn load(opts: &LoadOptions) -> Result<RuleSet, LoadError> {
        let mut l = Loader {
            items: Vec::new(),
            defaults: Default::default(),
            config: Config::default(),
            chain: Vec::new(),
            chain_at: None,
            tchains: HashMap::new(),
            depth: 0,
        };
        if !opts.prelude.is_empty() {
            l.load_text(&opts.prelude, "<prelude>", &opts.base_dir)?;
        }
        for pattern in &opts.files {
            let pattern = if pattern.is_relative() {
                opts.base_dir.join(pattern)
            } else {
                pattern.clone()
            };
            let files = expand_glob(&pattern.to_string_lossy(), "<options>", 0)?;
            for f in files {
                l.load_file(&f)?;
            }
        }
        if !opts.extra_rules.is_empty() {
            l.load_text(&opts.extra_rules, "<inline>", &opts.base_dir)?;
        }
        l.finish()
    }
}

/// Bounds on what a configuration may pull in (a typo must not read a whole disk).
const MAX_GLOB_FILES: usize = 10_000;
const MAX_RULE_FILE_BYTES: u64 = 64 << 20;

pub(super) fn expand_glob(
    pattern: &str,
    file: &str,
    line: usize,
) -> Result<Vec<PathBuf>, LoadError> {
    if !pattern.contains(['*', '?', '[']) {
        return Ok(vec![PathBuf::from(pattern)]);
    }
    // ModSecurity's Include globs do not recurse; `**` would walk whole trees.
    if pattern.contains("**") {
        return Err(LoadError::at(
            file,
            line,
            format!("glob {pattern:?}: `**` is not supported"),
        ));
    }
    let paths = glob::glob(pattern)
        .map_err(|e| LoadError::at(file, line, format!("bad glob {pattern:?}: {e}")))?;
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths.filter_map(Result::ok) {
        if out.len() == MAX_GLOB_FILES {
            return Err(LoadError::at(
                file,
                line,
                format!("glob {pattern:?} matches more than {MAX_GLOB_FILES} files"),
            ));
        }
        out.push(p);
    }
    out.sort();
    if out.is_empty() {
        return Err(LoadError::EmptyInclude {
            file: file.to_string(),
            line,
            pattern: pattern.to_string(),
        });
    }
    Ok(out)
}

impl Loader {
    pub fn load_file(&mut self, path: &Path) -> Result<(), LoadError> {
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() || meta.len() > MAX_RULE_FILE_BYTES {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("not a regular file of at most {MAX_RULE_FILE_BYTES} bytes"),
            )));
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        self.load_text(&text, &path.display().to_string(), &base_dir_of(path))
    }

    pub fn load_text(&mut self, text: &str, file: &str, base_dir: &Path) -> Result<(), LoadError> {
        let file_arc: Arc<str> = Arc::from(file);
        for d in lexer::directives(text, file)? {
            self.directive(&d, &file_arc, base_dir)?;
        }
        Ok(())
    }

    pub fn intern(&mut self, t: &[Transform]) -> u32 {
        let n = self.tchains.len() as u32;
        *self.tchains.entry(t.to_vec()).or_insert(n)
    }

    fn finish(self) -> Result<RuleSet, LoadError> {
        if let Some((file, line)) = &self.chain_at
            && !self.chain.is_empty()
        {
            return Err(LoadError::at(
                file,
                *line,
                "rule has `chain` but no rule follows it",
            ));
        }
        let mut rules = Vec::new();
        let mut phases: [Vec<Entry>; 6] = Default::default();
        for item in self.items {
            match item {
                Item::Rule(r) => {
                    phases[usize::from(r.phase)].push(Entry::Rule(rules.len()));
                    rules.push(*r);
                }
                Item::Marker(m) => {
                    for p in phases.iter_mut().skip(1) {
                        p.push(Entry::Marker(m.clone()));
                    }
                }
            }
        }
        let mut skip_targets: [Vec<usize>; 6] = Default::default();
        for (p, list) in phases.iter().enumerate() {
            let mut markers: HashMap<&str, usize> = HashMap::new();
            for (i, e) in list.iter().enumerate() {
                if let Entry::Marker(m) = e {
                    markers.entry(m).or_insert(i + 1);
                }
            }
            skip_targets[p] = list
                .iter()
                .enumerate()
                .map(|(i, e)| match e {
                    Entry::Rule(r) => match &rules[*r].skip_after {
                        // ModSecurity looks for the marker after the rule; a missing marker ends the phase.
                        Some(m) => markers
                            .get(m.as_str())
                            .copied()
                            .filter(|t| *t > i)
                            .or_else(|| find_after(list, &rules, i, m))
                            .unwrap_or(list.len()),
                        None => i + 1,
                    },
                    Entry::Marker(_) => i + 1,
                })
                .collect();
        }
        let prefilter = super::prefilter::build(&mut rules);
        Ok(RuleSet {
            rules,
            prefilter,
            phases,
            skip_targets,
            config: self.config,
        })
    }
}

/// `skipAfter` may also name a rule id; the first such rule after `from`.
fn find_after(list: &[Entry], rules: &[Rule], from: usize, target: &str) -> Option<usize> {
    list.iter()
        .enumerate()
        .skip(from + 1)
        .find_map(|(i, e)| match e {
            Entry::Marker(m) if &**m == target => Some(i + 1),
            Entry::Rule(r) if rules[*r].id.to_string() == target => Some(i + 1),
            _ => None,
        })
}
