//! `stagenet-snapshot`: the complete state of a Substrate chain at a pinned block, downloaded
//! over standard JSON-RPC into a `.snap` file that is streamed (bounded memory), resumable,
//! checksummed and verified against the block's state root; and the capture of block windows
//! (extrinsics, events, weights) into a SQLite database.

pub mod chain;
pub mod diff;
pub mod download;
pub mod error;
pub mod format;
pub mod inspect;
pub mod plan;
pub mod reader;
pub mod rpc;
pub mod sort;
pub mod spec;
pub mod trie;
pub mod writer;

pub use chain::BlockRef;
pub use download::{download, DownloadOptions, DownloadSummary, Phase, Progress};
pub use error::SnapshotError;
pub use reader::{Reader, VerifyReport};
