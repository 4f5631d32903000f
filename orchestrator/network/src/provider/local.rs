//! The local provider: node processes and workloads on this machine, on loopback.
//!
//! Each program runs under a small `/bin/sh` guard in its own process group. The guard reads
//! a pipe whose write end only stagenet holds: when stagenet exits for any reason (normal
//! end, Ctrl-C, a panic, SIGKILL) the pipe closes and the guard kills its whole group, so no
//! node outlives the process that started it. Every process also carries the run id in
//! `STAGENET_RUN` (and its owner in `STAGENET_OWNER`), which is how `down` and the orphan
//! report find processes of a run without any state file.

use super::{
	Capabilities, DynNamespace, DynNode, Endpoints, Namespace, Node, NodeAddresses, Program,
	Provider, Resource, SpawnOptions,
};
use crate::{gpu, ports::free_ports, NetworkError, Result};
use async_trait::async_trait;
use nix::{
	sys::signal::{killpg, Signal},
	unistd::Pid,
};
use std::{
	collections::BTreeMap,
	io::Write as _,
	path::{Path, PathBuf},
	process::Stdio,
	sync::{Arc, Mutex},
	time::Duration,
};
use tokio::process::{Child, ChildStdin, Command};

const PROVIDER: &str = "local";
/// Environment variable with the run id on every process.
pub const RUN_ENV: &str = "STAGENET_RUN";
/// Environment variable with the owner's pid on every process.
pub const OWNER_ENV: &str = "STAGENET_OWNER";
/// Environment variable with the scope (`<uid>:<runs dir>`) on every process.
pub const SCOPE_ENV: &str = "STAGENET_SCOPE";

/// The guard: runs `"$@"` with stdin from /dev/null, and kills the process group when its
/// own stdin (a pipe from stagenet) closes. Exits with the program's status.
const GUARD: &str = r#"exec 3<&0 0</dev/null
"$@" &
program=$!
{ read -r _ <&3; kill -KILL 0; } &
watcher=$!
wait "$program"
code=$?
kill "$watcher" 2>/dev/null
exit "$code""#;

/// Local processes, the embedded default.
#[derive(Debug, Default, Clone)]
pub struct LocalProvider;

impl LocalProvider {
	/// The provider; it needs nothing but `/bin/sh`.
	pub fn new() -> Self {
		Self
	}
}

#[async_trait]
impl Provider for LocalProvider {
	fn name(&self) -> &'static str {
		PROVIDER
	}

	fn capabilities(&self) -> Capabilities {
		Capabilities {
			runs_commands: true,
			runs_images: false,
			pause: true,
			partition: false,
			resource_limits: false,
			gpus: true,
			outlives_owner: false,
			same_machine: true,
		}
	}

	async fn preflight(&self, programs: &[Program], _gpus: usize) -> Result<()> {
		for program in programs {
			match program {
				Program::Command(path) => {
					resolve_program(path)?;
				}
				Program::Image(image) => {
					return Err(NetworkError::Unsupported {
						provider: PROVIDER,
						what: format!("run the image `{image}`"),
						hint: "give `command:` (or `node.binary`) for local processes, or use \
						       `--provider docker`"
							.into(),
					})
				}
			}
		}
		Ok(())
	}

	async fn create_namespace(&self, run_id: &str, dir: &Path) -> Result<DynNamespace> {
		std::fs::create_dir_all(dir).map_err(|source| NetworkError::Io {
			path: dir.to_path_buf(),
			source,
		})?;
		Ok(Arc::new(LocalNamespace {
			run_id: run_id.to_string(),
			dir: dir.to_path_buf(),
			nodes: Mutex::new(Vec::new()),
		}))
	}

	async fn resources(&self) -> Result<Vec<Resource>> {
		Ok(run_processes(None))
	}

	async fn destroy_run(&self, run_id: &str) -> Result<Vec<Resource>> {
		let found = run_processes(Some(run_id));
		for r in &found {
			if let Ok(pid) = r.name.parse::<i32>() {
				let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
			}
		}
		// Wait (bounded) for the processes to be gone, so that callers see a clean table.
		for _ in 0..50 {
			if run_processes(Some(run_id)).is_empty() {
				break;
			}
			tokio::time::sleep(Duration::from_millis(100)).await;
		}
		Ok(found)
	}
}

