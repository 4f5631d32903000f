//! Claiming a run before anything of it is written: the run id is checked, the runs
//! directory must be a directory, the run's directory must not exist yet (a finished run's
//! directory holds its chain databases: nodes started there would reopen that chain), and the
//! run is owned by this process through an advisory lock (`<runs dir>/<run id>.lock`) for as
//! long as the claim lives, so that a second `up` or `rehearse` of the same run is refused
//! with who holds it.

use crate::{state::STATE_FILE, NetworkError, Result};
use stagenet_config::files::{LockError, OutputLock};
use std::path::{Path, PathBuf};

/// The scope of a run directory's resources: this user and the runs directory that holds
/// it (`<uid>:<absolute runs dir>`). `down --all` removes only resources of its own scope.
pub fn scope_of_run_dir(run_dir: &Path) -> String {
	scope_of(run_dir.parent().unwrap_or(Path::new(".")))
}

/// The scope of the runs directory `runs_dir` (see [`scope_of_run_dir`]).
pub fn scope_of(runs_dir: &Path) -> String {
	let dir = std::fs::canonicalize(runs_dir)
		.or_else(|_| std::path::absolute(runs_dir))
		.unwrap_or_else(|_| runs_dir.to_path_buf());
	// This process's user: the owner of `/proc/self`.
	let uid = {
		use std::os::unix::fs::MetadataExt as _;
		std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
	};
	format!("{uid}:{}", dir.display())
}

/// Longest run id.
pub const MAX_RUN_ID_LEN: usize = 100;

/// A run owned by this process: its directory (not created yet) and its lock.
#[derive(Debug)]
pub struct RunClaim {
	/// The run's directory (`<runs dir>/<run id>` or `--base-dir`).
	pub dir: PathBuf,
	_lock: OutputLock,
}

/// Checks a run id: it names a directory below the runs directory, so it must be one plain
/// name: ASCII letters, digits, `.`, `_`, `-`, not starting with `.` or `-`, at most
/// [`MAX_RUN_ID_LEN`] characters.
pub fn check_run_id(id: &str) -> Result<()> {
	let bad = |why: &str| NetworkError::InvalidConfig {
		reason: format!("run id `{id}` {why}"),
		hint: "use letters, digits, `.`, `_` and `-` only (e.g. `--run-id upgrade-218`)".into(),
	};
	if id.is_empty() {
		return Err(bad("is empty"));
	}
	if id.len() > MAX_RUN_ID_LEN {
		return Err(bad(&format!("is longer than {MAX_RUN_ID_LEN} characters")));
	}
	if let Some(c) = id
		.chars()
		.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
	{
		let shown = if c == '/' {
			"contains `/`: a run id is a name, not a path".to_string()
		} else {
			format!("contains `{}`", c.escape_default())
		};
		return Err(bad(&shown));
	}
	if id.starts_with('.') || id.starts_with('-') {
		return Err(bad("starts with `.` or `-`"));
	}
	Ok(())
}

/// Checks that `runs_dir` is a directory (or can be one) and creates it.
pub fn prepare_runs_dir(runs_dir: &Path) -> Result<()> {
	match std::fs::metadata(runs_dir) {
		Ok(m) if m.is_dir() => Ok(()),
		Ok(_) => Err(NetworkError::InvalidConfig {
			reason: format!(
				"the runs directory `{}` is a file, not a directory",
				runs_dir.display()
			),
			hint: "pass `--runs-dir` a directory (it is created when absent)".into(),
		}),
		Err(_) => std::fs::create_dir_all(runs_dir).map_err(|source| NetworkError::Io {
			path: runs_dir.to_path_buf(),
			source,
		}),
	}
}

/// Claims run `run_id` in `runs_dir` (its directory is `base_dir` when given): checks every
/// name and path, refuses a run that exists or is held by another process, and takes the
/// run's lock. Nothing of the run is written.
pub fn claim_run(runs_dir: &Path, run_id: &str, base_dir: Option<&Path>) -> Result<RunClaim> {
	check_run_id(run_id)?;
	let dir = match base_dir {
		Some(d) => {
			if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
				prepare_runs_dir(parent)?;
			}
			d.to_path_buf()
		}
		None => {
			prepare_runs_dir(runs_dir)?;
			runs_dir.join(run_id)
		}
	};
	let lock = OutputLock::acquire(&dir).map_err(|e| match e {
		LockError::Held { .. } => NetworkError::InvalidConfig {
			reason: format!("run `{run_id}` is in use: {e}"),
			hint: format!(
				"choose another `--run-id`, or end that run first (`stagenet down {run_id}`)"
			),
		},
		other => NetworkError::Io {
			path: dir.clone(),
			source: std::io::Error::other(other.to_string()),
		},
	})?;
	let exists = match base_dir {
		// A base directory given by hand may exist; a run must not have lived in it.
		Some(_) => dir.join(STATE_FILE).exists(),
		None => dir.exists(),
	};
	if exists {
		let phase = crate::state::RunState::load(&dir)
			.map(|s| format!(" (phase `{:?}`)", s.phase).to_lowercase())
			.unwrap_or_default();
		return Err(NetworkError::InvalidConfig {
			reason: format!(
				"run `{run_id}` already exists in `{}`{phase}: its directory holds that run's \
				 chain databases, which new nodes would reopen",
				dir.display()
			),
			hint: format!(
				"choose another `--run-id` (or leave it out for a fresh one); to reuse the id, \
				 `stagenet down {run_id}` and remove `{}`",
				dir.display()
			),
		});
	}
	Ok(RunClaim { dir, _lock: lock })
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn run_ids_that_are_paths_or_odd_names_are_refused() {
		for id in [
			"../../x", "/abs", "a/b", "..", ".hidden", "-x", "", "a b", "é",
		] {
			let err = check_run_id(id).expect_err(id);
			assert!(err.to_string().contains("hint:"), "{err}");
		}
		for id in ["upgrade-218", "r1", "up-1733520000000", "a.b_c"] {
			check_run_id(id).expect(id);
		}
		check_run_id(&"x".repeat(MAX_RUN_ID_LEN + 1)).expect_err("long");
	}

	#[test]
	fn a_run_is_claimed_once_and_an_existing_one_is_refused() {
		let dir = tempfile::tempdir().expect("tempdir");
		let runs = dir.path().join("runs");
		let claim = claim_run(&runs, "r1", None).expect("claim");
		let err = claim_run(&runs, "r1", None).expect_err("second claim");
		assert!(err.to_string().contains("in use"), "{err}");
		std::fs::create_dir_all(&claim.dir).expect("mkdir");
		drop(claim);
		let err = claim_run(&runs, "r1", None).expect_err("existing");
		assert!(err.to_string().contains("already exists"), "{err}");
		let file = dir.path().join("file");
		std::fs::write(&file, b"x").expect("write");
		let err = claim_run(&file, "r2", None).expect_err("file runs dir");
		assert!(err.to_string().contains("is a file"), "{err}");
	}
}
