//! What every stagenet test binary shares.
//!
//! - [`Service`] and [`require!`]: a test names the services it needs (the test chain, the
//!   Docker engine, PostgreSQL, Chromium, the Subtensor artefacts, the Bittensor SDK). On a
//!   developer's machine a test whose service is absent is skipped with a printed reason and
//!   the hint that provides it; under CI (`CI` set, as `.ci/run` does) the same absence fails
//!   the test, so a tier can never pass by skipping everything.
//! - [`output_within`]: every process a test spawns and waits for has a deadline; past it the
//!   process is killed and the test fails with what it printed so far.

use std::{
	io::Read,
	path::{Path, PathBuf},
	process::{Child, Command, ExitStatus, Output, Stdio},
	time::{Duration, Instant},
};

/// A service a test needs beyond the `stagenet` binary itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
	/// The bundled test chain's node and runtime variants (`scripts/build-test-chain`).
	TestChain,
	/// A reachable Docker engine (`docker version` answers).
	Docker,
	/// PostgreSQL: `STAGENET_TEST_DATABASE_URL`, or binaries `scripts/postgres` can start.
	Postgres,
	/// A headless Chromium.
	Chromium,
	/// The real Subtensor artefacts (`../shared/subtensor/` or `STAGENET_SUBTENSOR_DIR`).
	Subtensor,
	/// The pinned Bittensor SDK's virtual environment (`scripts/setup-bittensor`).
	BittensorSdk,
}

/// Why a service is not there, and what provides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absent {
	/// What was looked for and not found.
	pub reason: String,
	/// The command that provides it.
	pub hint: &'static str,
}

impl std::fmt::Display for Absent {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		write!(f, "{} (hint: {})", self.reason, self.hint)
	}
}

