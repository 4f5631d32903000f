//! stagenet's rehearsal: the scenario runner ([`rehearse`]), the runtime upgrade action
//! ([`upgrade`]), the monitor (block ledger, log findings, stalls) and the gates.

pub mod events;
pub mod gates;
pub mod logscan;
pub mod monitor;
pub mod prometheus;
pub mod rehearse;
pub mod replay;
pub mod stress;
pub mod upgrade;

pub use events::{EventBus, RunEvent, Subscription};
pub use rehearse::{rehearse, RehearseError, RehearseOptions};
pub use replay::{replay, ReplayError, ReplayOptions};
pub use stress::{stress, StressError, StressOptions};
pub use upgrade::{read_runtime, upgrade, UpgradeError, UpgradeOptions};
