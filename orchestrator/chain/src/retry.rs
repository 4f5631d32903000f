//! The one retry policy of stagenet's clients: which failures of a request are worth another
//! attempt, and how long to wait before it.
//!
//! A request fails in one of three ways ([`Failure`]): the transport (a dropped connection, no
//! answer in time) — retried after reconnecting; the node refused it (a JSON-RPC error object)
//! — never retried, the same request gets the same answer; or the answer did not decode —
//! never retried, the node is not what it claims. A node's "response too big" refusal is
//! recognised by [`is_oversized`] so that callers can split the request instead.

use std::time::Duration;

/// The JSON-RPC error code of a Substrate node's "response is too big" refusal (its
/// `--rpc-max-response-size`, 15 MB by default).
pub const OVERSIZED_RESPONSE_CODE: i32 = -32008;

/// How one attempt of a request failed (a closed classification: callers match on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
	/// The connection dropped, could not be opened, or no answer came in time.
	Transport(String),
	/// The node answered with an error object.
	Node {
		/// JSON-RPC error code.
		code: i32,
		/// Its message (with the error's data, when the node sent some).
		message: String,
	},
	/// The answer was not what the method returns.
	Malformed(String),
}

impl Failure {
	/// Whether another attempt (after reconnecting) may succeed: only transport failures.
	pub fn is_retryable(&self) -> bool {
		matches!(self, Failure::Transport(_))
	}

	/// Whether the node refused because the response would be over its limit.
	pub fn is_oversized(&self) -> bool {
		match self {
			Failure::Node { code, message } => is_oversized(*code, message),
			_ => false,
		}
	}
}

/// Whether a node's error (`code`, `message`) says the response was over its limit.
pub fn is_oversized(code: i32, message: &str) -> bool {
	let message = message.to_ascii_lowercase();
	code == OVERSIZED_RESPONSE_CODE
		|| message.contains("too big")
		|| message.contains("exceeded max limit")
}

/// Exponential backoff: `first`, doubled after each failure, never above `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
	/// The pause before the first retry.
	pub first: Duration,
	/// The longest pause.
	pub max: Duration,
}

impl Backoff {
	/// Many small requests to a node close by (the snapshot's pool): retry quickly.
	pub const FAST: Backoff = Backoff {
		first: Duration::from_millis(100),
		max: Duration::from_secs(2),
	};
	/// One connection that reconnects before each retry (the capture, the node status).
	pub const RECONNECT: Backoff = Backoff {
		first: Duration::from_millis(500),
		max: Duration::from_secs(8),
	};

	/// The pause after the `failures`-th failure in a row (1 for the first).
	pub fn after(&self, failures: u32) -> Duration {
		let doublings = failures.saturating_sub(1).min(31);
		self.first
			.checked_mul(1u32 << doublings)
			.map_or(self.max, |d| d.min(self.max))
	}

	/// The pauses in order: `first`, `2 × first`, … up to `max`, then `max` for ever.
	pub fn schedule(self) -> impl Iterator<Item = Duration> {
		(1u32..).map(move |n| self.after(n))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_schedule_doubles_up_to_its_cap_and_stays_there() {
		let ms = |n| Duration::from_millis(n);
		let fast: Vec<Duration> = Backoff::FAST.schedule().take(7).collect();
		assert_eq!(fast, [ms(100), ms(200), ms(400), ms(800), ms(1600), ms(2000), ms(2000)]);
		let reconnect: Vec<Duration> = Backoff::RECONNECT.schedule().take(6).collect();
		assert_eq!(reconnect, [ms(500), ms(1000), ms(2000), ms(4000), ms(8000), ms(8000)]);
		// No overflow however long a node stays away.
		assert_eq!(Backoff::RECONNECT.after(u32::MAX), ms(8000));
		assert_eq!(Backoff::FAST.after(0), ms(100));
	}

	#[test]
	fn only_transport_failures_are_retried() {
		assert!(Failure::Transport("connection reset".into()).is_retryable());
		assert!(!Failure::Node { code: -32000, message: "bad".into() }.is_retryable());
		assert!(!Failure::Malformed("not a header".into()).is_retryable());
	}

	#[test]
	fn oversized_responses_are_recognised_by_code_or_message() {
		assert!(is_oversized(-32008, "Response is too big"));
		assert!(is_oversized(-32000, "Response is too big"));
		assert!(is_oversized(-32702, "Exceeded max limit of 1048576"));
		assert!(!is_oversized(-32000, "Client error: Execution failed"));
		assert!(Failure::Node { code: -32008, message: String::new() }.is_oversized());
		assert!(!Failure::Transport("too big".into()).is_oversized());
	}
}