/// Processes whose environment carries `STAGENET_RUN` (equal to `run_id` if given).
fn run_processes(run_id: Option<&str>) -> Vec<Resource> {
	let mut out = Vec::new();
	let Ok(entries) = std::fs::read_dir("/proc") else {
		return out;
	};
	let me = std::process::id();
	for entry in entries.flatten() {
		let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
			continue;
		};
		if pid == me {
			continue;
		}
		let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
			continue;
		};
		let mut run = None;
		let mut owner = None;
		let mut scope = None;
		for var in environ.split(|b| *b == 0) {
			let var = String::from_utf8_lossy(var);
			if let Some(v) = var.strip_prefix(&format!("{RUN_ENV}=")) {
				run = Some(v.to_string());
			} else if let Some(v) = var.strip_prefix(&format!("{OWNER_ENV}=")) {
				owner = v.parse().ok();
			} else if let Some(v) = var.strip_prefix(&format!("{SCOPE_ENV}=")) {
				scope = Some(v.to_string());
			}
		}
		let Some(run) = run else { continue };
		if run_id.is_some_and(|r| r != run) {
			continue;
		}
		// Zombies have no environment left to read, so anything here is alive.
		out.push(Resource {
			run_id: run,
			kind: "process".into(),
			name: pid.to_string(),
			owner_pid: owner,
			scope,
		});
	}
	out
}

/// A path as given, or found on `PATH` when it is a bare name.
fn resolve_program(path: &Path) -> Result<PathBuf> {
	let not_found = |source| NetworkError::NodeBinary {
		path: path.to_path_buf(),
		source,
	};
	if path.components().count() > 1 || path.is_absolute() {
		let meta = std::fs::metadata(path).map_err(not_found)?;
		if !meta.is_file() {
			return Err(not_found(std::io::Error::other("not a file")));
		}
		return std::fs::canonicalize(path).map_err(not_found);
	}
	let paths = std::env::var_os("PATH").unwrap_or_default();
	for dir in std::env::split_paths(&paths) {
		let candidate = dir.join(path);
		if candidate.is_file() {
			return Ok(candidate);
		}
	}
	Err(not_found(std::io::Error::new(
		std::io::ErrorKind::NotFound,
		"not found on PATH",
	)))
}

struct LocalNamespace {
	run_id: String,
	dir: PathBuf,
	nodes: Mutex<Vec<Arc<LocalNode>>>,
}

#[async_trait]
impl Namespace for LocalNamespace {
	fn run_id(&self) -> &str {
		&self.run_id
	}

	fn dir(&self) -> &Path {
		&self.dir
	}

	fn node_path(&self, rel: &Path) -> String {
		self.dir.join(rel).display().to_string()
	}

	async fn allocate(&self, name: &str) -> Result<NodeAddresses> {
		let ports = free_ports(3)?;
		let (p2p, rpc, prometheus) = (ports[0], ports[1], ports[2]);
		Ok(NodeAddresses {
			p2p_listen: format!("/ip4/127.0.0.1/tcp/{p2p}"),
			p2p_dial: format!("/ip4/127.0.0.1/tcp/{p2p}"),
			rpc_port: rpc,
			prometheus_port: prometheus,
			extra_args: vec![],
			rpc_url_inside: format!("ws://127.0.0.1:{rpc}"),
			base_path: self.dir.join(name).display().to_string(),
		})
	}

