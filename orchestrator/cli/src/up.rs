//! `stagenet up`: a topology (or the quick flags) brought up on a provider, watched until
//! Ctrl-C, `--for`, `stagenet down`, or a node's death.

use crate::failure::Failure;
use stagenet_config::{exit::Exit, Chain, NodeDefaults, Topology};
use stagenet_network::{
	claim::claim_run, gpu, provider::Resource, DynProvider, Network, NetworkError, NetworkPlan,
};
use std::{
	collections::BTreeMap,
	num::NonZeroU32,
	path::{Path, PathBuf},
	time::Duration,
};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Where runs live unless `--runs-dir` says otherwise.
pub const DEFAULT_RUNS_DIR: &str = ".stagenet/runs";

/// Which provider runs the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProviderKind {
	/// Processes on this machine, on loopback (no daemon needed).
	Local,
	/// Containers on the local Docker engine, on an internal network.
	Docker,
}

/// Arguments of `stagenet up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
	/// Topology file (YAML). Without one, the flags below describe the network.
	topology: Option<PathBuf>,
	/// Where the network runs.
	#[arg(long, value_enum, default_value = "local")]
	provider: ProviderKind,
	/// Treat unknown keys in the topology as errors.
	#[arg(long)]
	strict: bool,
	/// Directory holding one directory per run (state, spec, logs).
	#[arg(long, default_value = crate::up::DEFAULT_RUNS_DIR)]
	runs_dir: PathBuf,
	/// Run id (default: `up-<milliseconds since the epoch>`).
	#[arg(long)]
	run_id: Option<String>,
	/// The node binary (without a topology).
	#[arg(long, default_value = "target/test-chain/stagenet-test-node")]
	node: PathBuf,
	/// Chain (without a topology): a chain spec file, or `dev` / `local`. Default: `dev`
	/// for one validator, `local` for three (the test chain's built-in authorities).
	#[arg(long)]
	chain: Option<String>,
	/// Number of validators (without a topology).
	#[arg(long, default_value_t = 3)]
	validators: u32,
	/// Number of full nodes (without a topology).
	#[arg(long, default_value_t = 0)]
	full_nodes: u32,
	/// Number of RPC nodes (without a topology).
	#[arg(long, default_value_t = 0)]
	rpc_nodes: u32,
	/// Directory of the run (default: `<runs-dir>/<run id>`).
	#[arg(long)]
	base_dir: Option<PathBuf>,
	/// How long to wait for blocks to be produced and finalized (overrides the topology's
	/// `ready-timeout`).
	#[arg(long, value_parser = humantime::parse_duration)]
	ready_timeout: Option<Duration>,
	/// Stop the network after this long instead of waiting for Ctrl-C.
	#[arg(long = "for", value_parser = humantime::parse_duration)]
	run_for: Option<Duration>,
	/// Extra arguments for every node (repeat the flag, e.g. `--node-arg=--state-pruning=archive`).
	#[arg(long = "node-arg", allow_hyphen_values = true)]
	node_args: Vec<String>,
}

/// Builds the provider named on the command line.
pub async fn provider(kind: ProviderKind) -> Result<DynProvider, NetworkError> {
	Ok(match kind {
		ProviderKind::Local => std::sync::Arc::new(stagenet_network::LocalProvider::new()),
		ProviderKind::Docker => {
			let relay_binary = std::env::current_exe().map_err(|source| NetworkError::Io {
				path: PathBuf::from("(the stagenet binary)"),
				source,
			})?;
			std::sync::Arc::new(
				stagenet_network::provider::docker::DockerProvider::connect(
					stagenet_network::provider::docker::DockerOptions { relay_binary },
				)
				.await?,
			)
		}
	})
}

