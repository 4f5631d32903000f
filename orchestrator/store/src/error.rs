//! Errors of the store.

use stagenet_config::exit::{Exit, ExitStatus};
use std::path::PathBuf;

/// How many known runs [`StoreError::RunNotFound`]'s message names.
const KNOWN_RUNS_SHOWN: usize = 5;

/// An error of [`Store`](crate::Store).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
	/// The target is neither a file path, nor a `sqlite:` URL, nor a `postgres://` URL.
	#[error("`{target}` cannot be used as a store: {reason} (hint: a store is a SQLite file, given as a plain path such as `.stagenet/stagenet.db` or as `sqlite://path`, or a PostgreSQL database, given as `postgres://user@host:port/database`)")]
	InvalidTarget {
		/// The target as given (password hidden).
		target: String,
		/// What is wrong with it.
		reason: String,
	},

	/// A reader was pointed at a SQLite store that does not exist.
	#[error("no store at `{}`: the file does not exist (hint: `stagenet rehearse` writes the store, by default `.stagenet/stagenet.db`; pass the `--database-url` it wrote to)", path.display())]
	Absent {
		/// The file.
		path: PathBuf,
	},

	/// The database did not answer in time.
	#[error("the {backend} store at `{target}` did not answer within {after_secs} s: waited for {awaited} (hint: {})", timeout_hint(.backend))]
	Timeout {
		/// `sqlite` or `postgres`.
		backend: &'static str,
		/// The file or URL (password hidden).
		target: String,
		/// What was awaited.
		awaited: &'static str,
		/// How long it was awaited, in seconds.
		after_secs: u64,
	},

	/// The directory of a SQLite store could not be created.
	#[error("cannot create the directory `{path}` of the store: {source} (hint: check that the path is right and writable)")]
	CreateDir {
		/// The directory.
		path: PathBuf,
		/// The cause.
		#[source]
		source: std::io::Error,
	},

	/// The database could not be opened or connected to.
	#[error("cannot connect to the {backend} store at `{target}`: {source} (hint: {})", connect_hint(.backend))]
	Connect {
		/// `sqlite` or `postgres`.
		backend: &'static str,
		/// The file or URL (password hidden).
		target: String,
		/// The cause.
		#[source]
		source: sqlx::Error,
	},

	/// The database holds tables of another program.
	#[error("the {backend} database at `{target}` is not a stagenet store: it holds another program's migrated tables but no `runs` table (hint: give stagenet a database of its own)")]
	NotAStore {
		/// `sqlite` or `postgres`.
		backend: &'static str,
		/// The file or URL (password hidden).
		target: String,
	},

	/// The database was written by a newer stagenet: it has a schema migration this one does
	/// not know.
	#[error("the store at `{target}` was written by a newer stagenet: it has schema migration {version}, this stagenet knows migrations up to {latest} (hint: read it with a newer stagenet, or give this one another database)")]
	NewerSchema {
		/// The file or URL (password hidden).
		target: String,
		/// The unknown migration's version.
		version: i64,
		/// The newest migration this stagenet ships.
		latest: i64,
	},

	/// A schema migration recorded in the database differs from the one this stagenet ships,
	/// or is unknown and older than its newest one.
	#[error("the schema of the store at `{target}` does not match this stagenet: migration {version} {reason} (hint: read it with the stagenet build that wrote it, or give this one another database)")]
	SchemaMismatch {
		/// The file or URL (password hidden).
		target: String,
		/// The migration's version.
		version: i64,
		/// What does not match.
		reason: &'static str,
	},

	/// A schema migration failed part-way in an earlier attempt.
	#[error("schema migration {version} of the store at `{target}` failed part-way earlier and left the database dirty (hint: restore the database from a backup, or give stagenet another one)")]
	DirtySchema {
		/// The file or URL (password hidden).
		target: String,
		/// The failed migration's version.
		version: i64,
	},

	/// The schema could not be brought up to date.
	#[error("cannot bring the schema of the store at `{target}` up to date: {source} (hint: check that the database user may create tables and indexes)")]
	Migrate {
		/// The file or URL (password hidden).
		target: String,
		/// The cause.
		#[source]
		source: sqlx::migrate::MigrateError,
	},

	/// A query failed.
	#[error("cannot {action}: {source}")]
	Query {
		/// What was being done (`add block #42 to run `r1``).
		action: String,
		/// The cause.
		#[source]
		source: sqlx::Error,
	},

	/// [`Store::create_run`](crate::Store::create_run) with an id that exists.
	#[error("run `{run}` already exists in the store (hint: run ids are unique; start the run under another id, or read the existing one with `stagenet report`)")]
	RunExists {
		/// The run id.
		run: String,
	},

	/// The run is not in the store.
	#[error("run `{run}` is not in the store ({}) (hint: `stagenet report` without a run lists the runs of this store; for a run recorded in another one, point `stagenet report --database-url …` at it)", known_runs(.known))]
	RunNotFound {
		/// The run id asked for.
		run: String,
		/// The runs the store holds, newest first.
		known: Vec<String>,
	},

	/// A record with the same number already exists.
	#[error(
		"{record} is already recorded in run `{run}` (hint: number each {kind} once within a run)"
	)]
	Duplicate {
		/// The run id.
		run: String,
		/// What (`finding #3`).
		record: String,
		/// The kind of record (`finding`).
		kind: &'static str,
	},

	/// A record handed to the store is inconsistent.
	#[error("cannot store {record} in run `{run}`: {reason}")]
	InvalidRecord {
		/// The run id.
		run: String,
		/// What (`extrinsic #2 of block #42`).
		record: String,
		/// What is wrong.
		reason: String,
	},

	/// A stored value cannot be read back.
	#[error("{record} of run `{run}` cannot be read from the store: {reason} (hint: the store may have been written by another stagenet version or edited by hand)")]
	Corrupt {
		/// The run id.
		run: String,
		/// What (`block`, column `heights`).
		record: String,
		/// What is wrong.
		reason: String,
	},
}

