//! Files stagenet reads and writes, handled the same way by every command:
//!
//! - [`read_bounded`]: an input file read whole (a profile, topology, scenario, load profile,
//!   chain spec, runtime) must be a regular file no larger than a stated bound, so that
//!   `/dev/zero`, a FIFO or a runaway file is refused at once instead of filling memory.
//! - [`OutputLock`]: every output a command writes (a snapshot and its `.partial` work
//!   directory, a fork's spec, a capture database, a run directory) is owned by one process at a
//!   time through an advisory lock on `<output>.lock`. A second writer is refused and told
//!   which process holds the output. The lock dies with its process (no stale locks after
//!   `kill -9`), and the lock file is removed when the owner finishes.

use crate::exit::{Exit, ExitStatus};
use std::{
	fmt,
	fs::{File, OpenOptions},
	io::{Read as _, Seek as _, SeekFrom, Write as _},
	path::{Path, PathBuf},
	time::{SystemTime, UNIX_EPOCH},
};

/// Largest configuration file (profile, topology, scenario, load profile) read whole.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;
/// Largest chain spec read whole (a raw spec of a test network or a genesis).
pub const MAX_SPEC_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Largest runtime (wasm) read whole.
pub const MAX_WASM_BYTES: u64 = 256 * 1024 * 1024;

/// Why an input file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
	/// The file could not be opened or read.
	#[error("cannot read {what} `{}`: {source}", path.display())]
	Io {
		/// What the file is (`profile`, `topology`, …).
		what: String,
		/// The file.
		path: PathBuf,
		/// The cause.
		#[source]
		source: std::io::Error,
	},
	/// Not a regular file (a directory, a device such as `/dev/zero`, a FIFO, a socket).
	#[error(
		"{what} `{}` is a {kind}, not a regular file (hint: give the path of a {what} file)",
		path.display()
	)]
	NotAFile {
		/// What the file is.
		what: String,
		/// The file.
		path: PathBuf,
		/// What it is instead.
		kind: &'static str,
	},
	/// Larger than the bound for its kind.
	#[error(
		"{what} `{}` is larger than {limit} bytes (saw {seen}{more}); a {what} this large is not \
		 one stagenet wrote or expects (hint: check the path)",
		path.display(),
		more = if *.grew { ", and it kept growing while read" } else { "" }
	)]
	TooLarge {
		/// What the file is.
		what: String,
		/// The file.
		path: PathBuf,
		/// The bound.
		limit: u64,
		/// Bytes seen (at least).
		seen: u64,
		/// Whether the file grew past the bound while it was read.
		grew: bool,
	},
	/// Not UTF-8 text.
	#[error("{what} `{}` is not UTF-8 text: {source} (hint: check the path)", path.display())]
	NotText {
		/// What the file is.
		what: String,
		/// The file.
		path: PathBuf,
		/// The cause.
		#[source]
		source: std::string::FromUtf8Error,
	},
}

/// Every read error is bad input: the file was wrong, and permissions and missing files
/// count too (the user named them).
impl ExitStatus for ReadError {
	fn exit(&self) -> Exit {
		match self {
			ReadError::Io { .. }
			| ReadError::NotAFile { .. }
			| ReadError::TooLarge { .. }
			| ReadError::NotText { .. } => Exit::BadInput,
		}
	}
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
	use std::os::unix::fs::FileTypeExt as _;
	let t = meta.file_type();
	if t.is_dir() {
		"directory"
	} else if t.is_char_device() {
		"character device"
	} else if t.is_block_device() {
		"block device"
	} else if t.is_fifo() {
		"FIFO (named pipe)"
	} else if t.is_socket() {
		"socket"
	} else {
		"special file"
	}
}