/// The repository root.
pub fn repo_root() -> PathBuf {
	Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bundled test chain's node binary.
pub fn test_node() -> PathBuf {
	repo_root().join("target/test-chain/stagenet-test-node")
}

/// The folder of the real Subtensor artefacts.
pub fn subtensor_dir() -> PathBuf {
	std::env::var_os("STAGENET_SUBTENSOR_DIR")
		.map(PathBuf::from)
		.unwrap_or_else(|| repo_root().join("../shared/subtensor"))
}

/// Names of a headless Chromium, in the order they are tried on `PATH`.
const CHROMIUM: [&str; 6] = [
	"chromium-headless-shell",
	"chromium",
	"chromium-browser",
	"google-chrome",
	"google-chrome-stable",
	"headless_shell",
];

/// The headless Chromium to use, if any: `STAGENET_CHROMIUM`, else the first of [`CHROMIUM`]
/// on `PATH`, else Debian's `/usr/lib/chromium/chromium-headless-shell`.
pub fn chromium() -> Option<PathBuf> {
	if let Some(p) = std::env::var_os("STAGENET_CHROMIUM") {
		return Some(PathBuf::from(p));
	}
	let debian = PathBuf::from("/usr/lib/chromium/chromium-headless-shell");
	CHROMIUM
		.iter()
		.find_map(|name| in_path(name))
		.or_else(|| debian.is_file().then_some(debian))
}

fn in_path(name: &str) -> Option<PathBuf> {
	std::env::var_os("PATH").and_then(|paths| {
		std::env::split_paths(&paths)
			.map(|dir| dir.join(name))
			.find(|p| p.is_file())
	})
}

impl Service {
	/// `Ok` when the service is there, else why not.
	pub fn check(self) -> Result<(), Absent> {
		match self {
			Service::TestChain => {
				let node = test_node();
				let runtimes = repo_root().join("target/test-chain/runtimes");
				if node.is_file() && runtimes.is_dir() {
					Ok(())
				} else {
					Err(Absent {
						reason: format!("the test chain is not built (`{}` is missing)", node.display()),
						hint: "scripts/build-test-chain",
					})
				}
			}
			Service::Docker => {
				let mut cmd = Command::new("docker");
				cmd.args(["version", "--format", "{{.Server.Version}}"]);
				match try_output_within(cmd, Duration::from_secs(20)) {
					Ok(out) if out.status.success() => Ok(()),
					Ok(out) => Err(Absent {
						reason: format!(
							"the Docker engine does not answer: {}",
							String::from_utf8_lossy(&out.stderr).trim()
						),
						hint: "start the Docker engine, or run another tier",
					}),
					Err(e) => Err(Absent {
						reason: format!("`docker version` could not run: {e}"),
						hint: "install and start the Docker engine, or run another tier",
					}),
				}
			}
			Service::Postgres => {
				let url = std::env::var_os("STAGENET_TEST_DATABASE_URL").is_some();
				let debian = std::fs::read_dir("/usr/lib/postgresql")
					.map(|d| d.flatten().any(|e| e.path().join("bin/initdb").is_file()))
					.unwrap_or(false);
				if url || debian || in_path("initdb").is_some() {
					Ok(())
				} else {
					Err(Absent {
						reason: "no PostgreSQL: STAGENET_TEST_DATABASE_URL is unset and no `initdb` is installed".into(),
						hint: "scripts/setup",
					})
				}
			}
			Service::Chromium => chromium().map(|_| ()).ok_or(Absent {
				reason: format!(
					"no headless Chromium: STAGENET_CHROMIUM is unset and none of `{}` is on PATH",
					CHROMIUM.join("`, `")
				),
				hint: "scripts/setup",
			}),
			Service::Subtensor => {
				let dir = subtensor_dir();
				if dir.join("README.md").is_file() {
					Ok(())
				} else {
					Err(Absent {
						reason: format!("the Subtensor artefacts are not at `{}`", dir.display()),
						hint: "set STAGENET_SUBTENSOR_DIR to the folder that holds them",
					})
				}
			}
			Service::BittensorSdk => {
				let venv = std::env::var_os("STAGENET_BITTENSOR_VENV")
					.map(PathBuf::from)
					.unwrap_or_else(|| {
						std::env::var_os("HOME")
							.map(PathBuf::from)
							.unwrap_or_default()
							.join(".cache/stagenet/bittensor-venv")
					});
				let python = venv.join("bin/python");
				if python.exists() {
					Ok(())
				} else {
					Err(Absent {
						reason: format!("the Bittensor SDK is not installed (`{}` is missing)", python.display()),
						hint: "scripts/setup-bittensor",
					})
				}
			}
		}
	}
}

/// Whether the tests run under CI: `CI` is set to anything but `""`, `0` or `false`.
pub fn under_ci() -> bool {
	std::env::var("CI")
		.map(|v| !matches!(v.trim(), "" | "0" | "false"))
		.unwrap_or(false)
}

/// Whether every service of `needs` is there. When one is absent: under CI the test fails
/// with the reason; elsewhere the reason is printed as a skip and `false` returned.
#[track_caller]
pub fn need(test: &str, needs: &[Service]) -> bool {
	match needs.iter().find_map(|s| s.check().err().map(|a| (*s, a))) {
		None => true,
		Some((service, absent)) => skip_or_fail(test, service, &absent, under_ci()),
	}
}

#[track_caller]
fn skip_or_fail(test: &str, service: Service, absent: &Absent, ci: bool) -> bool {
	if ci {
		panic!("{test} needs {service:?}: {absent} (CI is set: an absent service fails the test)");
	}
	eprintln!("skipped {test}: needs {service:?}: {absent}");
	false
}

/// Returns from the calling test, printing why, unless every service named is there (under
/// CI an absent service fails the test instead): `require!(TestChain, Docker);`.
#[macro_export]
macro_rules! require {
	($($service:ident),+ $(,)?) => {
		if !$crate::need(module_path!(), &[$($crate::Service::$service),+]) {
			return;
		}
	};
}

/// Runs `cmd` to completion with its output captured, or kills it after `timeout`.
///
/// The process runs in a process group of its own, and the whole group is killed at the
/// deadline: a shell's children would otherwise keep its pipes open.
pub fn try_output_within(mut cmd: Command, timeout: Duration) -> std::io::Result<Output> {
	use std::os::unix::process::CommandExt as _;
	let child = cmd
		.process_group(0)
		.stdin(Stdio::null())
		.stdout(Stdio::piped())
		.stderr(Stdio::piped())
		.spawn()?;
	finish_within(child, timeout, true)
}

/// Waits for a child a test spawned itself (with piped output) to exit, collecting what it
/// printed, for at most `timeout`; past it the child is killed and the test fails with what
/// it printed so far.
#[track_caller]
pub fn wait_with_output_within(child: Child, timeout: Duration) -> Output {
	match finish_within(child, timeout, false) {
		Ok(out) => out,
		Err(e) => panic!("a spawned process: {e}"),
	}
}

/// Waits for a child a test spawned itself to exit, for at most `timeout`; past it the child
/// is killed and the test fails.
#[track_caller]
pub fn wait_within(child: &mut Child, timeout: Duration) -> ExitStatus {
	let deadline = Instant::now() + timeout;
	loop {
		match child.try_wait() {
			Ok(Some(status)) => return status,
			Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
			Ok(None) => {
				let _ = child.kill();
				let _ = child.wait();
				panic!("process {} still ran after {timeout:?}, killed", child.id());
			}
			Err(e) => panic!("cannot wait for process {}: {e}", child.id()),
		}
	}
}

/// Collects `child`'s output until it exits or `timeout` passes (then kills it, and its
/// process group when `group` — the child leads one).
fn finish_within(mut child: Child, timeout: Duration, group: bool) -> std::io::Result<Output> {
	let stdout = child.stdout.take().map(drain);
	let stderr = child.stderr.take().map(drain);
	let deadline = Instant::now() + timeout;
	let status = loop {
		if let Some(status) = child.try_wait()? {
			break Some(status);
		}
		if Instant::now() >= deadline {
			if group {
				let _ = Command::new("kill")
					.args(["-KILL", "--", &format!("-{}", child.id())])
					.status();
			}
			let _ = child.kill();
			let _ = child.wait();
			break None;
		}
		std::thread::sleep(Duration::from_millis(20));
	};
	let stdout = stdout.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
	let stderr = stderr.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
	match status {
		Some(status) => Ok(Output { status, stdout, stderr }),
		None => Err(std::io::Error::new(
			std::io::ErrorKind::TimedOut,
			format!(
				"still running after {timeout:?}, killed; stdout:\n{}\nstderr:\n{}",
				String::from_utf8_lossy(&stdout),
				String::from_utf8_lossy(&stderr)
			),
		)),
	}
}

/// How long a command a test spawns and waits for may run by default (the longest rehearsal
/// of the suite takes a few minutes; a hung command fails its test here rather than CI's
/// global limit).
pub const LIMIT: Duration = Duration::from_secs(20 * 60);

/// `Command::output` with a deadline: `cmd.output_within(LIMIT)`.
pub trait OutputWithin {
	/// Runs the command to completion with its output captured, or kills it after `timeout`
	/// (the error then holds what it printed).
	fn output_within(&mut self, timeout: Duration) -> std::io::Result<Output>;
}

impl OutputWithin for Command {
	fn output_within(&mut self, timeout: Duration) -> std::io::Result<Output> {
		let mut cmd = Command::new(self.get_program());
		cmd.args(self.get_args());
		for (key, value) in self.get_envs() {
			match value {
				Some(v) => cmd.env(key, v),
				None => cmd.env_remove(key),
			};
		}
		if let Some(dir) = self.get_current_dir() {
			cmd.current_dir(dir);
		}
		try_output_within(cmd, timeout)
	}
}

/// [`try_output_within`] for tests: a process that cannot start or outlives `timeout` fails
/// the test with the command and what it printed.
#[track_caller]
pub fn output_within(cmd: Command, timeout: Duration) -> Output {
	let shown = format!("{cmd:?}");
	match try_output_within(cmd, timeout) {
		Ok(out) => out,
		Err(e) => panic!("{shown}: {e}"),
	}
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
	std::thread::spawn(move || {
		let mut buf = Vec::new();
		let _ = pipe.read_to_end(&mut buf);
		buf
	})
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_process_past_its_deadline_is_killed_and_named() {
		let mut cmd = Command::new("sh");
		cmd.args(["-c", "echo started; sleep 30"]);
		let start = Instant::now();
		let err = try_output_within(cmd, Duration::from_millis(500)).expect_err("killed");
		assert!(start.elapsed() < Duration::from_secs(10));
		assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
		assert!(err.to_string().contains("started"), "{err}");
	}

	#[test]
	fn a_spawned_child_past_its_deadline_fails_the_test() {
		let child = Command::new("sleep")
			.arg("30")
			.stdout(Stdio::piped())
			.spawn()
			.expect("sleep");
		let start = Instant::now();
		let failed = std::panic::catch_unwind(move || {
			wait_with_output_within(child, Duration::from_millis(300))
		});
		assert!(failed.is_err(), "the deadline passed without a failure");
		assert!(start.elapsed() < Duration::from_secs(10));
		let mut quick = Command::new("true").spawn().expect("true");
		assert!(wait_within(&mut quick, Duration::from_secs(20)).success());
	}

	#[test]
	fn a_process_within_its_deadline_returns_its_output() {
		let mut cmd = Command::new("sh");
		cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
		let out = try_output_within(cmd, Duration::from_secs(20)).expect("ran");
		assert_eq!(out.status.code(), Some(3));
		assert_eq!(out.stdout, b"out\n");
		assert_eq!(out.stderr, b"err\n");
	}

	#[test]
	fn an_absent_service_is_a_skip_here_and_a_failure_under_ci() {
		let absent = Absent {
			reason: "the thing is missing".into(),
			hint: "scripts/make-thing",
		};
		assert!(!skip_or_fail("t", Service::Docker, &absent, false));
		let failed = std::panic::catch_unwind(|| skip_or_fail("t", Service::Docker, &absent, true));
		let message = failed.expect_err("fails under CI");
		let text = message.downcast_ref::<String>().cloned().unwrap_or_default();
		assert!(text.contains("the thing is missing (hint: scripts/make-thing)"), "{text}");
	}

	#[test]
	fn absent_artefacts_are_named_with_a_hint() {
		std::env::set_var("STAGENET_SUBTENSOR_DIR", "/nonexistent/stagenet-subtensor");
		let absent = Service::Subtensor.check().expect_err("absent");
		assert!(absent.reason.contains("/nonexistent/stagenet-subtensor"), "{absent}");
		assert!(absent.to_string().contains("hint:"), "{absent}");
	}
}
