//! Local-process networks of Substrate nodes, the embedded default of stagenet.
//!
//! [`LocalNetwork::start`] writes a raw chain spec with the node binary itself, starts every
//! node as a child process on loopback (fixed ports, deterministic node keys, reserved-only
//! peering among the network's own nodes, no telemetry, no mDNS), and
//! [`LocalNetwork::wait_ready`] returns only once blocks are produced **and** finalized on
//! every node. Dropping the network kills its processes; every process carries the run id
//! in its environment (`STAGENET_RUN`), so that leftovers can always be found.

mod error;
mod network;
mod peer_id;
mod ports;
mod rpc;

pub use error::{NetworkError, Result};
pub use network::{
	ChainSource, LocalNetwork, NetworkConfig, NodeInfo, NodeRole, ReadyState, DEV_KEYS,
};
pub use peer_id::peer_id_from_node_key;
pub use rpc::{ChainRpc, NodeStatus};
