//! `stagenet rehearse`, `stagenet upgrade` and `stagenet report`: a scenario to its verdict,
//! a runtime upgrade on a running network, and a report rebuilt from the store.

use crate::{
	failure::Failure,
	up::{provider, ProviderKind, StopSignals, DEFAULT_RUNS_DIR},
};
use stagenet_config::{
	exit::{Exit, ExitStatus},
	Scenario, UpgradeVia,
};
use stagenet_network::state::RunState;
use stagenet_chain::client::Chain;
use stagenet_rehearse::{
	rehearse, upgrade, EventBus, RehearseOptions, RunEvent, Subscription, UpgradeOptions,
};
use stagenet_report::{render, terminal, Format};
use stagenet_store::{RunReport, Store, Verdict};
use std::{
	io::IsTerminal,
	path::{Path, PathBuf},
	sync::Arc,
};

/// Where the store lives unless `--database-url` says otherwise.
pub const DEFAULT_DATABASE: &str = ".stagenet/stagenet.db";

/// Formats written by `rehearse` into the report directory.
const WRITTEN: [Format; 4] = [Format::Json, Format::Junit, Format::Markdown, Format::Html];

/// Arguments of `stagenet rehearse`.
#[derive(Debug, clap::Args)]
pub struct RehearseArgs {
	/// Scenario file (YAML).
	scenario: PathBuf,
	/// Where the network runs.
	#[arg(long, value_enum, default_value = "local")]
	provider: ProviderKind,
	/// Directory holding one directory per run.
	#[arg(long, default_value = DEFAULT_RUNS_DIR)]
	runs_dir: PathBuf,
	/// Run id (default: `<scenario name>-<milliseconds since the epoch>`).
	#[arg(long)]
	run_id: Option<String>,
	/// The store: a SQLite file path (default `.stagenet/stagenet.db`) or a `postgres://` URL.
	#[arg(long, env = "STAGENET_DATABASE_URL", default_value = DEFAULT_DATABASE)]
	database_url: String,
	/// Directory for the reports (`report.json`, `report.xml`, `report.md`, `report.html`);
	/// default: the run's directory.
	#[arg(long)]
	report_dir: Option<PathBuf>,
	/// Treat unknown keys in the scenario and topology as errors.
	#[arg(long)]
	strict: bool,
	/// Terminal summary without colours.
	#[arg(long)]
	no_color: bool,
	/// Also write every run event (stages, ledger blocks, findings, steps, records, gates, the
	/// verdict) to this file as JSON lines, as they happen (`tail -f` follows a run).
	#[arg(long, value_name = "FILE")]
	events: Option<PathBuf>,
}

/// Arguments of `stagenet upgrade`.
#[derive(Debug, clap::Args)]
pub struct UpgradeArgs {
	/// The run (as `stagenet status` lists it).
	run: String,
	/// The new runtime.
	#[arg(long)]
	wasm: PathBuf,
	/// How `set_code` is submitted.
	#[arg(long, value_enum, default_value = "sudo")]
	via: ViaArg,
	/// Blocks after the inclusion whose state is compared with the state before it.
	#[arg(long, default_value_t = 3)]
	diff_after: u64,
	/// Directory holding one directory per run.
	#[arg(long, default_value = DEFAULT_RUNS_DIR)]
	runs_dir: PathBuf,
	/// Print the result as JSON.
	#[arg(long)]
	json: bool,
}

/// `--via`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ViaArg {
	/// `Sudo::sudo_unchecked_weight(System::set_code)`.
	Sudo,
	/// `System::authorize_upgrade` (as root), then `System::apply_authorized_upgrade`.
	Authorize,
}

/// Arguments of `stagenet report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
	/// The run; without one, the runs in the store are listed.
	run: Option<String>,
	/// `terminal`, `json`, `junit`, `markdown` or `html`.
	#[arg(long, default_value = "terminal")]
	format: String,
	/// Write into this file instead of standard output.
	#[arg(long)]
	out: Option<PathBuf>,
	/// The store: a SQLite file path or a `postgres://` URL.
	#[arg(long, env = "STAGENET_DATABASE_URL", default_value = DEFAULT_DATABASE)]
	database_url: String,
	/// Exit with the run's verdict code (0 pass, 1 fail, …) instead of 0.
	#[arg(long)]
	exit_code: bool,
}