/// The topology the flags describe, when no file is given.
fn topology_from_flags(args: &UpArgs) -> Result<Topology, Failure> {
	let chain = match args.chain.as_deref() {
		Some(c @ ("dev" | "local")) => Chain::Builtin(c.to_string()),
		Some(path) => Chain::Spec(PathBuf::from(path)),
		None => match args.validators {
			1 => Chain::Builtin("dev".into()),
			3 => Chain::Builtin("local".into()),
			n => {
				return Err(Failure::new(
					Exit::BadInput,
					format!(
						"no built-in chain has {n} authorities (hint: the test chain's `dev` has 1 \
						 validator and `local` has 3; pass `--validators 1` or `--validators 3`, \
						 or `--chain <spec.json>`, or a topology file)"
					),
				))
			}
		},
	};
	let validators = NonZeroU32::new(args.validators).ok_or_else(|| {
		Failure::new(
			Exit::BadInput,
			"`--validators 0`: a network needs at least one validator (hint: pass \
			 `--validators 1` or more)",
		)
	})?;
	Ok(Topology {
		file: PathBuf::from("(command line)"),
		name: None,
		chain,
		node: NodeDefaults {
			binary: Some(args.node.clone()),
			image: None,
			args: args.node_args.clone(),
			resources: Default::default(),
		},
		validators,
		validator_uris: None,
		full_nodes: args.full_nodes,
		rpc_nodes: args.rpc_nodes,
		nodes: BTreeMap::new(),
		ready_timeout: Duration::from_secs(180),
		workloads: Vec::new(),
	})
}

/// Runs `stagenet up`.
pub async fn run(args: UpArgs) -> Result<(), Failure> {
	let mut topology = match &args.topology {
		Some(file) => {
			let (topology, warnings) = Topology::load(file, args.strict)?;
			for w in warnings {
				eprintln!("warning: `{}`: {}", w.path, w.message);
			}
			topology
		}
		None => topology_from_flags(&args)?,
	};
	if args.topology.is_some() {
		topology.node.args.extend(args.node_args.iter().cloned());
	}
	if let Some(t) = args.ready_timeout {
		topology.ready_timeout = t;
	}
	let run_id = args.run_id.clone().unwrap_or_else(|| {
		format!(
			"up-{}",
			std::time::SystemTime::now()
				.duration_since(std::time::UNIX_EPOCH)
				.map(|d| d.as_millis())
				.unwrap_or_default()
		)
	});
	// The run is checked and owned before anything of it is written (a second `up` of the
	// same run is refused with who holds it).
	let claim = claim_run(&args.runs_dir, &run_id, args.base_dir.as_deref())?;
	let dir = claim.dir.clone();
	// Listen before anything starts: SIGINT (Ctrl-C) or SIGTERM (`stagenet down` from
	// another shell) at any moment stops the network.
	let mut stop = StopSignals::new()?;
	let provider = provider(args.provider).await?;
	report_orphans(&provider).await;
	let inventory = if topology.gpus_requested() > 0 {
		Some(gpu::detect().await?)
	} else {
		None
	};
	let plan = NetworkPlan::new(
		&topology,
		provider.name(),
		&provider.capabilities(),
		&run_id,
		dir,
		inventory.as_ref(),
	)?;
	for w in &plan.warnings {
		eprintln!("warning: {w}");
	}
	println!(
		"starting run {run_id} on the {} provider ({} node(s), {} workload replica(s))",
		provider.name(),
		plan.nodes.len(),
		plan.replicas.len()
	);
	let ready_timeout = plan.ready_timeout;
	let mut network = Network::start(provider, plan).await?;
	let ready = tokio::select! {
		ready = network.wait_ready(ready_timeout) => Some(ready),
		_ = stop.recv() => None,
	};
	let state = match ready {
		Some(Ok(state)) => state,
		Some(Err(e)) => {
			let _ = network.shutdown().await;
			return Err(e.into());
		}
		None => {
			println!("interrupted before the network was ready; stopping it");
			network.shutdown().await?;
			return Ok(());
		}
	};
	if let Err(e) = network.start_workloads().await {
		let _ = network.shutdown().await;
		return Err(e.into());
	}
	network.mark_ready()?;
	print_ready(&network, &state, &args.runs_dir);
	let outcome = watch(&mut network, args.run_for, &mut stop).await;
	println!("stopping the network");
	network.shutdown().await?;
	outcome.map_err(Failure::from)
}

