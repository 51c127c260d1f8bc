//! Placeholder until the owning issue lands this crate.
