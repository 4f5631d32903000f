//! The run-event stream: what a rehearsal does and measures, as typed events, to any number
//! of subscribers while it happens.
//!
//! The rehearsal, its monitor and its steps publish [`RunEvent`]s on an [`EventBus`]; the
//! terminal (`stagenet rehearse`'s progress lines), a JSON-lines file (`--events`) and, later,
//! a live API subscribe. Publishing never waits for a subscriber: each subscriber has a bounded
//! queue ([`EventBus::new`]'s capacity), and one that falls behind by more than that receives
//! [`RunEvent::Lagged`] with the number of events it missed, then the newest ones. Nothing is
//! lost silently.
//!
//! The store is not a subscriber: the run record must never miss a block, so the monitor and
//! the steps write it first, then publish.

use serde::Serialize;
use stagenet_store::{
	BlockRecord, Finding, GateResult, ReplayRecord, StepRecord, StressRecord, UpgradeRecord,
	Verdict,
};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Events one subscriber may fall behind by before it is told it lagged.
pub const DEFAULT_CAPACITY: usize = 4096;

/// One thing a rehearsal did or measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RunEvent {
	/// The run was created in the store.
	RunStarted {
		/// The run id.
		run: String,
		/// The scenario's name.
		scenario: String,
	},
	/// A progress line for people (what the terminal prints).
	Note {
		/// The line.
		text: String,
	},
	/// The rehearsal entered a stage (`taking the snapshot`, `starting the network`, …).
	Stage {
		/// What it is doing.
		stage: String,
	},
	/// Every node is ready: blocks produced and finalized on each.
	NetworkReady {
		/// The nodes, by name.
		nodes: Vec<String>,
	},
	/// A block of the ledger, as stored.
	Block {
		/// The row.
		block: Box<BlockRecord>,
	},
	/// A finding (panic, trap, stall, node exit …), as stored.
	Finding {
		/// The finding.
		finding: Box<Finding>,
	},
	/// A scenario step started.
	StepStarted {
		/// Its index in the scenario (from 0).
		index: u32,
		/// Its kind (`upgrade`, `fault`, …).
		kind: String,
		/// What it does.
		description: String,
	},
	/// A scenario step finished (or failed, or was interrupted).
	StepFinished {
		/// The step as stored.
		step: Box<StepRecord>,
	},
	/// A runtime upgrade was applied and measured.
	Upgrade {
		/// The record as stored.
		upgrade: Box<UpgradeRecord>,
	},
	/// A replay finished, with its divergences.
	Replay {
		/// The record as stored.
		replay: Box<ReplayRecord>,
	},
	/// A stress load finished, with its samples per block.
	Stress {
		/// The record as stored.
		stress: Box<StressRecord>,
	},
	/// A gate was judged.
	Gate {
		/// The result.
		gate: GateResult,
	},
	/// The run ended with a verdict.
	Verdict {
		/// The verdict.
		verdict: Verdict,
		/// Why, when it did not pass on its gates.
		error: Option<String>,
	},
	/// This subscriber fell behind and missed this many events (the bus keeps going).
	Lagged {
		/// Events missed.
		missed: u64,
	},
}

/// Where a rehearsal publishes its events. Cloning gives another handle on the same bus.
#[derive(Clone)]
pub struct EventBus {
	tx: broadcast::Sender<Arc<RunEvent>>,
}

impl std::fmt::Debug for EventBus {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("EventBus")
			.field("subscribers", &self.tx.receiver_count())
			.finish()
	}
}

impl Default for EventBus {
	fn default() -> Self {
		Self::new(DEFAULT_CAPACITY)
	}
}

impl EventBus {
	/// A bus on which each subscriber may fall `capacity` events behind (at least 1).
	pub fn new(capacity: usize) -> Self {
		let (tx, _) = broadcast::channel(capacity.max(1));
		Self { tx }
	}

	/// Publishes `event` to every subscriber; never waits. With no subscriber it is dropped.
	pub fn publish(&self, event: RunEvent) {
		// An error only means nobody listens.
		let _ = self.tx.send(Arc::new(event));
	}

	/// A progress line ([`RunEvent::Note`]).
	pub fn note(&self, text: impl Into<String>) {
		self.publish(RunEvent::Note { text: text.into() });
	}

	/// A new subscriber: it receives every event published from now on.
	pub fn subscribe(&self) -> Subscription {
		Subscription {
			rx: self.tx.subscribe(),
		}
	}
}

/// One subscriber's view of the bus.
pub struct Subscription {
	rx: broadcast::Receiver<Arc<RunEvent>>,
}

impl Subscription {
	/// The next event; [`RunEvent::Lagged`] when this subscriber fell behind; `None` once
	/// every handle of the bus is gone and every event was received.
	pub async fn next(&mut self) -> Option<Arc<RunEvent>> {
		match self.rx.recv().await {
			Ok(event) => Some(event),
			Err(broadcast::error::RecvError::Lagged(missed)) => {
				Some(Arc::new(RunEvent::Lagged { missed }))
			}
			Err(broadcast::error::RecvError::Closed) => None,
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn note(i: usize) -> RunEvent {
		RunEvent::Note {
			text: format!("line {i}"),
		}
	}

	#[tokio::test]
	async fn every_subscriber_gets_every_event_in_order_and_the_end() {
		let bus = EventBus::new(16);
		let mut a = bus.subscribe();
		let mut b = bus.subscribe();
		for i in 0..10 {
			bus.publish(note(i));
		}
		drop(bus);
		for sub in [&mut a, &mut b] {
			for i in 0..10 {
				assert_eq!(sub.next().await.as_deref(), Some(&note(i)));
			}
			assert!(sub.next().await.is_none(), "the end of the stream");
		}
	}

	#[tokio::test]
	async fn a_slow_subscriber_is_told_how_many_it_missed_and_gets_the_newest() {
		let bus = EventBus::new(4);
		let mut slow = bus.subscribe();
		let mut fast = bus.subscribe();
		for i in 0..10 {
			bus.publish(note(i));
			// The fast one keeps up.
			assert_eq!(fast.next().await.as_deref(), Some(&note(i)));
		}
		assert_eq!(
			slow.next().await.as_deref(),
			Some(&RunEvent::Lagged { missed: 6 })
		);
		for i in 6..10 {
			assert_eq!(slow.next().await.as_deref(), Some(&note(i)));
		}
	}

	#[test]
	fn events_serialize_with_their_kind() {
		let json = serde_json::to_value(RunEvent::Lagged { missed: 3 }).expect("json");
		assert_eq!(json, serde_json::json!({"event": "lagged", "missed": 3}));
		let json = serde_json::to_value(RunEvent::StepStarted {
			index: 0,
			kind: "upgrade".into(),
			description: "upgrade to `x.wasm` via sudo".into(),
		})
		.expect("json");
		assert_eq!(json["event"], "step-started");
	}
}
