//! `stagenet replay`: a capture's signed extrinsics dispatched again on a running fork (through
//! `Sudo::sudo_as`), each outcome compared with the captured one, the record stored with the
//! run and a summary printed; exit 1 when more divergences than `--max-divergences` allows.

use crate::{failure::Failure, rehearse::DEFAULT_DATABASE, up::DEFAULT_RUNS_DIR};
use stagenet_config::{exit::Exit, ReplayRate};
use stagenet_network::state::RunState;
use stagenet_chain::client::Chain;
use stagenet_rehearse::{
	replay::{parse_only, replay_plan, ReplayPlan},
	ReplayOptions,
};
use stagenet_store::{DivergenceKind, ReplayRecord, RunRecord, Store};
use std::{
	collections::BTreeMap,
	path::{Path, PathBuf},
	time::Duration,
};

/// Arguments of `stagenet replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
	/// The run (as `stagenet status` lists it).
	run: String,
	/// The capture database (`stagenet capture --out`).
	#[arg(long)]
	capture: PathBuf,
	/// `as-captured` (the captured time between blocks), `max` (each block once the previous
	/// is in), or a factor of the captured pace (`2x`).
	#[arg(long, default_value = "as-captured")]
	rate: String,
	/// First captured block to replay (default: the capture's first).
	#[arg(long)]
	from: Option<u64>,
	/// Last captured block to replay (default: the capture's last).
	#[arg(long)]
	to: Option<u64>,
	/// Replay only this extrinsic, `<captured block>:<index>` (repeatable; the reproduce lines
	/// use it).
	#[arg(long, value_name = "BLOCK:INDEX")]
	only: Vec<String>,
	/// Exit 1 when there are more divergences than this (not counting `--allow`ed calls).
	#[arg(long, value_name = "N")]
	max_divergences: Option<u64>,
	/// A `Pallet.call` whose divergences are expected (the release changes it on purpose);
	/// repeatable.
	#[arg(long, value_name = "PALLET.CALL")]
	allow: Vec<String>,
	/// The store: a SQLite file path (default `.stagenet/stagenet.db`) or a `postgres://` URL.
	#[arg(long, env = "STAGENET_DATABASE_URL", default_value = DEFAULT_DATABASE)]
	database_url: String,
	/// Directory holding one directory per run.
	#[arg(long, default_value = DEFAULT_RUNS_DIR)]
	runs_dir: PathBuf,
	/// The fork's sudo key (secret URI), which signs every `sudo_as`.
	#[arg(long, default_value = "//Alice")]
	sudo: String,
	/// How long the fork may go without a new block while replayed extrinsics are awaited.
	#[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
	block_timeout: Duration,
	/// Print the replay record as JSON instead of the summary.
	#[arg(long)]
	json: bool,
}

