//! stagenet's configuration files: typed, versioned, validated with field paths, every
//! problem reported at once. Pure: no async, no providers.

pub mod topology;

pub use topology::{
	Chain, NodeDefaults, NodeOverride, PlannedNode, Problem, Resources, Role, Topology,
	TopologyError, Workload, TOPOLOGY_VERSION,
};
