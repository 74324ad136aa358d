//! casefile: a diagnostic host for plugin platforms. One module per stage of the
//! flow (see DESIGN.md): api → pipeline (collect → mask → report → ticket →
//! regression), on top of runtime (wasmtime), registry (components) and store (sqlx).

pub mod api;
pub mod app;
pub mod audit;
pub mod bench;
pub mod cli;
pub mod collect;
pub mod config;
pub mod mask;
pub mod model;
pub mod openapi;
pub mod pipeline;
pub mod registry;
pub mod regression;
pub mod report;
pub mod runtime;
pub mod store;
pub mod telemetry;
pub mod ticket;
