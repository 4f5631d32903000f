//! Networks of real node binaries on a provider (local processes, Docker), brought up in
//! the same order of steps on each: a chain spec, per-node keys and addresses,
//! reserved-only peering among the network's own nodes, readiness by block production
//! **and** finality, workloads with the fork's RPC and their GPUs, faults, teardown.
//!
//! Every resource carries the run id (`STAGENET_RUN` in a process's environment, the
//! `stagenet.run` label on containers, networks and volumes), so `stagenet down` and the
//! orphan report find them without any state file.

pub mod capacity;
pub mod claim;
mod error;
pub mod gpu;
#[cfg(feature = "docker")]
pub mod image;
mod keystore;
mod network;
mod peer_id;
pub mod plan;
mod ports;
pub mod provider;
pub mod relay;
pub mod state;

pub use error::{NetworkError, Result};
pub use network::{
	log_tail, Fault, FaultEvent, Network, NodeInfo, ReadyState, WorkloadInfo, SPEC_FILE,
};
pub use peer_id::peer_id_from_node_key;
pub use plan::NetworkPlan;
pub use provider::{local::LocalProvider, Capabilities, DynProvider, Program};
pub use stagenet_chain::node::{ChainRpc, NodeStatus};
pub use stagenet_config::{Chain, Role, Topology};
