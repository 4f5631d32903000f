//! `stagenet status`, `stagenet logs`, `stagenet down`: a run seen and ended from any shell,
//! through its state file and the labels on its resources.

use crate::{
	failure::Failure,
	up::{provider, ProviderKind},
};
use stagenet_config::exit::Exit;
use stagenet_network::{
	state::{list_runs, process_alive, Phase, RunState},
	ChainRpc, DynProvider,
};
use std::{
	io::{Read as _, Seek as _, SeekFrom, Write as _},
	path::{Path, PathBuf},
	time::{Duration, Instant},
};

/// Arguments of `stagenet status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
	/// The run (default: every run of the runs directory).
	run: Option<String>,
	/// Directory holding one directory per run.
	#[arg(long, default_value = crate::up::DEFAULT_RUNS_DIR)]
	runs_dir: PathBuf,
	/// Print JSON instead of text.
	#[arg(long)]
	json: bool,
}

/// Arguments of `stagenet logs`.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
	/// The run.
	run: String,
	/// A node or workload replica (default: all, each line prefixed with its name).
	node: Option<String>,
	/// Keep printing new lines until the run ends (or Ctrl-C).
	#[arg(long, short)]
	follow: bool,
	/// Only the last N lines of each log.
	#[arg(long)]
	tail: Option<usize>,
	/// Directory holding one directory per run.
	#[arg(long, default_value = crate::up::DEFAULT_RUNS_DIR)]
	runs_dir: PathBuf,
}

/// Arguments of `stagenet down`.
#[derive(Debug, clap::Args)]
pub struct DownArgs {
	/// The run to remove.
	run: Option<String>,
	/// Remove every run of the runs directory, and every resource (local process, Docker
	/// container, network, volume) labelled with this runs directory and this user, also of
	/// runs whose state file is gone. Runs of other runs directories and users are left alone.
	#[arg(long, conflicts_with = "run")]
	all: bool,
	/// Remove every resource labelled by stagenet on this machine, of every runs directory
	/// and every user that can be reached: lists each before removing it.
	#[arg(long, conflicts_with_all = ["run", "all"])]
	machine: bool,
	/// With `--machine`: only list what would be removed.
	#[arg(long, requires = "machine")]
	dry_run: bool,
	/// Directory holding one directory per run.
	#[arg(long, default_value = crate::up::DEFAULT_RUNS_DIR)]
	runs_dir: PathBuf,
}

/// The runs of `runs_dir`, for a hint.
fn runs_here(runs_dir: &Path) -> String {
	let known: Vec<String> = list_runs(runs_dir)
		.into_iter()
		.filter_map(|(_, s)| s.ok().map(|s| s.run_id))
		.collect();
	if known.is_empty() {
		"there are no runs here; pass `--runs-dir` if `up` used another".to_string()
	} else {
		format!("runs here: {}", known.join(", "))
	}
}

fn load_run(runs_dir: &Path, run: &str) -> Result<RunState, Failure> {
	let dir = runs_dir.join(run);
	if !dir.join(stagenet_network::state::STATE_FILE).exists() {
		return Err(Failure::new(
			Exit::BadInput,
			format!(
				"no run `{run}` in `{}` (hint: {})",
				runs_dir.display(),
				runs_here(runs_dir)
			),
		));
	}
	Ok(RunState::load(&dir)?)
}

/// Runs `stagenet status`.
pub async fn status(args: StatusArgs) -> Result<(), Failure> {
	let runs: Vec<RunState> = match &args.run {
		Some(run) => vec![load_run(&args.runs_dir, run)?],
		None => list_runs(&args.runs_dir)
			.into_iter()
			.filter_map(|(dir, s)| match s {
				Ok(s) => Some(s),
				Err(e) => {
					eprintln!("warning: `{}`: {e}", dir.display());
					None
				}
			})
			.collect(),
	};
	let mut report = Vec::new();
	for run in &runs {
		let alive = run.owner_alive();
		let mut members = Vec::new();
		for m in &run.members {
			let live = match (&m.rpc_url, alive) {
				(Some(url), true) => Some(node_status(url).await),
				_ => None,
			};
			members.push((m, live));
		}
		report.push((run, alive, members));
	}
	if args.json {
		let value: Vec<serde_json::Value> = report
			.iter()
			.map(|(run, alive, members)| {
				serde_json::json!({
					"run_id": run.run_id,
					"provider": run.provider,
					"topology": run.topology,
					"phase": run.phase,
					"owner_pid": run.owner_pid,
					"owner_alive": alive,
					"events": run.events,
					"members": members.iter().map(|(m, live)| serde_json::json!({
						"name": m.name,
						"role": m.role,
						"rpc_url": m.rpc_url,
						"log": m.log,
						"gpus": m.gpus,
						"status": live.as_ref().map(|l| match l {
							Ok(s) => serde_json::json!({"peers": s.peers, "best": s.best, "finalized": s.finalized}),
							Err(e) => serde_json::json!({"error": e}),
						}),
					})).collect::<Vec<_>>(),
				})
			})
			.collect();
		println!(
			"{}",
			serde_json::to_string_pretty(&value).unwrap_or_default()
		);
		return Ok(());
	}
	if report.is_empty() {
		println!("no runs in `{}`", args.runs_dir.display());
	}
	for (run, alive, members) in report {
		let ended = matches!(run.phase, Phase::Down | Phase::Failed | Phase::Interrupted);
		let phase = if alive || ended {
			format!("{:?}", run.phase).to_lowercase()
		} else {
			format!(
				"{:?}, but its stagenet (pid {}) is gone",
				run.phase, run.owner_pid
			)
			.to_lowercase()
		};
		println!(
			"run {} ({} provider, {}): {phase}",
			run.run_id, run.provider, run.topology
		);
		for (m, live) in members {
			let state = match live {
				Some(Ok(s)) => format!(
					"peers {} best #{} finalized #{}",
					s.peers, s.best, s.finalized
				),
				Some(Err(e)) => format!("not answering: {e}"),
				None => String::new(),
			};
			println!(
				"  {:<10} {:<9} {} {state}",
				m.name,
				m.role,
				m.rpc_url.as_deref().unwrap_or("-")
			);
		}
		for e in &run.events {
			println!("  event {e}");
		}
	}
	Ok(())
}

