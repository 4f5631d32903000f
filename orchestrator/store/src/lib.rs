//! The record of a rehearsal: what was run, every block the monitor saw, every finding, every
//! upgrade and every gate with its measured value. `model` is pure data (serde); the store
//! ([`Store`]) writes and reads it with sqlx so that a report can be rebuilt from the store
//! alone: a SQLite file by default, a Postgres database when given a `postgres://` URL.

pub mod db;
pub mod error;
pub mod model;

pub use db::Store;
pub use error::StoreError;
pub use model::*;
