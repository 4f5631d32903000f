//! The exit codes of `stagenet`, defined once. Every command ends with one of them, and every
//! error a command can return says which through [`ExitStatus`].
//!
//! | Code | [`Exit`]                 | Meaning                                                            |
//! |------|--------------------------|--------------------------------------------------------------------|
//! | 0    | [`Exit::Pass`]           | Done; every gate passed.                                           |
//! | 1    | [`Exit::Failed`]         | A gate failed or a result did not verify: the release must not ship. |
//! | 2    | [`Exit::BadInput`]       | Bad input: arguments, files, a node or store that is not what it claims. |
//! | 3    | [`Exit::Infrastructure`] | Infrastructure: binaries, processes, network, disk, an unreachable node. |

/// How a command ends: one of the documented exit codes (see the [module](self) table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
	/// Done; every gate passed (exit 0).
	Pass,
	/// A gate failed or a result did not verify: the release must not ship (exit 1).
	Failed,
	/// Bad input: arguments, files, a node or store that is not what it claims (exit 2).
	BadInput,
	/// Infrastructure: binaries, processes, network, disk, an unreachable node (exit 3).
	Infrastructure,
}

impl Exit {
	/// The process exit code. The only place these numbers are written.
	pub const fn code(self) -> u8 {
		match self {
			Exit::Pass => 0,
			Exit::Failed => 1,
			Exit::BadInput => 2,
			Exit::Infrastructure => 3,
		}
	}
}

/// An error (or outcome) that knows which exit code it ends a command with.
pub trait ExitStatus {
	/// The exit it stands for.
	fn exit(&self) -> Exit;
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_codes_are_the_documented_ones() {
		assert_eq!(Exit::Pass.code(), 0);
		assert_eq!(Exit::Failed.code(), 1);
		assert_eq!(Exit::BadInput.code(), 2);
		assert_eq!(Exit::Infrastructure.code(), 3);
	}
}
