//! `stagenet rehearse`: a scenario from its source to its verdict. The state is snapshotted
//! (or an existing snapshot used), forked for the topology's validators, brought up, watched
//! by the monitor while the steps run (upgrades, faults, waits, invariants), and judged by
//! the gates. Everything is recorded in the store as it happens, so the report can be rebuilt
//! from the store alone, and the network is torn down whatever happens.

use crate::{
	events::{EventBus, RunEvent},
	gates::{evaluate, Evidence},
	monitor::{now_ms, Monitor, MonitorOptions, WatchedNode},
	replay::{replay, ReplayOptions},
	stress::{stress, StressOptions},
	upgrade::{upgrade, UpgradeOptions},
};
use stagenet_chain::client::Chain as ChainClient;
use stagenet_config::{
	exit::{Exit, ExitStatus},
	Chain, Check, Operand, Role, Scenario, Source, Step, StressProfile, Topology,
};
use stagenet_network::{
	state::{Phase, RunState, STATE_FILE},
	DynProvider, Fault, Network, NetworkPlan,
};
use stagenet_fork::{fork, ForkOptions};
use stagenet_snapshot::{download, DownloadOptions, Progress};
use stagenet_store::{FindingKind, NodeRecord, RunRecord, RunReport, StepRecord, Store, Verdict};
use std::{
	path::{Path, PathBuf},
	sync::Arc,
	time::{Duration, Instant},
};

/// Time between two polls of the monitor.
const POLL: Duration = Duration::from_millis(250);
/// Finality lag above which a finality stall is recorded when the scenario sets no gate.
const DEFAULT_FINALITY_STALL: u64 = 10;
/// Blocks the ledger may still need to catch up after the last step.
const CATCH_UP: Duration = Duration::from_secs(15);
/// How long the monitor's last poll may take when a rehearsal is interrupted.
const MONITOR_STOP: Duration = Duration::from_secs(10);
/// How long the network's teardown may take when a rehearsal is interrupted.
const TEARDOWN: Duration = Duration::from_secs(60);

/// What a rehearsal needs besides its scenario.
pub struct RehearseOptions {
	/// The scenario.
	pub scenario: Scenario,
	/// Where the network runs.
	pub provider: DynProvider,
	/// The run's directory (spec, keys, logs, reports).
	pub run_dir: PathBuf,
	/// The run id.
	pub run_id: String,
	/// The store.
	pub store: Arc<Store>,
	/// Unknown topology keys are errors.
	pub strict: bool,
	/// Where the rehearsal publishes what it does and measures ([`RunEvent`]s: progress
	/// lines, stages, ledger blocks, findings, steps, records, gates, the verdict).
	pub events: EventBus,
	/// When it turns `true` (Ctrl-C, SIGTERM), the rehearsal stops in order: the step in
	/// flight is recorded as interrupted, the monitor's ledger is kept, the network is torn
	/// down, and the run ends with the verdict [`Verdict::Interrupted`] in the store and the
	/// phase [`Phase::Interrupted`] in its state file. `None`: never interrupted.
	pub interrupt: Option<tokio::sync::watch::Receiver<bool>>,
}

