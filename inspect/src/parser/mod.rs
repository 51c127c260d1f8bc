//! SecLang syntax: directives, action lists and variable (target) lists.
pub mod actions;
pub mod build;
pub mod lexer;
pub mod targets;