impl StoreError {
	/// Whether the run asked for is not in the store.
	pub fn is_run_not_found(&self) -> bool {
		matches!(self, StoreError::RunNotFound { .. })
	}

	/// Whether a run with that id already exists.
	pub fn is_run_exists(&self) -> bool {
		matches!(self, StoreError::RunExists { .. })
	}

	/// Whether the database was written by a newer stagenet.
	pub fn is_newer_schema(&self) -> bool {
		matches!(self, StoreError::NewerSchema { .. })
	}

	/// Whether the store could not be reached at all (connect failure or no answer).
	pub fn is_connect(&self) -> bool {
		matches!(
			self,
			StoreError::Connect { .. } | StoreError::Timeout { .. }
		)
	}

	/// Whether the database did not answer in time.
	pub fn is_timeout(&self) -> bool {
		matches!(self, StoreError::Timeout { .. })
	}

	/// Whether the target given is at fault (an unsupported form, or a store a reader needs
	/// that does not exist), rather than the database behind it.
	pub fn is_bad_target(&self) -> bool {
		self.exit() == Exit::BadInput
	}
}

/// The target given at fault (an unsupported form, or a store a reader needs that does not
/// exist) is bad input (exit 2); the database behind it, or what it holds, is infrastructure
/// (exit 3).
impl ExitStatus for StoreError {
	fn exit(&self) -> Exit {
		match self {
			StoreError::InvalidTarget { .. } | StoreError::Absent { .. } => Exit::BadInput,
			StoreError::Timeout { .. }
			| StoreError::CreateDir { .. }
			| StoreError::Connect { .. }
			| StoreError::NotAStore { .. }
			| StoreError::NewerSchema { .. }
			| StoreError::SchemaMismatch { .. }
			| StoreError::DirtySchema { .. }
			| StoreError::Migrate { .. }
			| StoreError::Query { .. }
			| StoreError::RunExists { .. }
			| StoreError::RunNotFound { .. }
			| StoreError::Duplicate { .. }
			| StoreError::InvalidRecord { .. }
			| StoreError::Corrupt { .. } => Exit::Infrastructure,
		}
	}
}

fn timeout_hint(backend: &str) -> &'static str {
	match backend {
		"postgres" => "something accepts connections at that address but does not answer as a PostgreSQL server: check the URL's host and port, and that the server is not overloaded",
		_ => "another process may hold the SQLite file locked: check that no other stagenet writes to it",
	}
}

fn connect_hint(backend: &str) -> &'static str {
	match backend {
		"postgres" => "check that the server runs and accepts connections from this machine, and the URL's user, password and database; `scripts/postgres start <dir>` starts a local server",
		_ => "check that the path is a SQLite database (or does not exist yet) and that its directory is writable",
	}
}

fn known_runs(known: &[String]) -> String {
	if known.is_empty() {
		return "the store holds no runs".to_string();
	}
	let shown: Vec<String> = known
		.iter()
		.take(KNOWN_RUNS_SHOWN)
		.map(|r| format!("`{r}`"))
		.collect();
	let more = known.len().saturating_sub(KNOWN_RUNS_SHOWN);
	let list = shown.join(", ");
	match more {
		0 => format!("known runs, newest first: {list}"),
		n => format!("known runs, newest first: {list} and {n} more"),
	}
}