	async fn spawn(&self, options: SpawnOptions) -> Result<DynNode> {
		let program = match &options.program {
			Program::Command(path) => resolve_program(path)?,
			Program::Image(image) => {
				return Err(NetworkError::Unsupported {
					provider: PROVIDER,
					what: format!("run the image `{image}` for `{}`", options.name),
					hint: "give a `command:` for local processes, or use `--provider docker`"
						.into(),
				})
			}
		};
		let endpoints = if options.is_node {
			Endpoints {
				rpc_url: port_after(&options.args, "--rpc-port")
					.map(|p| format!("ws://127.0.0.1:{p}")),
				prometheus_url: port_after(&options.args, "--prometheus-port")
					.map(|p| format!("http://127.0.0.1:{p}/metrics")),
			}
		} else {
			Endpoints::default()
		};
		let mut env = options.env.clone();
		if !options.gpus.is_empty() {
			// nvidia-smi numbers GPUs by PCI bus; CUDA's default order is fastest first.
			env.insert("CUDA_DEVICE_ORDER".into(), "PCI_BUS_ID".into());
			env.insert(
				"CUDA_VISIBLE_DEVICES".into(),
				gpu::cuda_visible_devices(&options.gpus),
			);
		}
		env.insert(RUN_ENV.into(), self.run_id.clone());
		env.insert(OWNER_ENV.into(), std::process::id().to_string());
		env.insert(
			SCOPE_ENV.into(),
			crate::claim::scope_of_run_dir(&self.dir),
		);
		env.insert("STAGENET_NODE".into(), options.name.clone());
		let node = Arc::new(LocalNode {
			name: options.name.clone(),
			program,
			args: options.args.clone(),
			env,
			log: self.dir.join(format!("{}.log", options.name)),
			endpoints,
			process: tokio::sync::Mutex::new(None),
		});
		node.start(false).await?;
		self.nodes
			.lock()
			.map_err(|_| lock_poisoned())?
			.push(node.clone());
		Ok(node)
	}

	async fn destroy(&self) -> Result<()> {
		let nodes: Vec<Arc<LocalNode>> = self
			.nodes
			.lock()
			.map_err(|_| lock_poisoned())?
			.drain(..)
			.collect();
		for node in nodes {
			node.kill().await?;
		}
		LocalProvider.destroy_run(&self.run_id).await?;
		Ok(())
	}
}

fn lock_poisoned() -> NetworkError {
	NetworkError::Provider {
		provider: PROVIDER,
		action: "track the run's processes".into(),
		message: "an earlier task panicked while holding the process table".into(),
		hint: None,
	}
}

/// The value after `flag` in `args`, as a port.
fn port_after(args: &[String], flag: &str) -> Option<u16> {
	args.iter()
		.position(|a| a == flag)
		.and_then(|i| args.get(i + 1))
		.and_then(|p| p.parse().ok())
}

struct Process {
	child: Child,
	/// Write end of the guard's pipe: dropping it makes the guard kill the group.
	_guard_pipe: Option<ChildStdin>,
	pgid: i32,
	exit: Option<String>,
}

struct LocalNode {
	name: String,
	program: PathBuf,
	args: Vec<String>,
	env: BTreeMap<String, String>,
	log: PathBuf,
	endpoints: Endpoints,
	process: tokio::sync::Mutex<Option<Process>>,
}

impl LocalNode {
	async fn start(&self, append: bool) -> Result<()> {
		let io_err = |source| NetworkError::Io {
			path: self.log.clone(),
			source,
		};
		let mut log = std::fs::OpenOptions::new()
			.create(true)
			.append(append)
			.write(true)
			.truncate(!append)
			.open(&self.log)
			.map_err(io_err)?;
		if append {
			writeln!(log, "--- stagenet: `{}` restarted ---", self.name).map_err(io_err)?;
		}
		let log_err = log.try_clone().map_err(io_err)?;
		tracing::info!(target: "stagenet", node = %self.name, "starting process");
		let mut child = Command::new("/bin/sh")
			.arg("-c")
			.arg(GUARD)
			.arg("stagenet-guard")
			.arg(&self.program)
			.args(&self.args)
			.envs(&self.env)
			.stdin(Stdio::piped())
			.stdout(Stdio::from(log))
			.stderr(Stdio::from(log_err))
			.process_group(0)
			.kill_on_drop(true)
			.spawn()
			.map_err(|source| NetworkError::NodeBinary {
				path: self.program.clone(),
				source,
			})?;
		let pgid = child.id().map(|p| p as i32).unwrap_or_default();
		let pipe = child.stdin.take();
		*self.process.lock().await = Some(Process {
			child,
			_guard_pipe: pipe,
			pgid,
			exit: None,
		});
		Ok(())
	}

