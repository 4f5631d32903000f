//! stagenet's configuration files: typed, versioned, validated with field paths, every
//! problem reported at once. Pure: no async, no providers.

pub mod scenario;
pub mod topology;

pub use scenario::{
	Check, FaultAction, ForkSettings, Gates, Operand, Scenario, ScenarioError, Source, Step,
	UpgradeVia, SCENARIO_VERSION,
};
pub use topology::{
	Chain, NodeDefaults, NodeOverride, PlannedNode, Problem, Resources, Role, Topology,
	TopologyError, Workload, TOPOLOGY_VERSION,
};
