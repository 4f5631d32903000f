//! `stagenet stress`: a load profile run against a running fork, measured, and stored with
//! the run.

use crate::{
	failure::Failure, rehearse::DEFAULT_DATABASE, replay::ensure_run, up::DEFAULT_RUNS_DIR,
};
use stagenet_config::{exit::Exit, StressProfile};
use stagenet_network::state::RunState;
use stagenet_chain::client::Chain;
use stagenet_rehearse::{stress, StressOptions};
use stagenet_store::{Store, StressRecord};
use std::{path::PathBuf, time::Duration};

/// Arguments of `stagenet stress`.
#[derive(Debug, clap::Args)]
pub struct StressArgs {
	/// The run (as `stagenet status` lists it).
	run: String,
	/// The load profile (YAML; see `fork-tests/loads/`).
	#[arg(long)]
	profile: PathBuf,
	/// Overrides the profile's duration (`30s`, `2m`).
	#[arg(long, value_parser = humantime::parse_duration)]
	duration: Option<Duration>,
	/// Overrides the profile's rate: a constant number of transactions per second.
	#[arg(long)]
	rate: Option<f64>,
	/// Overrides the profile's number of RPC connections.
	#[arg(long)]
	connections: Option<u32>,
	/// The node to load (default: the run's first RPC node).
	#[arg(long)]
	node: Option<String>,
	/// Secret URI of the fork's sudo key (for `sudo` setup calls).
	#[arg(long, default_value = "//Alice")]
	sudo: String,
	/// Directory holding one directory per run.
	#[arg(long, default_value = DEFAULT_RUNS_DIR)]
	runs_dir: PathBuf,
	/// The store: a SQLite file path or a `postgres://` URL.
	#[arg(long, env = "STAGENET_DATABASE_URL", default_value = DEFAULT_DATABASE)]
	database_url: String,
	/// Exit 1 when fewer transactions per second were included.
	#[arg(long)]
	min_included_tps: Option<f64>,
	/// Treat unknown keys in the profile as errors.
	#[arg(long)]
	strict: bool,
	/// Print the record as JSON instead of the summary.
	#[arg(long)]
	json: bool,
}

/// Runs `stagenet stress`.
pub async fn run(args: StressArgs) -> Result<(), Failure> {
	let (profile, warnings) = StressProfile::load(&args.profile, args.strict)?;
	for w in warnings {
		eprintln!("warning: `{}`: {}", w.path, w.message);
	}
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
	let member = match &args.node {
		Some(name) => state
			.members
			.iter()
			.find(|m| &m.name == name)
			.ok_or_else(|| {
				Failure::new(
					Exit::BadInput,
					format!(
						"run `{}` has no node `{name}` (hint: its nodes are {})",
						args.run,
						state
							.members
							.iter()
							.map(|m| format!("`{}`", m.name))
							.collect::<Vec<_>>()
							.join(", ")
					),
				)
			})?,
		None => crate::rehearse::rpc_member(&state, &args.run)?,
	};
	let url = member.rpc_url.clone().ok_or_else(|| {
		Failure::new(
			Exit::BadInput,
			format!("node `{}` has no RPC endpoint", member.name),
		)
	})?;
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
	let seq = store.next_stress_seq(&args.run).await?;
	let opts = StressOptions {
		profile,
		profile_shown: args.profile.display().to_string(),
		duration: args.duration,
		rate: args.rate,
		connections: args.connections,
		url,
		prometheus_url: member.prometheus_url.clone(),
		seq,
		sudo_uri: args.sudo.clone(),
		signing_threads: None,
	};
	let quiet = args.json;
	let mut progress = move |line: &str| {
		if quiet {
			eprintln!("{line}");
		} else {
			println!("  {line}");
		}
	};
	let record = stress(&opts, &mut progress).await?;
	store.put_stress(&args.run, &record).await?;
	if args.json {
		println!(
			"{}",
			serde_json::to_string_pretty(&record)
				.map_err(|e| Failure::new(Exit::Infrastructure, e.to_string()))?
		);
	} else {
		print!("{}", summary(&record));
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
	match args.min_included_tps {
		Some(min) if record.included_tps < min => Err(Failure::new(
			Exit::Failed,
			format!(
				"stress {seq} of run `{}`: {:.1} tx/s included, fewer than `--min-included-tps {min}` (limit: {} — {})",
				args.run, record.included_tps, record.limit, record.limit_detail
			),
		)),
		_ => Ok(()),
	}
}

/// The terminal summary of a load.
fn summary(r: &StressRecord) -> String {
	use std::fmt::Write as _;
	let mut out = String::new();
	let _ = writeln!(
		out,
		"stress `{}`: {} for {:.0} s, {} accounts, {} connection(s)",
		r.profile,
		r.target,
		r.duration_ms as f64 / 1000.0,
		r.accounts,
		r.connections
	);
	let _ = writeln!(
		out,
		"  signed {} ahead in {:.1} s; submitted {} ({:.0}/s), accepted {}, included {}, failed {}, dropped {}",
		r.signed,
		r.signing_ms as f64 / 1000.0,
		r.submitted,
		r.submit_rate,
		r.accepted,
		r.included,
		r.failed,
		r.dropped
	);
	if !r.rejected.is_empty() {
		let _ = writeln!(
			out,
			"  refused by the pool: {}",
			r.rejected
				.iter()
				.map(|c| format!("{} × {}", c.reason, c.count))
				.collect::<Vec<_>>()
				.join(", ")
		);
	}
	if !r.failed_by.is_empty() {
		let _ = writeln!(
			out,
			"  failed at dispatch: {}",
			r.failed_by
				.iter()
				.map(|c| format!("{} × {}", c.reason, c.count))
				.collect::<Vec<_>>()
				.join(", ")
		);
	}
	let _ = writeln!(
		out,
		"  included {:.1} tx/s; inclusion latency p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
		r.included_tps, r.latency.p50, r.latency.p95, r.latency.p99, r.latency.max
	);
	if let Some(read) = &r.read_latency {
		let _ = writeln!(
			out,
			"  reads: {} answered, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
			read.count, read.p50, read.p95, read.p99
		);
	}
	let loaded: Vec<_> = r.blocks.iter().filter(|b| b.ours > 0).collect();
	if let Some(best) = loaded.iter().max_by_key(|b| b.ours) {
		let pct = |x: u64, of: u64| {
			if of == 0 {
				0.0
			} else {
				x as f64 * 100.0 / of as f64
			}
		};
		let _ = writeln!(
			out,
			"  {} block(s) carried the load; fullest #{}: {} of ours, normal weight {:.1} %, length {:.2} %{}",
			loaded.len(),
			best.number,
			best.ours,
			pct(best.normal_weight, best.normal_limit),
			pct(best.length, best.length_limit),
			r.theoretical_per_block
				.map(|t| format!(
					"; theoretical maximum {t} per block ({:.1} % reached)",
					pct(best.ours, t)
				))
				.unwrap_or_default()
		);
		let times: Vec<i64> = loaded.iter().filter_map(|b| b.block_time_ms).collect();
		if !times.is_empty() {
			let mean = times.iter().sum::<i64>() as f64 / times.len() as f64;
			let lag = loaded
				.iter()
				.filter_map(|b| b.finality_lag)
				.max()
				.unwrap_or(0);
			let _ = writeln!(
				out,
				"  block time mean {mean:.0} ms, max {} ms; finality lag at most {lag} block(s)",
				times.iter().max().copied().unwrap_or(0)
			);
		}
	}
	let _ = writeln!(out, "  limit: {} — {}", r.limit, r.limit_detail);
	out
}
