//! `stagenet up`.

use stagenet_network::{ChainSource, LocalNetwork, NetworkConfig, NetworkError};
use std::{path::PathBuf, time::Duration};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Arguments of `stagenet up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
	/// The node binary.
	#[arg(long, default_value = "target/test-chain/stagenet-test-node")]
	node: PathBuf,
	/// Chain: a chain spec file, or a chain built into the node (`dev`, `local`). Default:
	/// `dev` for one validator, `local` for three (the test chain's built-in authorities).
	#[arg(long)]
	chain: Option<String>,
	/// Number of validators (dev keys alice, bob, charlie, … in order).
	#[arg(long, default_value_t = 3)]
	validators: usize,
	/// Number of full (non-authoring) nodes.
	#[arg(long, default_value_t = 0)]
	full_nodes: usize,
	/// Directory of the run (chain spec, databases, logs). Default: `.stagenet/runs/<run id>`.
	#[arg(long)]
	base_dir: Option<PathBuf>,
	/// How long to wait for blocks to be produced and finalized.
	#[arg(long, default_value = "180s", value_parser = humantime::parse_duration)]
	ready_timeout: Duration,
	/// Stop the network after this long instead of waiting for Ctrl-C.
	#[arg(long = "for", value_parser = humantime::parse_duration)]
	run_for: Option<Duration>,
	/// Extra arguments for every node (repeat the flag, e.g. `--node-arg=--state-pruning=archive`).
	#[arg(long = "node-arg", allow_hyphen_values = true)]
	node_args: Vec<String>,
}

/// Runs `stagenet up`.
pub async fn run(args: UpArgs) -> Result<(), NetworkError> {
	let chain = match args.chain {
		Some(c) if c == "dev" || c == "local" => ChainSource::Builtin(c),
		Some(path) => ChainSource::SpecFile(PathBuf::from(path)),
		None => match args.validators {
			1 => ChainSource::Builtin("dev".into()),
			3 => ChainSource::Builtin("local".into()),
			n => {
				return Err(NetworkError::InvalidConfig {
					reason: format!("no built-in chain has {n} authorities"),
					hint: "the test chain's `dev` has 1 validator and `local` has 3; pass \
					       `--validators 1` or `--validators 3`, or `--chain <spec.json>`"
						.into(),
				})
			}
		},
	};
	let run_id = format!(
		"up-{}",
		std::time::SystemTime::now()
			.duration_since(std::time::UNIX_EPOCH)
			.map(|d| d.as_millis())
			.unwrap_or_default()
	);
	let base_dir = args
		.base_dir
		.unwrap_or_else(|| PathBuf::from(".stagenet/runs").join(&run_id));
	let config = NetworkConfig {
		node_binary: args.node,
		chain,
		validators: args.validators,
		full_nodes: args.full_nodes,
		base_dir,
		run_id,
		extra_args: args.node_args,
	};
	// Listen before anything starts: SIGINT (Ctrl-C) or SIGTERM at any moment stops the
	// nodes (the default action would kill stagenet and leave them running).
	let mut stop = StopSignals::new()?;
	let mut network = LocalNetwork::start(config).await?;
	let ready = tokio::select! {
		ready = network.wait_ready(args.ready_timeout) => Some(ready),
		_ = stop.recv() => None,
	};
	let state = match ready {
		Some(Ok(state)) => state,
		Some(Err(e)) => {
			network.shutdown().await;
			return Err(e);
		}
		None => {
			println!("interrupted before the network was ready; stopping it");
			network.shutdown().await;
			return Ok(());
		}
	};
	println!(
		"network {} is ready: blocks are produced and finalized",
		network.run_id()
	);
	print!("{state}");
	println!("chain spec: {}", network.chain_spec().display());
	for node in network.nodes() {
		println!(
			"  {:<8} rpc {}  metrics {}  log {}",
			node.name,
			node.rpc_url,
			node.prometheus_url,
			node.log.display()
		);
	}
	let outcome = watch(&mut network, args.run_for, &mut stop).await;
	println!("stopping the network");
	network.shutdown().await;
	outcome
}

/// Waits for Ctrl-C or the end of `run_for`, failing if a node exits meanwhile.
async fn watch(
	network: &mut LocalNetwork,
	run_for: Option<Duration>,
	stop: &mut StopSignals,
) -> Result<(), NetworkError> {
	let until = run_for.map(|d| tokio::time::Instant::now() + d);
	match until {
		Some(_) => println!(
			"running for {}",
			humantime::format_duration(run_for.unwrap_or_default())
		),
		None => println!("press Ctrl-C to stop"),
	}
	loop {
		network.check_alive()?;
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
struct StopSignals {
	interrupt: Signal,
	terminate: Signal,
}

impl StopSignals {
	fn new() -> Result<Self, NetworkError> {
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

	async fn recv(&mut self) {
		tokio::select! {
			_ = self.interrupt.recv() => {},
			_ = self.terminate.recv() => {},
		}
	}
}
