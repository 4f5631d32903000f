//! stagenet's configuration files: typed, versioned, validated with field paths, every
//! problem reported at once. Pure: no async, no providers.

pub mod exit;
pub mod files;
pub mod parse;
pub mod scenario;
pub mod stress;
pub mod topology;

pub use scenario::{
	BadReplayRate, Check, FaultAction, ForkSettings, Gates, Operand, ReplayRate, Scenario,
	ScenarioError, Source,
	Step, UpgradeVia, SCENARIO_VERSION,
};
pub use stress::{
	Accounts, Action, Bounds, CallSpec, MixEntry, Rate, SetupCall, SpecVersions, StressProfile,
	StressProfileError, STRESS_PROFILE_VERSION,
};
pub use topology::{
	Chain, NodeDefaults, NodeOverride, PlannedNode, Problem, Resources, Role, Topology,
	TopologyError, Workload, TOPOLOGY_VERSION,
};