/// Runs `stagenet replay`.
pub async fn run(args: ReplayArgs) -> Result<(), Failure> {
	let rate = ReplayRate::parse(&args.rate).map_err(|e| {
		Failure::new(
			Exit::BadInput,
			format!(
				"`--rate {}`: {e} (hint: `--rate max` replays as fast as the fork includes)",
				args.rate
			),
		)
	})?;
	let only = args
		.only
		.iter()
		.map(|o| {
			parse_only(o).map_err(|e| {
				Failure::new(
					Exit::BadInput,
					format!("`--only {o}`: {e} (hint: copy it from a reproduce line)"),
				)
			})
		})
		.collect::<Result<Vec<_>, _>>()?;
	for call in &args.allow {
		if call
			.split_once('.')
			.is_none_or(|(p, c)| p.is_empty() || c.is_empty())
		{
			return Err(Failure::new(
				Exit::BadInput,
				format!(
					"`--allow {call}` is not a `Pallet.call` (hint: e.g. `--allow Subnets.set_weights`)"
				),
			));
		}
	}
	let runs_dir_shown = if args.runs_dir.as_path() == Path::new(DEFAULT_RUNS_DIR) {
		String::new()
	} else {
		args.runs_dir.display().to_string()
	};
	let mut opts = ReplayOptions {
		capture: args.capture.clone(),
		capture_shown: args.capture.display().to_string(),
		rate,
		from: args.from,
		to: args.to,
		only,
		seq: 0,
		run_id: args.run.clone(),
		runs_dir_shown,
		sudo_uri: args.sudo.clone(),
		block_timeout: args.block_timeout,
	};
	// The capture and the options first: bad input shows before anything is asked of the run.
	let plan = ReplayPlan::open(&opts).await?;

	let dir = args.runs_dir.join(&args.run);
	// Not the error's own exit: a run whose state cannot be loaded is a run named wrong (bad
	// input), whatever the I/O error says.
	let state = RunState::load(&dir).map_err(|e| {
		Failure::new(
			Exit::BadInput,
			format!(
				"{e} (hint: `stagenet status --runs-dir {}` lists the runs)",
				args.runs_dir.display()
			),
		)
	})?;
	let url = crate::rehearse::rpc_member(&state, &args.run)?
		.rpc_url
		.clone()
		.unwrap_or_default();
	let chain = Chain::connect(&url).await.map_err(|e| {
		Failure::new(
			Exit::Infrastructure,
			format!(
				"{e} (hint: is run `{}` up? `stagenet status {}`)",
				args.run, args.run
			),
		)
	})?;
	// Not the error's own exit (kept as it was): every store that cannot be opened here,
	// an unsupported `--database-url` included, is infrastructure.
	let store = Store::open(&args.database_url)
		.await
		.map_err(|e| Failure::new(Exit::Infrastructure, e.to_string()))?;
	ensure_run(&store, &chain, &state, &args.run).await?;
	let seq = store.next_replay_seq(&args.run).await?;

	opts.seq = seq;
	let quiet = args.json;
	let record = replay_plan(&chain, &plan, &opts, |line| {
		if quiet {
			eprintln!("{line}");
		} else {
			println!("  {line}");
		}
	})
	.await?;
	store.put_replay(&args.run, &record).await?;

	let counted = record
		.divergences
		.iter()
		.filter(|d| !args.allow.contains(&d.call))
		.count() as u64;
	if args.json {
		println!(
			"{}",
			serde_json::to_string_pretty(&record)
				.map_err(|e| Failure::new(Exit::Infrastructure, e.to_string()))?
		);
	} else {
		print!("{}", summary(&record, &args.run, &args.allow));
		println!(
			"report: stagenet report {}{}",
			args.run,
			if args.database_url == DEFAULT_DATABASE {
				String::new()
			} else {
				format!(
					" --database-url {}",
					stagenet_chain::url::redact(&args.database_url)
				)
			}
		);
	}
	if let Some(error) = &record.error {
		return Err(Failure::new(
			Exit::Infrastructure,
			format!(
				"replay {seq} of run `{}` stopped early (what was replayed is stored): {error}",
				args.run
			),
		));
	}
	match args.max_divergences {
		Some(max) if counted > max => Err(Failure::new(
			Exit::Failed,
			format!(
				"replay {seq} of run `{}`: {counted} divergence(s){}, more than `--max-divergences {max}` (hint: `--allow Pallet.call` for calls the release changes on purpose)",
				args.run,
				if args.allow.is_empty() {
					String::new()
				} else {
					format!(" besides the allowed {}", args.allow.join(", "))
				}
			),
		)),
		_ => Ok(()),
	}
}