/// Checks that `path` is a regular file of at most `limit` bytes, without reading it; returns
/// its size.
pub fn check_regular(path: &Path, what: &str, limit: u64) -> Result<u64, ReadError> {
	let meta = std::fs::metadata(path).map_err(|source| ReadError::Io {
		what: what.to_string(),
		path: path.to_path_buf(),
		source,
	})?;
	if !meta.is_file() {
		return Err(ReadError::NotAFile {
			what: what.to_string(),
			path: path.to_path_buf(),
			kind: kind_of(&meta),
		});
	}
	if meta.len() > limit {
		return Err(ReadError::TooLarge {
			what: what.to_string(),
			path: path.to_path_buf(),
			limit,
			seen: meta.len(),
			grew: false,
		});
	}
	Ok(meta.len())
}

/// Reads a whole input file: refused unless it is a regular file of at most `limit` bytes
/// (also when it grows past the bound while being read). `what` names it in errors.
pub fn read_bounded(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>, ReadError> {
	let io = |source| ReadError::Io {
		what: what.to_string(),
		path: path.to_path_buf(),
		source,
	};
	// Check the type before opening: opening a FIFO blocks until a writer appears.
	let size = check_regular(path, what, limit)?;
	let file = File::open(path).map_err(io)?;
	let meta = file.metadata().map_err(io)?;
	if !meta.is_file() {
		return Err(ReadError::NotAFile {
			what: what.to_string(),
			path: path.to_path_buf(),
			kind: kind_of(&meta),
		});
	}
	let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
	file.take(limit.saturating_add(1))
		.read_to_end(&mut bytes)
		.map_err(io)?;
	if bytes.len() as u64 > limit {
		return Err(ReadError::TooLarge {
			what: what.to_string(),
			path: path.to_path_buf(),
			limit,
			seen: bytes.len() as u64,
			grew: true,
		});
	}
	Ok(bytes)
}

/// [`read_bounded`] for text files.
pub fn read_text_bounded(path: &Path, what: &str, limit: u64) -> Result<String, ReadError> {
	let bytes = read_bounded(path, what, limit)?;
	String::from_utf8(bytes).map_err(|source| ReadError::NotText {
		what: what.to_string(),
		path: path.to_path_buf(),
		source,
	})
}

/// Who holds an output, as written into its lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
	/// Process id.
	pub pid: u32,
	/// The command line, shortened.
	pub command: String,
	/// When it took the lock (seconds since the Unix epoch).
	pub since: u64,
}

impl fmt::Display for Holder {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		let now = SystemTime::now()
			.duration_since(UNIX_EPOCH)
			.map(|d| d.as_secs())
			.unwrap_or(0);
		write!(
			f,
			"pid {} (`{}`), for {} s",
			self.pid,
			self.command,
			now.saturating_sub(self.since)
		)
	}
}

impl Holder {
	fn me() -> Self {
		let mut command: String = std::env::args()
			.map(|a| {
				if a.contains(char::is_whitespace) {
					format!("'{a}'")
				} else {
					a
				}
			})
			.collect::<Vec<_>>()
			.join(" ");
		if command.len() > 200 {
			let mut end = 200;
			while !command.is_char_boundary(end) {
				end -= 1;
			}
			command.truncate(end);
			command.push('…');
		}
		Self {
			pid: std::process::id(),
			command,
			since: SystemTime::now()
				.duration_since(UNIX_EPOCH)
				.map(|d| d.as_secs())
				.unwrap_or(0),
		}
	}

	fn encode(&self) -> String {
		format!(
			"pid={}\nsince={}\ncommand={}\n",
			self.pid, self.since, self.command
		)
	}

	fn decode(text: &str) -> Option<Self> {
		let mut pid = None;
		let mut since = None;
		let mut command = None;
		for line in text.lines() {
			if let Some(v) = line.strip_prefix("pid=") {
				pid = v.parse().ok();
			} else if let Some(v) = line.strip_prefix("since=") {
				since = v.parse().ok();
			} else if let Some(v) = line.strip_prefix("command=") {
				command = Some(v.to_string());
			}
		}
		Some(Self {
			pid: pid?,
			since: since.unwrap_or(0),
			command: command.unwrap_or_default(),
		})
	}
}