/// The node users and actions talk to: the run's first RPC node, else any node with an RPC
/// endpoint.
pub(crate) fn rpc_member<'a>(
	state: &'a RunState,
	run: &str,
) -> Result<&'a stagenet_network::state::MemberState, Failure> {
	state
		.members
		.iter()
		.find(|m| m.role == "rpc" && m.rpc_url.is_some())
		.or_else(|| state.members.iter().find(|m| m.rpc_url.is_some()))
		.ok_or_else(|| {
			Failure::new(
				Exit::BadInput,
				format!("run `{run}` has no node with an RPC endpoint"),
			)
		})
}

/// Opens the store for a writer (`rehearse`): a SQLite file is created when missing.
async fn open_store(target: &str) -> Result<Store, Failure> {
	Ok(Store::open(target).await?)
}

/// Runs `stagenet rehearse`.
pub async fn run(args: RehearseArgs) -> Result<(), Failure> {
	let (scenario, warnings) = Scenario::load(&args.scenario, args.strict)?;
	for w in warnings {
		eprintln!("warning: `{}`: {}", w.path, w.message);
	}
	// Runtimes the steps upgrade to are checked before anything starts.
	stagenet_rehearse::rehearse::check_inputs(&scenario)?;
	let run_id = args.run_id.clone().unwrap_or_else(|| {
		format!(
			"{}-{}",
			scenario.name,
			std::time::SystemTime::now()
				.duration_since(std::time::UNIX_EPOCH)
				.map(|d| d.as_millis())
				.unwrap_or_default()
		)
	});
	// Every id and path is checked, and the run owned, before anything is written.
	let claim = stagenet_network::claim::claim_run(&args.runs_dir, &run_id, None)?;
	let run_dir = claim.dir.clone();
	let store = Arc::new(open_store(&args.database_url).await?);
	if store.run(&run_id).await.is_ok() {
		return Err(Failure::new(
			Exit::BadInput,
			format!(
				"run `{run_id}` already exists in the store `{}` (hint: choose another \
				 `--run-id`, or leave it out for a fresh one; `stagenet report {run_id}` shows \
				 the stored run)",
				stagenet_chain::url::redact(&args.database_url)
			),
		));
	}
	let mut stop = StopSignals::new()?;
	let provider = provider(args.provider).await?;
	println!(
		"rehearsal {run_id}: scenario `{}` ({}), {} step(s), on the {} provider",
		scenario.name,
		args.scenario.display(),
		scenario.steps.len(),
		provider.name()
	);
	// The run's events: progress lines to the terminal, everything to `--events`.
	let events = EventBus::default();
	let printer = tokio::spawn(print_notes(events.subscribe()));
	let recorder = match &args.events {
		Some(path) => Some(tokio::spawn(record_events(
			events.subscribe(),
			open_events_file(path)?,
			path.clone(),
		))),
		None => None,
	};
	// A first stop signal (Ctrl-C, SIGTERM) stops the rehearsal in order: the run ends as
	// `interrupted` (exit 3) with a partial report. A second one stops it at once.
	let (interrupt, interrupt_rx) = tokio::sync::watch::channel(false);
	let mut rehearsal = Box::pin(rehearse(RehearseOptions {
		scenario,
		provider,
		run_dir: run_dir.clone(),
		run_id: run_id.clone(),
		store: store.clone(),
		strict: args.strict,
		events: events.clone(),
		interrupt: Some(interrupt_rx),
	}));
	let outcome = tokio::select! {
		outcome = &mut rehearsal => outcome,
		_ = stop.recv() => {
			eprintln!("interrupted: stopping rehearsal {run_id} and keeping what was measured (send another Ctrl-C to stop at once)");
			let _ = interrupt.send(true);
			tokio::select! {
				outcome = &mut rehearsal => outcome,
				_ = stop.recv() => {
					// Dropping the rehearsal drops its network, whose providers clean up on drop.
					drop(rehearsal);
					stagenet_rehearse::rehearse::mark_interrupted(&run_dir);
					let _ = store.finish_run(&run_id, stagenet_rehearse::monitor::now_ms(), Some(Verdict::Interrupted), Some("interrupted twice: stopped at once, without a partial report".into())).await;
					return Err(Failure::new(Exit::Infrastructure, format!("rehearsal {run_id} interrupted twice and stopped at once (hint: `stagenet down {run_id}` removes anything left; `stagenet report {run_id}` shows what was recorded)")));
				}
			}
		}
	};
	// Every publisher is gone once the rehearsal returned: the subscribers finish the stream.
	drop(rehearsal);
	drop(events);
	let _ = printer.await;
	if let Some(recorder) = recorder {
		if let Ok(Err(e)) = recorder.await {
			eprintln!("warning: {e}");
		}
	}
	let report = match outcome {
		Ok(report) => report,
		Err(e) => return Err(Failure::new(e.exit(), format!("rehearsal {run_id}: {e}"))),
	};
	let dir = args.report_dir.clone().unwrap_or(run_dir);
	let written = write_reports(&report, &dir)?;
	println!();
	print!(
		"{}",
		terminal(&report, !args.no_color && std::io::stdout().is_terminal())
	);
	println!("reports: {}", written.join(", "));
	println!(
		"store: {} (rebuild with `stagenet report {run_id} --format html{}`)",
		stagenet_chain::url::redact(&args.database_url),
		if args.database_url == DEFAULT_DATABASE {
			String::new()
		} else {
			" --database-url …".into()
		}
	);
	verdict_result(&report)
}