/// Makes sure the store has a record of the run (`stagenet up` does not write one).
pub(crate) async fn ensure_run(
	store: &Store,
	chain: &Chain,
	state: &RunState,
	run_id: &str,
) -> Result<(), Failure> {
	match store.run(run_id).await {
		Ok(_) => return Ok(()),
		Err(e) if e.is_run_not_found() => {}
		Err(e) => return Err(e.into()),
	}
	let infra = |what: &str, e: String| {
		Failure::new(
			Exit::Infrastructure,
			format!("cannot read the {what} of run `{run_id}`: {e}"),
		)
	};
	let name: String = chain
		.request("system_chain", vec![])
		.await
		.map_err(|e| infra("chain name", e.to_string()))?;
	let genesis = chain
		.block_hash(0)
		.await
		.map_err(|e| infra("genesis hash", e.to_string()))?
		.map(|h| format!("{h:?}"))
		.unwrap_or_default();
	let record = RunRecord {
		id: run_id.to_string(),
		scenario: None,
		scenario_file: None,
		provider: state.provider.clone(),
		chain: name,
		genesis_hash: genesis,
		tool_version: env!("CARGO_PKG_VERSION").to_string(),
		started_at: i64::try_from(state.started_at)
			.unwrap_or_default()
			.saturating_mul(1000),
		finished_at: None,
		verdict: None,
		error: None,
	};
	match store.create_run(&record).await {
		Ok(()) => Ok(()),
		// Another command created it meanwhile.
		Err(e) if e.is_run_exists() => Ok(()),
		Err(e) => Err(e.into()),
	}
}

/// The terminal summary of a replay.
fn summary(record: &ReplayRecord, run: &str, allow: &[String]) -> String {
	use std::fmt::Write as _;
	let mut out = String::new();
	let fork = match (record.fork_from, record.fork_to) {
		(Some(a), Some(b)) if a == b => format!(" → fork #{a}"),
		(Some(a), Some(b)) => format!(" → fork #{a}..=#{b}"),
		_ => String::new(),
	};
	let _ = writeln!(
		out,
		"replay {} of capture `{}` (chain `{}`) onto run `{run}` (`{}`), rate {}",
		record.seq, record.capture, record.capture_chain, record.fork_runtime, record.rate
	);
	let _ = writeln!(
		out,
		"  captured blocks   #{}..=#{} ({} replayed){fork}",
		record.from_block, record.to_block, record.blocks
	);
	let _ = writeln!(
		out,
		"  replayed          {} signed extrinsic(s) through `Sudo.sudo_as`: {} matched, {} diverged",
		record.replayed,
		record.matched,
		record.replayed.saturating_sub(record.matched)
	);
	let _ = writeln!(
		out,
		"  skipped           {} inherent(s), {} unsigned",
		record.skipped_inherents, record.skipped_unsigned
	);
	let _ = writeln!(
		out,
		"  undecodable       {} (each is also a divergence)",
		record.undecodable
	);
	let _ = writeln!(
		out,
		"  took              {:.1} s",
		(record.finished_at - record.started_at) as f64 / 1000.0
	);
	if record.divergences.is_empty() {
		let _ = writeln!(out, "divergences: none");
	} else {
		let mut by_kind: BTreeMap<DivergenceKind, Vec<_>> = BTreeMap::new();
		for d in &record.divergences {
			by_kind.entry(d.kind).or_default().push(d);
		}
		let _ = writeln!(out, "divergences ({}):", record.divergences.len());
		for (kind, list) in by_kind {
			let _ = writeln!(out, "  {} ({})", kind.as_str(), list.len());
			for d in list {
				let _ = writeln!(
					out,
					"    {} by {} at captured #{}:{}{}: {}{}",
					d.call,
					d.signer.as_deref().unwrap_or("?"),
					d.captured_block,
					d.captured_index,
					d.fork_block
						.map(|b| format!(" → fork #{b}"))
						.unwrap_or_default(),
					d.detail,
					if allow.contains(&d.call) {
						" (allowed)"
					} else {
						""
					}
				);
				let _ = writeln!(out, "      reproduce: {}", d.reproduce);
			}
		}
	}
	if !record.calls.is_empty() {
		let _ = writeln!(out, "per call:");
		for c in &record.calls {
			let _ = writeln!(
				out,
				"  {:<36} {} replayed, {} matched, {} diverged",
				c.call, c.replayed, c.matched, c.diverged
			);
		}
	}
	let _ = writeln!(out, "semantics (read divergences by them):");
	for s in &record.semantics {
		let _ = writeln!(out, "  - {s}");
	}
	if let Some(e) = &record.error {
		let _ = writeln!(out, "stopped early: {e}");
	}
	out
}