/// Why an output could not be owned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
	/// Another process owns the output.
	#[error(
		"`{}` is being written by another stagenet process: {}{} (hint: wait for it to finish, \
		 stop it, or choose another output; two writers would corrupt it)",
		output.display(),
		holder.as_ref().map_or_else(|| "a process that did not say who it is".to_string(), |h| h.to_string()),
		if *.same_process { " (this process)" } else { "" }
	)]
	Held {
		/// The output.
		output: PathBuf,
		/// Who holds it, when it said.
		holder: Option<Holder>,
		/// Whether the holder is this very process (a second lock taken by mistake).
		same_process: bool,
	},
	/// The lock file could not be created or locked.
	#[error("cannot lock `{}` through `{}`: {source}", output.display(), lock.display())]
	Io {
		/// The output.
		output: PathBuf,
		/// The lock file.
		lock: PathBuf,
		/// The cause.
		#[source]
		source: std::io::Error,
	},
}

impl LockError {
	/// Whether the output is held by another process (a usage conflict, bad input) rather
	/// than a failure of the file system.
	pub fn is_held(&self) -> bool {
		matches!(self, LockError::Held { .. })
	}
}

/// A held output is a usage conflict (bad input); a lock that cannot be taken is a failure of
/// the file system (infrastructure).
impl ExitStatus for LockError {
	fn exit(&self) -> Exit {
		match self {
			LockError::Held { .. } => Exit::BadInput,
			LockError::Io { .. } => Exit::Infrastructure,
		}
	}
}

/// The lock file of `output`: `<output>.lock` beside it.
pub fn lock_path(output: &Path) -> PathBuf {
	let mut name = output
		.file_name()
		.map(|n| n.to_os_string())
		.unwrap_or_else(|| "output".into());
	name.push(".lock");
	output.with_file_name(name)
}

/// Exclusive ownership of one output, held until dropped (or the process ends).
#[derive(Debug)]
pub struct OutputLock {
	file: File,
	path: PathBuf,
	output: PathBuf,
}

impl OutputLock {
	/// Takes the lock of `output` (a file or directory that need not exist yet; its parent
	/// must). Refused with who holds it when another process (or this one) already does.
	pub fn acquire(output: &Path) -> Result<Self, LockError> {
		let path = lock_path(output);
		let io = |source| LockError::Io {
			output: output.to_path_buf(),
			lock: path.clone(),
			source,
		};
		// A lock file can be removed by its owner between our open and our lock: then we
		// would hold a lock on a file nobody else sees. Retry until the locked file is the
		// one at the path.
		for _ in 0..20 {
			let mut file = OpenOptions::new()
				.read(true)
				.write(true)
				.create(true)
				.truncate(false)
				.open(&path)
				.map_err(io)?;
			match file.try_lock() {
				Ok(()) => {}
				Err(std::fs::TryLockError::WouldBlock) => {
					let mut text = String::new();
					let _ = file.read_to_string(&mut text);
					let holder = Holder::decode(&text);
					let same_process = holder.as_ref().is_some_and(|h| h.pid == std::process::id());
					return Err(LockError::Held {
						output: output.to_path_buf(),
						holder,
						same_process,
					});
				}
				Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
			}
			if !same_file(&file, &path) {
				continue;
			}
			let me = Holder::me().encode();
			file.set_len(0).map_err(io)?;
			file.seek(SeekFrom::Start(0)).map_err(io)?;
			file.write_all(me.as_bytes()).map_err(io)?;
			file.flush().map_err(io)?;
			return Ok(Self {
				file,
				path,
				output: output.to_path_buf(),
			});
		}
		Err(io(std::io::Error::other(
			"the lock file kept being replaced while locking it",
		)))
	}

	/// The output this lock owns.
	pub fn output(&self) -> &Path {
		&self.output
	}

	/// The lock file.
	pub fn lock_file(&self) -> &Path {
		&self.path
	}
}