/// Writes every report format into `dir`; the paths written.
fn write_reports(report: &RunReport, dir: &Path) -> Result<Vec<String>, Failure> {
	std::fs::create_dir_all(dir).map_err(|e| {
		Failure::new(
			Exit::Infrastructure,
			format!("cannot create `{}`: {e}", dir.display()),
		)
	})?;
	let mut written = Vec::new();
	for format in WRITTEN {
		let path = dir.join(format!("report.{}", format.extension()));
		std::fs::write(&path, render(report, format)).map_err(|e| {
			Failure::new(
				Exit::Infrastructure,
				format!("cannot write `{}`: {e}", path.display()),
			)
		})?;
		written.push(path.display().to_string());
	}
	Ok(written)
}

fn verdict_result(report: &RunReport) -> Result<(), Failure> {
	match report.verdict() {
		Verdict::Pass => Ok(()),
		v @ Verdict::Interrupted => Err(Failure::new(
			v.exit(),
			format!(
				"run {} was interrupted before its verdict: {} (hint: the reports hold what was measured until then; rehearse again under a new run id for a verdict)",
				report.run.id,
				report.run.error.as_deref().unwrap_or("stopped by a signal")
			),
		)),
		v => {
			let failed: Vec<String> = report
				.gates
				.iter()
				.filter(|g| !g.passed)
				.map(|g| format!("{} ({} vs {})", g.name, g.measured, g.threshold))
				.collect();
			let message = if failed.is_empty() {
				format!("run {}: verdict {}", report.run.id, v.as_str())
			} else {
				format!(
					"run {}: gate(s) failed: {}",
					report.run.id,
					failed.join("; ")
				)
			};
			Err(Failure::new(v.exit(), message))
		}
	}
}

