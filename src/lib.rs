//! gknb (公开年报): crawl Chinese government portals for the annual reports on
//! government-information disclosure, archive every page, and turn the reports' three standard
//! tables into a SQLite dataset with one row per agency-year-metric.
//!
//! The pipeline, one module per stage (see `ARCHITECTURE.md`):
//!
//! ```text
//! seeds → discover → fetch → store (raw bytes) → decode → report → validate → store → export
//! ```
//!
//! Parsing ([`decode`], [`report`], [`validate`]) is pure: bytes in, [`model::ParsedReport`] out.

pub mod cli;
pub mod config;
pub mod crawl;
pub mod decode;
pub mod discover;
pub mod export;
pub mod fetch;
pub mod metrics;
pub mod model;
pub mod report;
pub mod seeds;
pub mod sim;
pub mod store;
pub mod synth;
pub mod validate;