fn same_file(file: &File, path: &Path) -> bool {
	use std::os::unix::fs::MetadataExt as _;
	match (file.metadata(), std::fs::metadata(path)) {
		(Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
		_ => false,
	}
}

impl Drop for OutputLock {
	fn drop(&mut self) {
		// Remove while still holding the lock, so that nobody can lock the file we remove.
		if same_file(&self.file, &self.path) {
			let _ = std::fs::remove_file(&self.path);
		}
		let _ = self.file.unlock();
	}
}

/// Whether `a` and `b` name the same file (both exist and share device and inode), or the
/// same path once made absolute when either does not exist yet.
pub fn same_path(a: &Path, b: &Path) -> bool {
	use std::os::unix::fs::MetadataExt as _;
	if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
		return x.dev() == y.dev() && x.ino() == y.ino();
	}
	match (std::path::absolute(a), std::path::absolute(b)) {
		(Ok(x), Ok(y)) => x == y,
		_ => false,
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_held_lock_is_bad_input_and_one_that_cannot_be_taken_is_infrastructure() {
		let held = LockError::Held {
			output: "out".into(),
			holder: None,
			same_process: false,
		};
		assert_eq!(held.exit(), Exit::BadInput);
		let io = LockError::Io {
			output: "out".into(),
			lock: "out.lock".into(),
			source: std::io::Error::other("no"),
		};
		assert_eq!(io.exit(), Exit::Infrastructure);
	}

	#[test]
	fn a_second_lock_is_refused_with_the_holder_and_freed_on_drop() {
		let dir = tempfile::tempdir().expect("tempdir");
		let out = dir.path().join("state.snap");
		let first = OutputLock::acquire(&out).expect("first");
		let err = OutputLock::acquire(&out).expect_err("second");
		let text = err.to_string();
		assert!(err.is_held(), "{text}");
		assert!(
			text.contains(&format!("pid {}", std::process::id())),
			"{text}"
		);
		assert!(text.contains("hint:"), "{text}");
		drop(first);
		assert!(!lock_path(&out).exists());
		let _again = OutputLock::acquire(&out).expect("after drop");
	}

	#[test]
	fn devices_fifos_directories_and_big_files_are_refused() {
		let dir = tempfile::tempdir().expect("tempdir");
		let err = read_bounded(Path::new("/dev/zero"), "profile", 1024).expect_err("device");
		assert!(err.to_string().contains("character device"), "{err}");
		let err = read_bounded(dir.path(), "profile", 1024).expect_err("dir");
		assert!(err.to_string().contains("directory"), "{err}");
		let fifo = dir.path().join("fifo");
		let made = std::process::Command::new("mkfifo")
			.arg(&fifo)
			.status()
			.expect("mkfifo");
		assert!(made.success());
		let err = read_bounded(&fifo, "topology", 1024).expect_err("fifo");
		assert!(err.to_string().contains("FIFO"), "{err}");
		let big = dir.path().join("big.yaml");
		std::fs::write(&big, vec![b'a'; 2048]).expect("write");
		let err = read_bounded(&big, "scenario", 1024).expect_err("big");
		assert!(err.to_string().contains("larger than 1024 bytes"), "{err}");
		let ok = dir.path().join("ok.yaml");
		std::fs::write(&ok, b"version: 1\n").expect("write");
		assert_eq!(
			read_text_bounded(&ok, "scenario", 1024).expect("ok"),
			"version: 1\n"
		);
	}

	#[test]
	fn same_path_sees_through_links_and_relative_paths() {
		let dir = tempfile::tempdir().expect("tempdir");
		let a = dir.path().join("a.snap");
		std::fs::write(&a, b"x").expect("write");
		let link = dir.path().join("b.snap");
		std::os::unix::fs::symlink(&a, &link).expect("link");
		assert!(same_path(&a, &link));
		assert!(!same_path(&a, &dir.path().join("c.snap")));
	}
}