	fn signal(&self, pgid: i32, signal: Signal, action: &str) -> Result<()> {
		if pgid <= 0 {
			return Ok(());
		}
		killpg(Pid::from_raw(pgid), signal).map_err(|e| NetworkError::Provider {
			provider: PROVIDER,
			action: format!("{action} `{}` (process group {pgid})", self.name),
			message: e.to_string(),
			hint: None,
		})
	}
}

#[async_trait]
impl Node for LocalNode {
	fn name(&self) -> &str {
		&self.name
	}

	async fn endpoints(&self) -> Endpoints {
		self.endpoints.clone()
	}

	fn log_file(&self) -> PathBuf {
		self.log.clone()
	}

	async fn exited(&self) -> Result<Option<String>> {
		let mut guard = self.process.lock().await;
		let Some(p) = guard.as_mut() else {
			return Ok(Some("not started".into()));
		};
		if p.exit.is_none() {
			if let Ok(Some(status)) = p.child.try_wait() {
				p.exit = Some(status.to_string());
			}
		}
		Ok(p.exit.clone())
	}

	async fn kill(&self) -> Result<()> {
		let mut guard = self.process.lock().await;
		let Some(p) = guard.as_mut() else {
			return Ok(());
		};
		if p.exit.is_none() {
			// SIGCONT first: a paused group must not stay stopped under a pending kill.
			let _ = self.signal(p.pgid, Signal::SIGKILL, "kill");
			let _ = self.signal(p.pgid, Signal::SIGCONT, "resume");
			match tokio::time::timeout(Duration::from_secs(10), p.child.wait()).await {
				Ok(Ok(status)) => p.exit = Some(status.to_string()),
				Ok(Err(e)) => {
					return Err(NetworkError::Provider {
						provider: PROVIDER,
						action: format!("wait for `{}` to exit", self.name),
						message: e.to_string(),
						hint: None,
					})
				}
				Err(_) => {
					return Err(NetworkError::Provider {
						provider: PROVIDER,
						action: format!("kill `{}`", self.name),
						message: "the process was still there 10 s after SIGKILL".into(),
						hint: Some("check for a process stuck in the kernel (state D)".into()),
					})
				}
			}
		}
		// Any member of the group left behind (the program's own children) goes too.
		let _ = self.signal(p.pgid, Signal::SIGKILL, "kill");
		p._guard_pipe = None;
		Ok(())
	}

	async fn restart(&self) -> Result<()> {
		self.kill().await?;
		self.start(true).await
	}

	async fn pause(&self) -> Result<()> {
		let pgid = self.process.lock().await.as_ref().map(|p| p.pgid);
		self.signal(pgid.unwrap_or_default(), Signal::SIGSTOP, "pause")
	}

	async fn resume(&self) -> Result<()> {
		let pgid = self.process.lock().await.as_ref().map(|p| p.pgid);
		self.signal(pgid.unwrap_or_default(), Signal::SIGCONT, "resume")
	}

	async fn disconnect(&self) -> Result<()> {
		Err(NetworkError::Unsupported {
			provider: PROVIDER,
			what: format!(
				"partition `{}` (processes share the host's loopback)",
				self.name
			),
			hint: "use `--provider docker` for partitions".into(),
		})
	}

	async fn reconnect(&self) -> Result<()> {
		self.disconnect().await
	}
}