fn print_ready(network: &Network, state: &stagenet_network::ReadyState, runs_dir: &Path) {
	println!(
		"network {} is ready: blocks are produced and finalized",
		network.run_id()
	);
	print!("{state}");
	println!("chain spec: {}", network.chain_spec().display());
	for node in network.nodes() {
		println!(
			"  {:<10} {:<9} rpc {}  metrics {}  log {}",
			node.name,
			format!("{:?}", node.role).to_lowercase(),
			node.rpc_url,
			node.prometheus_url,
			node.log.display()
		);
	}
	for w in network.workloads() {
		let gpus = if w.gpus.is_empty() {
			String::new()
		} else {
			format!(
				"  gpus {}",
				w.gpus
					.iter()
					.map(|g| g.to_string())
					.collect::<Vec<_>>()
					.join(",")
			)
		};
		println!(
			"  {:<10} workload  rpc {}{gpus}  log {}",
			w.name,
			w.rpc_url,
			w.log.display()
		);
	}
	let flag = if runs_dir == Path::new(DEFAULT_RUNS_DIR) {
		String::new()
	} else {
		format!(" --runs-dir {}", runs_dir.display())
	};
	println!(
		"state: {} (from another shell: `stagenet status {id}{flag}`, `stagenet logs \
		 {id}{flag}`, `stagenet down {id}{flag}`)",
		network
			.dir()
			.join(stagenet_network::state::STATE_FILE)
			.display(),
		id = network.run_id()
	);
}

/// Prints the resources of earlier runs whose owner is gone.
async fn report_orphans(provider: &DynProvider) {
	let resources = match provider.resources().await {
		Ok(r) => r,
		Err(e) => {
			eprintln!("warning: cannot list resources of earlier runs: {e}");
			return;
		}
	};
	let mut by_run: BTreeMap<String, Vec<&Resource>> = BTreeMap::new();
	for r in &resources {
		let alive = r
			.owner_pid
			.is_some_and(stagenet_network::state::process_alive);
		if !alive {
			by_run.entry(r.run_id.clone()).or_default().push(r);
		}
	}
	for (run, list) in by_run {
		let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
		for r in &list {
			*kinds.entry(r.kind.as_str()).or_default() += 1;
		}
		let what: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}(s)")).collect();
		eprintln!(
			"warning: orphans of an earlier run `{run}` on the {} provider: {} (its stagenet is \
			 gone) (hint: `stagenet down {run}` or `stagenet down --all`)",
			provider.name(),
			what.join(", ")
		);
	}
}

/// Waits for Ctrl-C, SIGTERM or the end of `run_for`, failing if a node exits meanwhile.
async fn watch(
	network: &mut Network,
	run_for: Option<Duration>,
	stop: &mut StopSignals,
) -> Result<(), NetworkError> {
	let until = run_for.map(|d| tokio::time::Instant::now() + d);
	match run_for {
		Some(d) => println!("running for {}", humantime::format_duration(d)),
		None => println!("press Ctrl-C to stop"),
	}
	let mut reported: Vec<String> = Vec::new();
	loop {
		for (name, status) in network.check_alive().await? {
			if !reported.contains(&name) {
				println!(
					"workload {name} exited ({status}); last lines:\n{}",
					network.log_tail(&name, 10).unwrap_or_default()
				);
				reported.push(name);
			}
		}
		let tick = tokio::time::sleep(Duration::from_secs(1));
		tokio::select! {
			_ = stop.recv() => return Ok(()),
			_ = tick => {},
		}
		if until.is_some_and(|u| tokio::time::Instant::now() >= u) {
			return Ok(());
		}
	}
}

/// SIGINT and SIGTERM, registered when created.
pub struct StopSignals {
	interrupt: Signal,
	terminate: Signal,
}

impl StopSignals {
	/// Registers both handlers.
	pub fn new() -> Result<Self, NetworkError> {
		let register = |kind| {
			signal(kind).map_err(|source| NetworkError::Io {
				path: PathBuf::from("(signal handler)"),
				source,
			})
		};
		Ok(Self {
			interrupt: register(SignalKind::interrupt())?,
			terminate: register(SignalKind::terminate())?,
		})
	}

	/// Waits for either signal.
	pub async fn recv(&mut self) {
		tokio::select! {
			_ = self.interrupt.recv() => {},
			_ = self.terminate.recv() => {},
		}
	}
}