/// Runs `stagenet upgrade`.
pub async fn upgrade_run(args: UpgradeArgs) -> Result<(), Failure> {
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
	let url = rpc_member(&state, &args.run)?
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
	let via = match args.via {
		ViaArg::Sudo => UpgradeVia::Sudo,
		ViaArg::Authorize => UpgradeVia::Authorize,
	};
	let record = upgrade(
		&chain,
		&url,
		&UpgradeOptions {
			wasm: args.wasm.clone(),
			wasm_shown: args.wasm.display().to_string(),
			via,
			diff_after: args.diff_after.max(1),
			work_dir: dir.join("upgrades"),
			seq: 0,
		},
	)
	.await?;
	if args.json {
		println!(
			"{}",
			serde_json::to_string_pretty(&record)
				.map_err(|e| Failure::new(Exit::Infrastructure, e.to_string()))?
		);
	} else {
		println!("upgrade via {} of run {}", record.via, args.run);
		println!(
			"  included in      #{} (CodeUpdated: {})",
			record.included_in,
			if record.code_updated { "yes" } else { "no" }
		);
		println!(
			"  runtime          {} → {}",
			record.old_version,
			record.new_version.as_deref().unwrap_or("?")
		);
		println!(
			"  LastRuntimeUpgrade {}",
			record.last_runtime_upgrade.as_deref().unwrap_or("?")
		);
		if let (Some(first), Some(w), Some(p)) = (
			record.first_block,
			record.migration_weight,
			record.migration_percent,
		) {
			println!("  migrations       {w} ps in block #{first} (mandatory class) = {p:.2} % of the maximum block weight");
		}
		if let (Some(from), Some(to)) = (record.diff_from, record.diff_to) {
			println!("  storage diff     #{from} → #{to}");
			for p in &record.diff {
				println!(
					"    {:<20} +{} keys ({} B)  ~{} keys ({} B)  -{} keys ({} B)  {}",
					p.pallet,
					p.added_keys,
					p.added_bytes,
					p.changed_keys,
					p.changed_bytes,
					p.removed_keys,
					p.removed_bytes,
					p.items.join("; ")
				);
			}
		}
		if let Some(e) = &record.error {
			println!("  not measured     {e}");
		}
	}
	if record.code_updated {
		Ok(())
	} else {
		Err(Failure::new(
			Exit::Failed,
			format!("no `System::CodeUpdated` in block #{}", record.included_in),
		))
	}
}

/// Runs `stagenet report`.
pub async fn report_run(args: ReportArgs) -> Result<(), Failure> {
	let format =
		Format::parse(&args.format).map_err(|e| Failure::new(Exit::BadInput, e.to_string()))?;
	// A reader: a store that is not there is refused (in every form), never created empty.
	let store = Store::open_existing(&args.database_url).await?;
	let Some(run) = args.run else {
		let runs = store.runs().await?;
		for r in runs {
			println!(
				"{:<40} {:<24} {}",
				r.id,
				r.scenario.as_deref().unwrap_or("-"),
				r.verdict.map(|v| v.as_str()).unwrap_or("running")
			);
		}
		return Ok(());
	};
	// Not the error's own exit: a run that cannot be reported (not in the store, or its
	// records unreadable) is the run named wrong, bad input.
	let report = store
		.report(&run)
		.await
		.map_err(|e| Failure::new(Exit::BadInput, e.to_string()))?;
	let text = match format {
		Format::Terminal => terminal(
			&report,
			args.out.is_none() && std::io::stdout().is_terminal(),
		),
		f => render(&report, f),
	};
	match &args.out {
		Some(path) => std::fs::write(path, text).map_err(|e| {
			Failure::new(
				Exit::Infrastructure,
				format!("cannot write `{}`: {e}", path.display()),
			)
		})?,
		None => print!("{text}"),
	}
	if args.exit_code {
		verdict_result(&report)
	} else {
		Ok(())
	}
}

/// Prints the rehearsal's progress lines as they come.
async fn print_notes(mut events: Subscription) {
	while let Some(event) = events.next().await {
		match &*event {
			RunEvent::Note { text } => println!("  {text}"),
			RunEvent::Lagged { missed } => {
				println!("  ({missed} progress event(s) not shown: the terminal fell behind)")
			}
			_ => {}
		}
	}
}

/// Creates (or empties) the `--events` file.
fn open_events_file(path: &Path) -> Result<std::fs::File, Failure> {
	std::fs::File::create(path).map_err(|e| {
		Failure::new(
			Exit::BadInput,
			format!(
				"cannot write the events file `{}`: {e} (hint: name a file in a directory that \
				 exists and is writable)",
				path.display()
			),
		)
	})
}

/// Writes every event to `file` as one JSON line, flushed per event so that a reader follows
/// the run as it happens.
async fn record_events(
	mut events: Subscription,
	file: std::fs::File,
	path: PathBuf,
) -> Result<(), String> {
	use std::io::Write as _;
	let mut out = std::io::LineWriter::new(file);
	while let Some(event) = events.next().await {
		let line = serde_json::to_string(&*event)
			.map_err(|e| format!("an event could not be written as JSON: {e}"))?;
		writeln!(out, "{line}")
			.map_err(|e| format!("cannot write the events file `{}`: {e}", path.display()))?;
	}
	out.flush()
		.map_err(|e| format!("cannot write the events file `{}`: {e}", path.display()))
}