async fn node_status(url: &str) -> Result<stagenet_network::NodeStatus, String> {
	let query = async {
		let rpc = ChainRpc::connect(url).await.map_err(|e| e.to_string())?;
		rpc.status().await.map_err(|e| e.to_string())
	};
	match tokio::time::timeout(Duration::from_secs(5), query).await {
		Ok(r) => r,
		Err(_) => Err("no answer within 5 s".into()),
	}
}

/// Runs `stagenet logs`.
pub async fn logs(args: LogsArgs) -> Result<(), Failure> {
	let run = load_run(&args.runs_dir, &args.run)?;
	let members: Vec<_> = match &args.node {
		Some(node) => {
			let Some(m) = run.members.iter().find(|m| &m.name == node) else {
				return Err(Failure::new(
					Exit::BadInput,
					format!(
						"run `{}` has no node or workload `{node}` (hint: it has {})",
						run.run_id,
						run.members
							.iter()
							.map(|m| m.name.as_str())
							.collect::<Vec<_>>()
							.join(", ")
					),
				));
			};
			vec![m.clone()]
		}
		None => run.members.clone(),
	};
	let prefix = members.len() > 1;
	let mut offsets = Vec::new();
	let stdout = std::io::stdout();
	for m in &members {
		let text = std::fs::read(&m.log).unwrap_or_default();
		let text = String::from_utf8_lossy(&text);
		let lines: Vec<&str> = text.lines().collect();
		let start = args.tail.map_or(0, |n| lines.len().saturating_sub(n));
		let mut out = stdout.lock();
		for line in &lines[start..] {
			if prefix {
				let _ = writeln!(out, "{:<10} | {line}", m.name);
			} else {
				let _ = writeln!(out, "{line}");
			}
		}
		offsets.push(text.len() as u64);
	}
	if !args.follow {
		return Ok(());
	}
	// Follow: print what is appended until the run's stagenet is gone.
	let mut partial = vec![String::new(); members.len()];
	let mut idle_since = Instant::now();
	loop {
		let mut any = false;
		for (i, m) in members.iter().enumerate() {
			let Ok(mut file) = std::fs::File::open(&m.log) else {
				continue;
			};
			let len = file.metadata().map(|md| md.len()).unwrap_or(0);
			if len < offsets[i] {
				offsets[i] = 0;
			}
			if len == offsets[i] {
				continue;
			}
			let mut buf = Vec::new();
			if file.seek(SeekFrom::Start(offsets[i])).is_ok() && file.read_to_end(&mut buf).is_ok()
			{
				offsets[i] += buf.len() as u64;
				partial[i].push_str(&String::from_utf8_lossy(&buf));
				let mut out = stdout.lock();
				while let Some(pos) = partial[i].find('\n') {
					let line: String = partial[i].drain(..=pos).collect();
					let line = line.trim_end_matches('\n');
					let written = if prefix {
						writeln!(out, "{:<10} | {line}", m.name)
					} else {
						writeln!(out, "{line}")
					};
					// The reader went away (`logs --follow | head`): stop following.
					if written.and_then(|()| out.flush()).is_err() {
						return Ok(());
					}
				}
				any = true;
			}
		}
		if any {
			idle_since = Instant::now();
		} else if idle_since.elapsed() > Duration::from_secs(2) && !process_alive(run.owner_pid) {
			return Ok(());
		}
		tokio::time::sleep(Duration::from_millis(200)).await;
	}
}

