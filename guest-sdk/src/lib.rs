//! What a casefile component author depends on.
//!
//! Two halves:
//! - with the `bindings` feature (default): the WIT bindings of the three worlds
//!   (`masker`, `connector`, `ticket_mapper`), their export macros and small helpers,
//!   so that a component is a few lines;
//! - always: plain Rust that also compiles natively, because the host depends on this
//!   crate with `default-features = false` for the very same masking detectors
//!   (`detect`), time parsing (`timefmt`) and level names (`level`).

pub mod detect;
pub mod http;
pub mod level;
pub mod logfmt;
pub mod timefmt;

#[cfg(feature = "bindings")]
mod worlds;
#[cfg(feature = "bindings")]
pub use worlds::{connector, masker, ticket_mapper, types};

/// `casefile_guest::export_masker!(MyType)` and friends, at the crate root for short
/// use; `casefile_guest::masker::export_masker!` is the same macro.
#[cfg(feature = "bindings")]
pub use worlds::{
    connector::export_connector, masker::export_masker, ticket_mapper::export_ticket_mapper,
};

#[cfg(feature = "bindings")]
pub mod fields;
#[cfg(feature = "bindings")]
pub mod otlp;
#[cfg(feature = "bindings")]
pub mod records;
pub mod settings;
/// Ticket mappers' titles, bodies and refusals; the parts that take WIT types need
/// the `bindings` feature, as in `http`.
pub mod ticket_text;
#[cfg(feature = "bindings")]
mod words;

/// The generated bindings and export macros reach the wit-bindgen runtime as
/// `casefile_guest::wit_bindgen::rt`: plugin crates depend only on this crate, and the
/// `extern crate self` below makes the same path work inside it.
#[cfg(feature = "bindings")]
#[doc(hidden)]
pub use wit_bindgen;

#[cfg(feature = "bindings")]
extern crate self as casefile_guest;
