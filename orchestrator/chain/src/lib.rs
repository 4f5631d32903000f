//! stagenet's chain library: everything that talks to a Substrate node or computes chain-level
//! values, in one place so that every crate uses the same rules.
//!
//! - [`hash`]: blake2-256 and twox-128, storage prefixes of pallet items.
//! - [`keys`]: dev keys (sr25519 for Aura and accounts, ed25519 for GRANDPA) from secret URIs,
//!   SS58 addresses, and the bulk [`keys::Deriver`] for many accounts of one phrase.
//! - [`url`]: the one rule for showing an endpoint or database URL: credentials never printed.
//! - [`retry`]: the one retry policy of every client: which failures are retried
//!   ([`retry::Failure::is_retryable`], the node's oversized-response error) and the backoff
//!   schedule between attempts.
//! - [`node`]: the few standard JSON-RPC calls of readiness and `stagenet status` (peers,
//!   syncing, best and finalized heights) and hex block numbers.
//! - [`client`]: the dynamic metadata client (subxt `OnlineClient` over the legacy methods):
//!   storage, constants, signed and sudo calls followed to a best block, block bodies and
//!   events decoded with the metadata of the runtime that executed them, dispatch errors
//!   named. Runtime upgrades, replay, stress and the monitor use it.
//!
//! The snapshot download keeps its own pipelined JSON-RPC pool (`stagenet-snapshot`'s `rpc`):
//! it was measured to need many requests in flight per connection; it uses this crate's retry
//! policy and URL rule.

#[cfg(feature = "client")]
pub mod client;
pub mod hash;
#[cfg(feature = "keys")]
pub mod keys;
#[cfg(feature = "client")]
pub mod node;
pub mod retry;
pub mod url;
