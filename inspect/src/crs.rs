//! Load options for the common case: a CRS tree plus the engine's knobs (mode,
//! paranoia level, anomaly threshold, user rules before and after CRS), so the engine
//! needs no SecLang for them.
use crate::ruleset::{EngineMode, LoadOptions, RECOMMENDED_BASE_RULES};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CrsError {
    #[error(
        "crs_dir {0:?}: no rules/ directory (expected a CRS tree with rules/ and crs-setup.conf)"
    )]
    NoRules(PathBuf),
    #[error("crs_dir {0:?}: neither crs-setup.conf nor crs-setup.conf.example found")]
    NoSetup(PathBuf),
    #[error("paranoia_level {0}: allowed values are 1, 2, 3 and 4")]
    Paranoia(u8),
    #[error("inbound_anomaly_threshold {0}: must be at least 1")]
    Threshold(u32),
}

/// Rule ids 5,060,000-5,060,999 are reserved for the settings Palisade generates.
pub const PALISADE_ID_BASE: u32 = 5_060_000;

#[derive(Debug, Clone)]
pub struct CrsOptions {
    pub crs_dir: PathBuf,
    pub mode: EngineMode,
    pub paranoia_level: u8,
    pub inbound_anomaly_threshold: Option<u32>,
    /// User SecLang files loaded after crs-setup and before the CRS rules (where
    /// REQUEST-900-EXCLUSION-RULES-BEFORE-CRS goes); globs allowed.
    pub rules_before: Vec<PathBuf>,
    /// User SecLang files loaded after the CRS rules (where RESPONSE-999 goes).
    pub rules_after: Vec<PathBuf>,
}

impl CrsOptions {
    /// Validates the knobs and lists what to load, in order: base settings and the
    /// knobs (as the prelude), crs-setup, `rules_before`, `rules/*.conf`, `rules_after`.
    /// A crs-setup that itself sets `tx.blocking_paranoia_level` wins over `paranoia_level`.
    pub fn load_options(&self) -> Result<LoadOptions, CrsError> {
        let rules = self.crs_dir.join("rules");
        if !rules.is_dir() {
            return Err(CrsError::NoRules(self.crs_dir.clone()));
        }
        let setup = ["crs-setup.conf", "crs-setup.conf.example"]
            .iter()
            .map(|f| self.crs_dir.join(f))
            .find(|p| p.is_file())
            .ok_or_else(|| CrsError::NoSetup(self.crs_dir.clone()))?;
        let prelude = settings_prelude(
            self.mode,
            self.paranoia_level,
            self.inbound_anomaly_threshold,
        )?;
        let mut files = vec![setup];
        files.extend(self.rules_before.iter().cloned());
        files.push(rules.join("*.conf"));
        files.extend(self.rules_after.iter().cloned());
        Ok(LoadOptions {
            prelude,
            files,
            extra_rules: String::new(),
            base_dir: self.crs_dir.clone(),
        })
    }
}

/// The SecLang the engine's knobs stand for: the recommended base settings, the rule
/// engine mode, and a `SecAction` setting the paranoia level (and anomaly threshold)
/// before CRS's own defaults apply. Used by [`CrsOptions`] and by hosts that list their
/// rule files themselves.
pub fn settings_prelude(
    mode: EngineMode,
    paranoia_level: u8,
    inbound_anomaly_threshold: Option<u32>,
) -> Result<String, CrsError> {
    if !(1..=4).contains(&paranoia_level) {
        return Err(CrsError::Paranoia(paranoia_level));
    }
    let mode = match mode {
        EngineMode::On => "On",
        EngineMode::DetectionOnly => "DetectionOnly",
        EngineMode::Off => "Off",
    };
    let mut knobs = format!(
        "setvar:tx.blocking_paranoia_level={paranoia_level},setvar:tx.paranoia_level={paranoia_level}"
    );
    if let Some(t) = inbound_anomaly_threshold {
        if t == 0 {
            return Err(CrsError::Threshold(t));
        }
        knobs.push_str(&format!(",setvar:tx.inbound_anomaly_score_threshold={t}"));
    }
    Ok(format!(
        "{RECOMMENDED_BASE_RULES}\nSecRuleEngine {mode}\nSecAction \"id:{PALISADE_ID_BASE},phase:1,pass,nolog,{knobs}\"\n"
    ))
}