/// A rehearsal that could not reach a verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RehearseError {
	/// The scenario or a file it names is wrong (exit 2); the cause is the library error
	/// that said so (or the rehearsal's own message).
	#[error("{0}")]
	BadInput(#[source] Cause),
	/// Something the rehearsal depends on failed (exit 3); the cause as above.
	#[error("{0}")]
	Infrastructure(#[source] Cause),
}

impl RehearseError {
	/// The verdict it stands for.
	pub fn verdict(&self) -> Verdict {
		match self {
			RehearseError::BadInput(_) => Verdict::BadInput,
			RehearseError::Infrastructure(_) => Verdict::Infrastructure,
		}
	}
}

impl ExitStatus for RehearseError {
	fn exit(&self) -> Exit {
		match self {
			RehearseError::BadInput(_) => Exit::BadInput,
			RehearseError::Infrastructure(_) => Exit::Infrastructure,
		}
	}
}

/// A cause of a failed rehearsal: the library error it came from (kept whole, for
/// `Error::source`), or a message of the rehearsal's own.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

fn bad(e: impl Into<Cause>) -> RehearseError {
	RehearseError::BadInput(e.into())
}

fn infra(e: impl Into<Cause>) -> RehearseError {
	RehearseError::Infrastructure(e.into())
}

/// Checks the files the steps name that can be checked before anything starts: every upgrade
/// step's runtime must be a Substrate runtime whose version can be read.
pub fn check_inputs(scenario: &Scenario) -> Result<(), RehearseError> {
	for (i, step) in scenario.steps.iter().enumerate() {
		if let Step::Upgrade { wasm, .. } = step {
			crate::upgrade::read_runtime(wasm).map_err(|e| {
				bad(format!(
					"step {} (upgrade) of scenario `{}`: {e}",
					i + 1,
					scenario.name
				))
			})?;
		}
	}
	Ok(())
}

/// What a rehearsal started and measured so far. It lives outside the running future, so
/// that an interrupt can stop the rehearsal in order and keep what was measured.
#[derive(Default)]
struct Sofar {
	/// What is being done (`starting the network`), for the interrupt's message.
	stage: &'static str,
	network: Option<Network>,
	monitor: Option<Monitor>,
	steps: Vec<StepRecord>,
	records: Records,
	/// The step being carried out: its index and start time.
	current: Option<(usize, i64)>,
}

/// Waits until `interrupt` turns `true`; never returns without one (or once its sender is
/// gone).
async fn interrupted(interrupt: &mut Option<tokio::sync::watch::Receiver<bool>>) {
	if let Some(rx) = interrupt {
		if rx.wait_for(|stop| *stop).await.is_ok() {
			return;
		}
	}
	std::future::pending::<()>().await
}

/// Sets the phase of the run's state file (when the network got as far as writing one) to
/// [`Phase::Interrupted`], so that `stagenet status` does not show an interrupted run as
/// starting or ready.
pub fn mark_interrupted(run_dir: &Path) {
	if !run_dir.join(STATE_FILE).exists() {
		return;
	}
	let saved = RunState::load(run_dir).and_then(|mut state| {
		state.phase = Phase::Interrupted;
		state.save(run_dir)
	});
	if let Err(e) = saved {
		tracing::warn!(target: "stagenet::rehearse", error = %e, "cannot mark the run interrupted");
	}
}

/// Runs the scenario; the report as stored. The store holds the run even when it fails
/// (with its verdict `bad-input` or `infrastructure` and the error), and when it is
/// interrupted (with the verdict `interrupted` and everything measured until then).
pub async fn rehearse(opts: RehearseOptions) -> Result<RunReport, RehearseError> {
	let events = opts.events.clone();
	let scenario = &opts.scenario;
	check_inputs(scenario)?;
	std::fs::create_dir_all(&opts.run_dir)
		.map_err(|e| infra(format!("cannot create `{}`: {e}", opts.run_dir.display())))?;
	let run = RunRecord {
		id: opts.run_id.clone(),
		scenario: Some(scenario.name.clone()),
		scenario_file: Some(scenario.file.display().to_string()),
		provider: opts.provider.name().to_string(),
		chain: String::new(),
		genesis_hash: String::new(),
		tool_version: env!("CARGO_PKG_VERSION").to_string(),
		started_at: now_ms(),
		finished_at: None,
		verdict: None,
		error: None,
	};
	opts.store
		.create_run(&run)
		.await
		.map_err(|e| infra(format!("store: {e}")))?;
	events.publish(RunEvent::RunStarted {
		run: opts.run_id.clone(),
		scenario: scenario.name.clone(),
	});
	let mut progress = Sofar::default();
	let mut interrupt = opts.interrupt.clone();
	let outcome = tokio::select! {
		outcome = prepare_and_run(&opts, &mut progress, &events) => Some(outcome),
		() = interrupted(&mut interrupt) => None,
	};
	let Some(outcome) = outcome else {
		return stop_interrupted(&opts, progress).await;
	};
	if let Some(monitor) = progress.monitor.take() {
		// Left running by a step that failed: its last poll, then it stops.
		let _ = tokio::time::timeout(MONITOR_STOP, monitor.stop()).await;
	}
	if let Some(mut n) = progress.network.take() {
		events.note("stopping the network");
		if let Err(e) = n.shutdown().await {
			tracing::warn!(target: "stagenet::rehearse", error = %e, "teardown failed");
		}
	}
	match outcome {
		Ok(verdict) => {
			opts.store
				.finish_run(&opts.run_id, now_ms(), Some(verdict), None)
				.await
				.map_err(|e| infra(format!("store: {e}")))?;
			events.publish(RunEvent::Verdict {
				verdict,
				error: None,
			});
		}
		Err(e) => {
			let _ = opts
				.store
				.finish_run(
					&opts.run_id,
					now_ms(),
					Some(e.verdict()),
					Some(e.to_string()),
				)
				.await;
			events.publish(RunEvent::Verdict {
				verdict: e.verdict(),
				error: Some(e.to_string()),
			});
			return Err(e);
		}
	}
	opts.store
		.report(&opts.run_id)
		.await
		.map_err(|e| infra(format!("store: {e}")))
}

/// Ends an interrupted rehearsal: records the step in flight as interrupted, stops the
/// monitor (keeping its ledger), judges the gates on what was measured, tears the network
/// down, marks the run state and the store's run `interrupted`; the partial report.
async fn stop_interrupted(
	opts: &RehearseOptions,
	mut progress: Sofar,
) -> Result<RunReport, RehearseError> {
	let events = &opts.events;
	let scenario = &opts.scenario;
	let stage = progress.stage;
	events.note(format!(
		"interrupted while {stage}: recording what was measured{}",
		if progress.network.is_some() {
			" and stopping the network"
		} else {
			""
		}
	));
	let observed = match progress.monitor.take() {
		Some(m) => tokio::time::timeout(MONITOR_STOP, m.stop()).await.ok(),
		None => None,
	};
	let in_flight = progress
		.current
		.take()
		.and_then(|(i, started)| scenario.steps.get(i).map(|step| (i, started, step)));
	if let Some((i, started, step)) = in_flight {
		let record = StepRecord {
			index: i as u32,
			kind: step.kind().to_string(),
			description: describe_step(step),
			started_at: started,
			finished_at: now_ms(),
			block: observed.as_ref().map(|o| o.best()),
			ok: false,
			outcome: format!(
				"interrupted after {} s, before it finished",
				(now_ms() - started).max(0) / 1000
			),
		};
		if let Err(e) = opts.store.add_step(&opts.run_id, &record).await {
			tracing::warn!(target: "stagenet::rehearse", error = %e, "cannot record the interrupted step");
		}
		events.publish(RunEvent::StepFinished {
			step: Box::new(record.clone()),
		});
		progress.steps.push(record);
	}
	if let Some(observed) = &observed {
		let gates = evaluate(
			&scenario.gates,
			&Evidence {
				blocks: &observed.blocks,
				findings: &observed.findings,
				upgrades: &progress.records.upgrades,
				replays: &progress.records.replays,
				stresses: &progress.records.stresses,
				steps: &progress.steps,
				best: observed.best(),
				finalized: observed.finalized(),
			},
		);
		if let Err(e) = opts.store.set_gates(&opts.run_id, &gates).await {
			tracing::warn!(target: "stagenet::rehearse", error = %e, "cannot record the gates of the interrupted run");
		}
		publish_gates(events, &gates);
	}
	if let Some(mut n) = progress.network.take() {
		events.note("stopping the network");
		match tokio::time::timeout(TEARDOWN, n.shutdown()).await {
			Ok(Ok(())) => {}
			Ok(Err(e)) => {
				tracing::warn!(target: "stagenet::rehearse", error = %e, "teardown failed")
			}
			Err(_) => {
				tracing::warn!(target: "stagenet::rehearse", "teardown did not finish within {TEARDOWN:?}")
			}
		}
	}
	mark_interrupted(&opts.run_dir);
	let finished = progress.steps.iter().filter(|s| s.ok).count();
	let error = format!(
		"interrupted by a stop signal (Ctrl-C or SIGTERM) while {stage}; {finished} of {} step(s) had passed; no verdict was reached",
		scenario.steps.len()
	);
	opts.store
		.finish_run(
			&opts.run_id,
			now_ms(),
			Some(Verdict::Interrupted),
			Some(error.clone()),
		)
		.await
		.map_err(|e| infra(format!("store: {e}")))?;
	events.publish(RunEvent::Verdict {
		verdict: Verdict::Interrupted,
		error: Some(error),
	});
	opts.store
		.report(&opts.run_id)
		.await
		.map_err(|e| infra(format!("store: {e}")))
}

/// A step as the report names it, before it ran.
fn describe_step(step: &Step) -> String {
	match step {
		Step::WaitBlocks { blocks, .. } => format!("wait for {blocks} block(s)"),
		Step::Upgrade { wasm, via, .. } => {
			format!("upgrade to `{}` via {}", shown_path(wasm), via.as_str())
		}
		Step::Fault { node, action } => format!("{action:?} `{node}`").to_lowercase(),
		Step::AssertStorage { name, .. } => format!("invariant {name}"),
		Step::Replay { capture, rate, .. } => {
			format!("replay `{}` at {}", shown_path(capture), rate.label())
		}
		Step::Stress { profile, .. } => format!("stress `{}`", shown_path(profile)),
	}
}

async fn prepare_and_run(
	opts: &RehearseOptions,
	progress: &mut Sofar,
	events: &EventBus,
) -> Result<Verdict, RehearseError> {
	let Sofar {
		stage,
		network: network_slot,
		monitor: monitor_slot,
		steps,
		records,
		current,
	} = progress;
	let scenario = &opts.scenario;
	// 1. Source.
	*stage = "taking the source snapshot";
	events.publish(RunEvent::Stage {
		stage: "taking the source snapshot".into(),
	});
	let snapshot = match &scenario.source {
		Source::Snapshot(p) => p.clone(),
		Source::Rpc { url, block } => {
			let out = opts.run_dir.join("source.snap");
			events.note(format!("snapshot of {url}"));
			let at = match block {
				Some(b) => Some(b.parse().map_err(bad)?),
				None => None,
			};
			let quiet: Arc<dyn Fn(&Progress) + Send + Sync> = Arc::new(|_: &Progress| {});
			download(
				&DownloadOptions {
					at,
					force: true,
					..DownloadOptions::new(url, &out)
				},
				quiet,
			)
			.await
			.map_err(|e| {
				if e.is_infrastructure() {
					infra(e)
				} else {
					bad(e)
				}
			})?;
			out
		}
		other => return Err(bad(format!("unsupported source {other:?}"))),
	};
	// 2. Topology (its chain is the fork) and fork.
	*stage = "forking the snapshot";
	events.publish(RunEvent::Stage {
		stage: "forking the snapshot".into(),
	});
	let spec = opts.run_dir.join("fork.spec.json");
	let placeholder = Chain::Builtin("local".into());
	let (topology, warnings) =
		Topology::load_with_chain(&scenario.topology, opts.strict, placeholder).map_err(bad)?;
	for w in warnings {
		events.note(format!("warning: topology `{}`: {}", w.path, w.message));
	}
	events.note(format!(
		"fork {} with {} for {} validator(s)",
		snapshot.display(),
		scenario.fork.profile.display(),
		topology.validators
	));
	let summary = fork(
		&ForkOptions {
			snapshot: snapshot.clone(),
			profile: scenario.fork.profile.clone(),
			out: spec.clone(),
			validators: Some(topology.validators.get() as usize),
			warmup: scenario.fork.warmup,
			force: true,
			strict: opts.strict,
			..Default::default()
		},
		|_| {},
	)
	.map_err(|e| match e {
		// `rehearse` has no `--validators`: the topology says how many.
		stagenet_fork::ForkError::TooManyValidators {
			asked,
			max,
			constant,
		} => bad(format!(
			"the topology `{}` asks for {asked} validators, but the runtime allows at most \
			 {max} (`{constant}`) (hint: set `validators: {max}` or fewer in the topology)",
			shown_path(&scenario.topology)
		)),
		e if e.is_infrastructure() => infra(e),
		e => bad(e),
	})?;
	tracing::debug!(target: "stagenet::rehearse", genesis = ?summary.genesis_hash, "forked");
	let topology = Topology {
		chain: Chain::Spec(spec.clone()),
		..topology
	};
	// 3. Network.
	let plan = NetworkPlan::new(
		&topology,
		opts.provider.name(),
		&opts.provider.capabilities(),
		&opts.run_id,
		opts.run_dir.clone(),
		None,
	)
	.map_err(bad)?;
	*stage = "starting the network";
	events.publish(RunEvent::Stage {
		stage: "starting the network".into(),
	});
	events.note(format!(
		"starting {} node(s) on the {} provider",
		plan.nodes.len(),
		opts.provider.name()
	));
	let ready_timeout = plan.ready_timeout;
	let network = Network::start(opts.provider.clone(), plan)
		.await
		.map_err(|e| match e {
			// `rehearse` has no `--node`: the topology names the binary.
			stagenet_network::NetworkError::NodeBinary { path, source } => infra(format!(
				"node binary `{}` cannot be run: {source} (hint: set `node.binary` in the \
				 topology `{}` to the node's path, or build the test chain with \
				 `scripts/build-test-chain`)",
				path.display(),
				shown_path(&scenario.topology)
			)),
			e if e.is_infrastructure() => infra(e),
			e => bad(e),
		})?;
	let network = network_slot.insert(network);
	let state = network.wait_ready(ready_timeout).await.map_err(infra)?;
	network.mark_ready().map_err(infra)?;
	events.note(format!(
		"network {} is ready: blocks are produced and finalized",
		opts.run_id
	));
	events.publish(RunEvent::NetworkReady {
		nodes: network.nodes().iter().map(|n| n.name.clone()).collect(),
	});
	tracing::debug!(target: "stagenet::rehearse", "{state}");
	let nodes = network.nodes();
	let ledger = nodes
		.iter()
		.find(|n| n.role == Role::Rpc)
		.or(nodes.first())
		.ok_or_else(|| infra("the network has no node"))?
		.clone();
	let chain = ChainClient::connect(&ledger.rpc_url).await.map_err(infra)?;
	let chain_name: String = chain.request("system_chain", vec![]).await.map_err(infra)?;
	let genesis: String = chain
		.request("chain_getBlockHash", vec![serde_json::json!(0)])
		.await
		.map_err(infra)?;
	opts.store
		.set_run_chain(&opts.run_id, &chain_name, &genesis)
		.await
		.map_err(|e| infra(format!("store: {e}")))?;
	for n in &nodes {
		opts.store
			.add_node(
				&opts.run_id,
				&NodeRecord {
					name: n.name.clone(),
					role: format!("{:?}", n.role).to_lowercase(),
					rpc_url: n.rpc_url.clone(),
					prometheus_url: Some(n.prometheus_url.clone()),
					log_file: n.log.display().to_string(),
				},
			)
			.await
			.map_err(|e| infra(format!("store: {e}")))?;
	}
	let slot = chain.slot_duration().await.map_err(infra)?;
	let authorities: Vec<String> = topology
		.planned_nodes()
		.into_iter()
		.filter(|p| p.role == Role::Validator)
		.map(|p| p.name)
		.collect();
	let monitor = &*monitor_slot.insert(Monitor::start(
		opts.store.clone(),
		nodes
			.iter()
			.map(|n| WatchedNode {
				name: n.name.clone(),
				rpc_url: n.rpc_url.clone(),
				prometheus_url: Some(n.prometheus_url.clone()),
				log: n.log.clone(),
			})
			.collect(),
		MonitorOptions {
			run_id: opts.run_id.clone(),
			authorities,
			ledger_node: ledger.name.clone(),
			slot,
			finality_lag_limit: scenario
				.gates
				.finality_lag
				.unwrap_or(DEFAULT_FINALITY_STALL),
			poll: POLL,
			from_block: 1,
			events: Some(events.clone()),
		},
	));
	// 4. Steps.
	let mut failure: Option<RehearseError> = None;
	for (i, step) in scenario.steps.iter().enumerate() {
		let started = now_ms();
		*stage = "running the steps";
		events.publish(RunEvent::Stage {
			stage: "running the steps".into(),
		});
		*current = Some((i, started));
		events.publish(RunEvent::StepStarted {
			index: i as u32,
			kind: step.kind().to_string(),
			description: describe_step(step),
		});
		let result = run_step(
			opts,
			network,
			&chain,
			&ledger.rpc_url,
			monitor,
			step,
			i,
			records,
			events,
		)
		.await;
		*current = None;
		let StepOutcome {
			ok,
			description,
			outcome,
		} = match result {
			Ok(s) => s,
			Err(e) => {
				failure = Some(e);
				break;
			}
		};
		let record = StepRecord {
			index: i as u32,
			kind: step.kind().to_string(),
			description,
			started_at: started,
			finished_at: now_ms(),
			block: Some(monitor.observed().best()),
			ok,
			outcome,
		};
		events.note(format!(
			"step {}/{} {}: {} — {}",
			i + 1,
			scenario.steps.len(),
			if record.ok { "ok" } else { "FAILED" },
			record.description,
			record.outcome
		));
		opts.store
			.add_step(&opts.run_id, &record)
			.await
			.map_err(|e| infra(format!("store: {e}")))?;
		events.publish(RunEvent::StepFinished {
			step: Box::new(record.clone()),
		});
		steps.push(record);
	}
	// Let the ledger catch up with the chain before judging.
	*stage = "letting the ledger catch up after the last step";
	events.publish(RunEvent::Stage {
		stage: "letting the ledger catch up after the last step".into(),
	});
	let best = monitor.observed().best();
	let _ = monitor.wait_for_block(best, CATCH_UP).await;
	observe_exits(network, monitor).await;
	let Some(monitor) = monitor_slot.take() else {
		return Err(infra("the monitor is gone before the gates were judged"));
	};
	*stage = "judging the gates";
	events.publish(RunEvent::Stage {
		stage: "judging the gates".into(),
	});
	let observed = monitor.stop().await;
	if let Some(e) = failure {
		return Err(e);
	}
	let gates = evaluate(
		&scenario.gates,
		&Evidence {
			blocks: &observed.blocks,
			findings: &observed.findings,
			upgrades: &records.upgrades,
			replays: &records.replays,
			stresses: &records.stresses,
			steps,
			best: observed.best(),
			finalized: observed.finalized(),
		},
	);
	opts.store
		.set_gates(&opts.run_id, &gates)
		.await
		.map_err(|e| infra(format!("store: {e}")))?;
	publish_gates(events, &gates);
	Ok(if gates.iter().all(|g| g.passed) {
		Verdict::Pass
	} else {
		Verdict::Fail
	})
}

/// Records nodes that exited on their own since the last look.
async fn observe_exits(network: &mut Network, monitor: &Monitor) {
	match network.take_exited_nodes().await {
		Ok(exited) => {
			for (node, status) in exited {
				let tail = network.log_tail(&node, 10).unwrap_or_default();
				let best = monitor.observed().best();
				monitor
					.record(
						FindingKind::NodeCrash,
						Some(node.clone()),
						Some(best),
						format!("node `{node}` exited ({status})"),
						tail.lines().map(str::to_string).collect(),
					)
					.await;
			}
		}
		Err(e) => {
			tracing::warn!(target: "stagenet::rehearse", error = %e, "cannot check the nodes")
		}
	}
}

/// What the steps recorded so far.
#[derive(Default)]
struct Records {
	upgrades: Vec<stagenet_store::UpgradeRecord>,
	replays: Vec<stagenet_store::ReplayRecord>,
	stresses: Vec<stagenet_store::StressRecord>,
}

/// What a step did: whether it did what it should, what it was, and what happened.
struct StepOutcome {
	ok: bool,
	description: String,
	outcome: String,
}

/// A [`StepOutcome`].
fn done(ok: bool, description: String, outcome: String) -> StepOutcome {
	StepOutcome {
		ok,
		description,
		outcome,
	}
}

/// Publishes each gate's result.
fn publish_gates(events: &EventBus, gates: &[stagenet_store::GateResult]) {
	for gate in gates {
		events.publish(RunEvent::Gate { gate: gate.clone() });
	}
}

/// Carries out one step. An error stops the rehearsal.
#[allow(clippy::too_many_arguments)]
async fn run_step(
	opts: &RehearseOptions,
	network: &mut Network,
	chain: &ChainClient,
	url: &str,
	monitor: &Monitor,
	step: &Step,
	index: usize,
	records: &mut Records,
	events: &EventBus,
) -> Result<StepOutcome, RehearseError> {
	let upgrades = &mut records.upgrades;
	match step {
		Step::WaitBlocks { blocks, timeout } => {
			let start = monitor.observed().best();
			let target = start + blocks;
			let description = format!("wait for {blocks} block(s) (to #{target})");
			let deadline = Instant::now() + *timeout;
			loop {
				observe_exits(network, monitor).await;
				let o = monitor.observed();
				if o.best() >= target {
					return Ok(done(
						true,
						description,
						format!("best #{}, finalized #{}", o.best(), o.finalized()),
					));
				}
				if Instant::now() >= deadline {
					return Ok(done(
						false,
						description,
						format!(
							"timed out after {}: best #{} (from #{start}), finalized #{}",
							humantime_secs(*timeout),
							o.best(),
							o.finalized()
						),
					));
				}
				tokio::time::sleep(POLL).await;
			}
		}
		Step::Upgrade {
			wasm,
			via,
			diff_after,
		} => {
			let shown = shown_path(wasm);
			let description = format!("upgrade to `{shown}` via {}", via.as_str());
			events.note(format!(
				"upgrading the runtime to {shown} via {}",
				via.as_str()
			));
			let result = upgrade(
				chain,
				url,
				&UpgradeOptions {
					wasm: wasm.clone(),
					wasm_shown: shown,
					via: *via,
					diff_after: *diff_after,
					work_dir: opts.run_dir.join("upgrades"),
					seq: upgrades.len() as u32,
				},
			)
			.await;
			match result {
				Ok(record) => {
					opts.store
						.put_upgrade(&opts.run_id, &record)
						.await
						.map_err(|e| infra(format!("store: {e}")))?;
					let ok = record.code_updated
						&& record.new_version.as_deref() != Some(&record.old_version);
					let outcome = format!(
						"included in #{}, CodeUpdated {}, {} → {}, migration {}{}",
						record.included_in,
						if record.code_updated { "yes" } else { "no" },
						record.old_version,
						record.new_version.as_deref().unwrap_or("?"),
						record
							.migration_percent
							.map(|p| format!("{p:.1} % of the block"))
							.unwrap_or_else(|| "not measured".into()),
						record
							.error
							.as_ref()
							.map(|e| format!(" ({e})"))
							.unwrap_or_default()
					);
					events.publish(RunEvent::Upgrade {
						upgrade: Box::new(record.clone()),
					});
					upgrades.push(record);
					Ok(done(ok, description, outcome))
				}
				Err(e) if e.is_bad_input() => Err(bad(e)),
				Err(e) => Ok(done(false, description, e.to_string())),
			}
		}
		Step::Fault { node, action } => {
			let fault: Fault = *action;
			let description = format!("{fault} `{node}`");
			match network.inject(node, fault).await {
				Ok(()) => {
					let best = monitor.observed().best();
					let kind = match fault {
						Fault::Kill => Some(FindingKind::NodeCrash),
						Fault::Restart => Some(FindingKind::NodeRestart),
						_ => None,
					};
					if let Some(kind) = kind {
						monitor
							.record(
								kind,
								Some(node.clone()),
								Some(best),
								format!(
									"`{node}`: {fault} by step {} (a scenario fault)",
									index + 1
								),
								Vec::new(),
							)
							.await;
					}
					Ok(done(true, description, format!("done at best #{best}")))
				}
				Err(e) if e.is_infrastructure() => Ok(done(false, description, e.to_string())),
				Err(e) => Err(bad(e)),
			}
		}
		Step::AssertStorage { name, check } => {
			let (ok, description, outcome) = check_storage(chain, name, check).await;
			Ok(done(ok, description, outcome))
		}
		Step::Replay {
			capture,
			rate,
			from,
			to,
		} => {
			let shown = shown_path(capture);
			let description = format!("replay `{shown}` at {}", rate.label());
			events.note(format!("replaying {shown} ({})", rate.label()));
			let options = ReplayOptions {
				capture: capture.clone(),
				capture_shown: shown,
				rate: *rate,
				from: *from,
				to: *to,
				only: Vec::new(),
				seq: records.replays.len() as u32,
				run_id: opts.run_id.clone(),
				runs_dir_shown: opts.run_dir.parent().map(shown_path).unwrap_or_default(),
				sudo_uri: "//Alice".into(),
				block_timeout: Duration::from_secs(60),
			};
			let notes = events.clone();
			match replay(chain, &options, move |line: &str| notes.note(line)).await {
				Ok(record) => {
					opts.store
						.put_replay(&opts.run_id, &record)
						.await
						.map_err(|e| infra(format!("store: {e}")))?;
					let diverged = record.divergences.len();
					let outcome = format!(
						"{} replayed from captured #{}..#{}: {} matched, {diverged} diverged, \
						 {} skipped (inherents {}, unsigned {}){}",
						record.replayed,
						record.from_block,
						record.to_block,
						record.matched,
						record.skipped_inherents + record.skipped_unsigned,
						record.skipped_inherents,
						record.skipped_unsigned,
						record
							.error
							.as_ref()
							.map(|e| format!(" — stopped early: {e}"))
							.unwrap_or_default()
					);
					let ok = record.error.is_none();
					events.publish(RunEvent::Replay {
						replay: Box::new(record.clone()),
					});
					records.replays.push(record);
					Ok(done(ok, description, outcome))
				}
				Err(e) if e.is_bad_input() => Err(bad(e)),
				Err(e) => Ok(done(false, description, e.to_string())),
			}
		}
		Step::Stress {
			profile,
			duration,
			rate,
		} => {
			let shown = shown_path(profile);
			let (loaded, warnings) = StressProfile::load(profile, false).map_err(bad)?;
			for w in warnings {
				events.note(format!("warning: {}: {}", shown, w.message));
			}
			let description = format!("stress `{}` ({shown})", loaded.name);
			let ledger_prometheus = network
				.nodes()
				.iter()
				.find(|n| n.rpc_url == url)
				.map(|n| n.prometheus_url.clone());
			let options = StressOptions {
				profile: loaded,
				profile_shown: shown,
				duration: *duration,
				rate: *rate,
				connections: None,
				url: url.to_string(),
				prometheus_url: ledger_prometheus,
				seq: records.stresses.len() as u32,
				sudo_uri: "//Alice".into(),
				signing_threads: None,
			};
			let notes = events.clone();
			let mut progress = move |line: &str| notes.note(line);
			match stress(&options, &mut progress).await {
				Ok(record) => {
					opts.store
						.put_stress(&opts.run_id, &record)
						.await
						.map_err(|e| infra(format!("store: {e}")))?;
					let outcome = format!(
						"{} included of {} submitted ({} accepted, {} failed, {} dropped), {:.1} tx/s \
						 included, latency p95 {:.0} ms; limit: {}",
						record.included,
						record.submitted,
						record.accepted,
						record.failed,
						record.dropped,
						record.included_tps,
						record.latency.p95,
						record.limit
					);
					events.publish(RunEvent::Stress {
						stress: Box::new(record.clone()),
					});
					records.stresses.push(record);
					Ok(done(true, description, outcome))
				}
				Err(e) if e.is_bad_input() => Err(bad(e)),
				Err(e) => Ok(done(false, description, e.to_string())),
			}
		}
	}
}

fn humantime_secs(d: Duration) -> String {
	format!("{} s", d.as_secs())
}

/// The path without `.`/`..` components, relative to the working directory when it lies
/// below it.
fn shown_path(p: &Path) -> String {
	let mut clean = PathBuf::new();
	for c in p.components() {
		match c {
			std::path::Component::ParentDir => {
				clean.pop();
			}
			std::path::Component::CurDir => {}
			other => clean.push(other.as_os_str()),
		}
	}
	std::env::current_dir()
		.ok()
		.and_then(|cwd| {
			clean
				.strip_prefix(cwd)
				.ok()
				.map(|r| r.display().to_string())
		})
		.unwrap_or_else(|| clean.display().to_string())
}

/// Reads an operand at block `hash`: (value, how it was read).
async fn operand(
	chain: &ChainClient,
	hash: subxt::utils::H256,
	op: &Operand,
) -> Result<(u128, String), String> {
	match op {
		Operand::Number(n) => Ok((*n, n.to_string())),
		Operand::Count(item) => {
			let (pallet, name) = item.split_once('.').unwrap_or((item, ""));
			let count = chain
				.storage_count_at(hash, pallet, name)
				.await
				.map_err(|e| e.to_string())?;
			Ok((u128::from(count), format!("{op} = {count}")))
		}
		Operand::Item(item) | Operand::Sum(item) => {
			let (pallet, name) = item.split_once('.').unwrap_or((item, ""));
			let (v, _) = chain
				.storage_integers_at(hash, pallet, name)
				.await
				.map_err(|e| e.to_string())?;
			Ok((v, format!("{op} = {v}")))
		}
		Operand::Add(terms) => {
			let mut total: u128 = 0;
			let mut parts = Vec::new();
			for t in terms {
				let (v, how) = Box::pin(operand(chain, hash, t)).await?;
				total = total.saturating_add(v);
				parts.push(how);
			}
			Ok((total, format!("{} = {total}", parts.join(" + "))))
		}
	}
}

/// Evaluates an invariant at the best block: (holds, description, what was read).
async fn check_storage(chain: &ChainClient, name: &str, check: &Check) -> (bool, String, String) {
	let describe_op = |op: &Operand| op.to_string();
	let description = match check {
		Check::Sum { item, equals } => {
			format!("invariant {name}: sum({item}) = {}", describe_op(equals))
		}
		Check::Value { item, equals } => {
			format!("invariant {name}: {item} = {}", describe_op(equals))
		}
		Check::Count { item, at_least } => format!("invariant {name}: count({item}) ≥ {at_least}"),
	};
	let hash = match chain.best_hash().await {
		Ok(h) => h,
		Err(e) => {
			return (
				false,
				description,
				format!("cannot read the best block: {e}"),
			)
		}
	};
	let result: Result<(bool, String), String> = async {
		match check {
			Check::Sum { item, equals } | Check::Value { item, equals } => {
				let (pallet, entry) = item.split_once('.').unwrap_or((item, ""));
				let (sum, count) = chain
					.storage_integers_at(hash, pallet, entry)
					.await
					.map_err(|e| e.to_string())?;
				let (expected, how) = operand(chain, hash, equals).await?;
				let left = if matches!(check, Check::Sum { .. }) {
					format!("sum({item}) = {sum} over {count} entries")
				} else {
					format!("{item} = {sum}")
				};
				let relation = if sum == expected { "=" } else { "≠" };
				Ok((sum == expected, format!("{left} {relation} {how}")))
			}
			Check::Count { item, at_least } => {
				let (pallet, entry) = item.split_once('.').unwrap_or((item, ""));
				let count = chain
					.storage_count_at(hash, pallet, entry)
					.await
					.map_err(|e| e.to_string())?;
				Ok((count >= *at_least, format!("count({item}) = {count}")))
			}
		}
	}
	.await;
	match result {
		Ok((ok, outcome)) => (ok, description, outcome),
		Err(e) => (false, description, format!("cannot read: {e}")),
	}
}
