//! One dev node of the test chain as a process the test controls directly: started on a free
//! loopback port with an archive database, killed and restarted on the same database and
//! port (to interrupt a download), and stopped for offline commands like `export-state`.

use crate::harness::{node_binary, repo_root, wait_for};
use std::{path::PathBuf, process::Stdio, time::Duration};
use tokio::process::{Child, Command};

/// A dev node (Alice authoring alone) with its own database under `target/test-runs`.
pub struct SoloNode {
	child: Option<Child>,
	/// RPC port (loopback).
	pub rpc_port: u16,
	/// Base path (database).
	pub base: PathBuf,
	/// Log file (appended across restarts).
	pub log: PathBuf,
	extra: Vec<String>,
	run_id: String,
	/// The chain spec it serves (`None`: `--dev`).
	chain: Option<PathBuf>,
}

fn free_port() -> u16 {
	std::net::TcpListener::bind("127.0.0.1:0")
		.and_then(|l| l.local_addr())
		.map(|a| a.port())
		.unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

impl SoloNode {
	/// Starts a dev node with `extra` arguments (and `--state-pruning archive` unless `extra`
	/// sets a pruning), and waits until it has produced block 2.
	pub async fn start(name: &str, extra: &[&str]) -> SoloNode {
		let mut node = SoloNode::new(name, extra, None);
		node.spawn();
		node.wait_for_block(2, Duration::from_secs(120)).await;
		node
	}

	/// Starts a node that serves the genesis of the raw chain spec `spec` without authoring
	/// (its authorities are not ours), and waits until its RPC answers: for reading the
	/// metadata and the genesis state of a spec such as a real chain's.
	pub async fn serve_spec(name: &str, spec: &std::path::Path) -> SoloNode {
		let mut node = SoloNode::new(name, &[], Some(spec.to_path_buf()));
		node.spawn();
		node.wait_for_rpc().await;
		node
	}

	/// A node not started yet, with a fresh base directory under `target/test-runs`.
	fn new(name: &str, extra: &[&str], chain: Option<PathBuf>) -> SoloNode {
		let run_id = format!("solo-{name}-{}", std::process::id());
		let base = repo_root().join("target/test-runs").join(&run_id);
		let _ = std::fs::remove_dir_all(&base);
		std::fs::create_dir_all(&base)
			.unwrap_or_else(|e| panic!("cannot create `{}`: {e}", base.display()));
		SoloNode {
			child: None,
			rpc_port: free_port(),
			log: base.join("node.log"),
			base,
			extra: extra.iter().map(|s| s.to_string()).collect(),
			run_id,
			chain,
		}
	}

	/// The RPC URL.
	pub fn url(&self) -> String {
		format!("ws://127.0.0.1:{}", self.rpc_port)
	}

	fn spawn(&mut self) {
		let log = std::fs::OpenOptions::new()
			.create(true)
			.append(true)
			.open(&self.log)
			.unwrap_or_else(|e| panic!("cannot open `{}`: {e}", self.log.display()));
		let log2 = log
			.try_clone()
			.unwrap_or_else(|e| panic!("cannot clone a log handle: {e}"));
		let mut cmd = Command::new(node_binary());
		match &self.chain {
			None => cmd.arg("--dev"),
			Some(spec) => cmd.arg("--chain").arg(spec),
		};
		cmd.args(["--no-telemetry", "--no-mdns", "--no-prometheus"]);
		if !self.extra.iter().any(|a| a.starts_with("--state-pruning")) {
			cmd.args(["--state-pruning", "archive"]);
		}
		cmd.arg("--base-path")
			.arg(&self.base)
			.args(["--rpc-port", &self.rpc_port.to_string()])
			.args(["--listen-addr", "/ip4/127.0.0.1/tcp/0"])
			.args(&self.extra)
			.env("STAGENET_RUN", &self.run_id)
			.stdin(Stdio::null())
			.stdout(Stdio::from(log))
			.stderr(Stdio::from(log2))
			.kill_on_drop(true);
		self.child = Some(
			cmd.spawn()
				.unwrap_or_else(|e| panic!("cannot start the test node: {e}")),
		);
	}

	/// Waits until the node's best block is at least `n`.
	pub async fn wait_for_block(&self, n: u64, timeout: Duration) {
		let url = self.url();
		wait_for(
			&format!("block #{n} on {url}"),
			timeout,
			Duration::from_millis(300),
			|| {
				let url = url.clone();
				async move {
					let best = best_number(&url).await?;
					if best >= n {
						Ok(best)
					} else {
						Err(format!("best block #{best}"))
					}
				}
			},
		)
		.await;
	}

	/// Kills the node (SIGKILL) and waits for it to exit.
	pub async fn kill(&mut self) {
		if let Some(mut c) = self.child.take() {
			let _ = c.kill().await;
		}
	}

	/// Starts the node again on the same database and port; waits until its RPC answers.
	pub async fn restart(&mut self) {
		self.kill().await;
		self.spawn();
		self.wait_for_rpc().await;
	}

	/// Waits until the node's RPC answers with a header.
	async fn wait_for_rpc(&self) {
		let url = self.url();
		wait_for(
			&format!("RPC of the node at {url}"),
			Duration::from_secs(60),
			Duration::from_millis(300),
			|| {
				let url = url.clone();
				async move { best_number(&url).await }
			},
		)
		.await;
	}

	/// Runs the node binary with `args` against this node's database (the node must be
	/// stopped) and returns its stdout.
	pub async fn offline(&mut self, args: &[&str]) -> Vec<u8> {
		self.kill().await;
		let mut cmd = Command::new(node_binary());
		cmd.args(args)
			.args(["--dev", "--base-path"])
			.arg(&self.base)
			.kill_on_drop(true);
		let out = tokio::time::timeout(stagenet_test_support::LIMIT, cmd.output())
			.await
			.unwrap_or_else(|_| {
				panic!(
					"`stagenet-test-node {}` still ran after {:?}",
					args.join(" "),
					stagenet_test_support::LIMIT
				)
			})
			.unwrap_or_else(|e| panic!("cannot run the test node: {e}"));
		assert!(
			out.status.success(),
			"`stagenet-test-node {}` failed: {}",
			args.join(" "),
			String::from_utf8_lossy(&out.stderr)
		);
		out.stdout
	}
}

async fn best_number(url: &str) -> Result<u64, String> {
	let client = subxt::rpcs::RpcClient::from_insecure_url(url)
		.await
		.map_err(|e| format!("no RPC: {e}"))?;
	let header: serde_json::Value = client
		.request("chain_getHeader", subxt::rpcs::client::rpc_params![])
		.await
		.map_err(|e| format!("chain_getHeader: {e}"))?;
	header
		.get("number")
		.and_then(|n| n.as_str())
		.and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
		.ok_or_else(|| format!("unexpected header {header}"))
}
