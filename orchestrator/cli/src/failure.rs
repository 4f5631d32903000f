//! One failure type for every command: the message printed after `error:` and the documented
//! exit code it maps to. Each library error converts here, in one place.

use crate::{EXIT_BAD_INPUT, EXIT_INFRA};
use stagenet_network::NetworkError;
use stagenet_snapshot::SnapshotError;

/// Exit code: a gate failed or a result did not verify (the release must not ship).
pub const EXIT_FAILED: u8 = 1;

/// A command's failure: what to print and which exit code to return.
#[derive(Debug)]
pub struct Failure {
	/// Exit code (1 failed, 2 bad input, 3 infrastructure).
	pub code: u8,
	/// The message, printed after `error: `.
	pub message: String,
}

impl Failure {
	/// A failure with an explicit exit code.
	pub fn new(code: u8, message: impl Into<String>) -> Self {
		Self {
			code,
			message: message.into(),
		}
	}
}

impl From<NetworkError> for Failure {
	fn from(e: NetworkError) -> Self {
		let code = if e.is_infrastructure() {
			EXIT_INFRA
		} else {
			EXIT_BAD_INPUT
		};
		Self::new(code, e.to_string())
	}
}

impl From<SnapshotError> for Failure {
	fn from(e: SnapshotError) -> Self {
		let code = if e.is_verification_failure() {
			EXIT_FAILED
		} else if e.is_infrastructure() {
			EXIT_INFRA
		} else {
			EXIT_BAD_INPUT
		};
		Self::new(code, e.to_string())
	}
}
