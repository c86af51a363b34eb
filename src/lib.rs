//! otsd: a server that speaks Alibaba Cloud Tablestore's wire protocol on its own LSM engine.
//!
//! Layers, each depending only on the ones below it:
//! - `server`: HTTP (hyper), authentication, response signing, one tracing line per request.
//! - `api`: one module per Tablestore operation: decode, validate, call `table`, encode.
//! - `table`: Tablestore's data model (schemas, rows, conditions, filters, limits) over `engine`.
//! - `engine`: the log-structured merge tree: WAL, memtable, SSTables, manifest, compaction.
//! - `protocol`: wire formats (protobuf messages, PlainBuffer rows, request signatures),
//!   shared by `server` and `client`.
//! - `client` and `timeline`: an async Tablestore client and the IM Timeline model on it.

pub mod api;
pub mod cli;
pub mod client;
pub mod config;
pub mod engine;
pub mod error;
pub mod log_limit;
pub mod protocol;
pub mod server;
pub mod table;
pub mod thread_cache;
pub mod timeline;
