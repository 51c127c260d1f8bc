//! Request body processors: JSON, XML and multipart (URLENCODED shares the query parser).
pub mod json;
pub mod multipart;
pub mod xml;