/// Runs `stagenet down`.
pub async fn down(args: DownArgs) -> Result<(), Failure> {
	if args.machine {
		return down_machine(args.dry_run).await;
	}
	if !args.all && args.run.is_none() {
		return Err(Failure::new(
			Exit::BadInput,
			format!(
				"name the run to remove, or pass `--all` (hint: {})",
				runs_here(&args.runs_dir)
			),
		));
	}
	if args.runs_dir.exists() && !args.runs_dir.is_dir() {
		return Err(Failure::new(
			Exit::BadInput,
			format!(
				"the runs directory `{}` is a file, not a directory (hint: pass `--runs-dir` \
				 the directory `up` used)",
				args.runs_dir.display()
			),
		));
	}
	let scope = stagenet_network::claim::scope_of(&args.runs_dir);
	let runs: Vec<RunState> = match &args.run {
		Some(run) => vec![load_run(&args.runs_dir, run)?],
		None => list_runs(&args.runs_dir)
			.into_iter()
			.filter_map(|(_, s)| s.ok())
			.collect(),
	};
	// First ask each live `up` to stop its own network (SIGTERM), then remove whatever is
	// still labelled with the run on its provider.
	for run in &runs {
		if run.owner_alive() && run.owner_pid != std::process::id() {
			let _ = nix::sys::signal::kill(
				nix::unistd::Pid::from_raw(run.owner_pid as i32),
				nix::sys::signal::Signal::SIGTERM,
			);
			let deadline = Instant::now() + Duration::from_secs(60);
			while run.owner_alive() && Instant::now() < deadline {
				tokio::time::sleep(Duration::from_millis(200)).await;
			}
			if run.owner_alive() {
				eprintln!(
					"warning: stagenet (pid {}) of run `{}` still runs 60 s after SIGTERM; \
					 removing the run's resources anyway",
					run.owner_pid, run.run_id
				);
			}
		}
	}
	let mut providers: Vec<(ProviderKind, Option<DynProvider>)> = Vec::new();
	let kinds = [ProviderKind::Local, ProviderKind::Docker];
	for kind in kinds {
		let needed = args.all
			|| runs
				.iter()
				.any(|r| r.provider == format!("{kind:?}").to_lowercase());
		if !needed {
			continue;
		}
		match provider(kind).await {
			Ok(p) => providers.push((kind, Some(p))),
			Err(e) if args.all => {
				eprintln!("warning: skipping the {kind:?} provider: {e}");
				providers.push((kind, None));
			}
			Err(e) => return Err(e.into()),
		}
	}
	let mut removed = 0;
	for (_, p) in &providers {
		let Some(p) = p else { continue };
		let mut run_ids: Vec<String> = runs
			.iter()
			.filter(|r| r.provider == p.name())
			.map(|r| r.run_id.clone())
			.collect();
		if args.all {
			let mut others = 0;
			for r in p.resources().await? {
				if r.scope.as_deref() != Some(scope.as_str()) {
					others += 1;
					continue;
				}
				if !run_ids.contains(&r.run_id) {
					run_ids.push(r.run_id);
				}
			}
			if others > 0 {
				println!(
					"left alone: {others} {} resource(s) of other runs directories or users \
					 (`stagenet down --machine` lists and removes them)",
					p.name()
				);
			}
		}
		removed += destroy_runs(p, &run_ids).await?;
	}
	for run in runs {
		let dir = args.runs_dir.join(&run.run_id);
		if let Ok(mut state) = RunState::load(&dir) {
			if state.phase != Phase::Failed {
				state.phase = Phase::Down;
			}
			state.save(&dir)?;
		}
		println!("run {} is down", run.run_id);
	}
	if removed == 0 {
		println!("nothing was left to remove");
	}
	Ok(())
}

/// `stagenet down --machine`: every resource labelled by stagenet on every provider that can
/// be reached, whatever its runs directory or user; each is listed before it is removed.
async fn down_machine(dry_run: bool) -> Result<(), Failure> {
	let mut removed = 0;
	for kind in [ProviderKind::Local, ProviderKind::Docker] {
		let p = match provider(kind).await {
			Ok(p) => p,
			Err(e) => {
				eprintln!("warning: skipping the {kind:?} provider: {e}");
				continue;
			}
		};
		let found = p.resources().await?;
		let mut run_ids: Vec<String> = Vec::new();
		for r in &found {
			println!(
				"{} {} {} of run {} ({}, {})",
				if dry_run {
					"would remove"
				} else {
					"will remove"
				},
				r.kind,
				r.name,
				r.run_id,
				p.name(),
				r.scope
					.as_deref()
					.map_or_else(|| "no scope label".to_string(), |s| format!("scope {s}"))
			);
			if !run_ids.contains(&r.run_id) {
				run_ids.push(r.run_id.clone());
			}
		}
		if dry_run {
			continue;
		}
		removed += destroy_runs(&p, &run_ids).await?;
	}
	if removed == 0 && !dry_run {
		println!("nothing labelled by stagenet was found on this machine");
	}
	Ok(())
}

/// Removes every resource of `run_ids` on `p`, printing each; returns how many.
async fn destroy_runs(p: &DynProvider, run_ids: &[String]) -> Result<usize, Failure> {
	let mut removed = 0;
	for run_id in run_ids {
		let gone = p.destroy_run(run_id).await?;
		for r in &gone {
			println!(
				"removed {} {} of run {run_id} ({})",
				r.kind,
				r.name,
				p.name()
			);
		}
		removed += gone.len();
	}
	Ok(removed)
}
