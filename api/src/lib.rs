//! `palisade-api`: what Palisade's components must agree on, defined once.
//!
//! The injector, the CNI plugin (and its repair controller) and `palisade-init` all read pod
//! annotations, name containers, and signal a missing redirect. Each of those is defined here
//! and nowhere else, so the injector denies exactly what the CNI plugin or `palisade-init`
//! would fail on, with the same message:
//!
//! ```
//! use std::collections::BTreeMap;
//! use palisade_api::{EnginePorts, RedirectSettings, names};
//!
//! let pod = BTreeMap::from([(names::INCLUDE_INBOUND_PORTS.to_owned(), "15300".to_owned())]);
//! let err = RedirectSettings::from_annotations(&pod, EnginePorts::default()).unwrap_err();
//! assert!(err.to_string().starts_with("palisade.dev/include-inbound-ports: 15300 includes"));
//! ```
//!
//! Pure: parsers and names only, no I/O (the `testing` feature adds test helpers that read
//! the environment and files).
#![forbid(unsafe_code)]

pub mod annotations;
pub mod error;
pub mod exit;
pub mod names;
pub mod object_name;
pub mod ports;
pub mod quantity;
pub mod values;

#[cfg(feature = "testing")]
pub mod testing;

pub use annotations::{ANNOTATIONS, AnnotationSpec, PodAnnotations, RedirectSettings};
pub use error::Error;
pub use object_name::ConfigMapName;
pub use ports::{EnginePorts, PortRange, PortSelection};
pub use quantity::Quantity;
pub use values::{LogLevel, Mode, ParanoiaLevel, RedirectMode, ServiceMesh};
