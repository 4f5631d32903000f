//! One failure type for every command: the message printed after `error:` and the documented
//! exit it maps to. Each library error says its exit through [`ExitStatus`], in one place per
//! error type; here it only converts.

use stagenet_config::exit::{Exit, ExitStatus};

/// A command's failure: what to print and which exit code to return.
#[derive(Debug)]
pub struct Failure {
	/// How the command ends (failed, bad input, infrastructure).
	pub exit: Exit,
	/// The message, printed after `error: `.
	pub message: String,
}

impl Failure {
	/// A failure with an explicit exit.
	pub fn new(exit: Exit, message: impl Into<String>) -> Self {
		Self {
			exit,
			message: message.into(),
		}
	}

	/// The process exit code.
	pub fn code(&self) -> u8 {
		self.exit.code()
	}
}

/// Every library error converts with its own exit and its message, so that `?` works.
impl<E: ExitStatus + std::fmt::Display> From<E> for Failure {
	fn from(e: E) -> Self {
		Self::new(e.exit(), e.to_string())
	}
}
