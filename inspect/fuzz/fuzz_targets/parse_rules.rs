//! Arbitrary text as SecLang: loading must return a rule set or an error, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_inspect::{LoadOptions, RuleSet};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let _ = RuleSet::load(&LoadOptions {
        extra_rules: text,
        ..Default::default()
    });
});
