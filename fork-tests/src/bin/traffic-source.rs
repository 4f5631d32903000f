//! Writes the snapshot the rehearsal scenarios start from: a dev node of the test chain runs
//! with traffic (two populated subnets, transfers), and its finalized state is snapshotted.
//!
//! ```text
//! traffic-source [--out target/scenarios/traffic.snap]
//! ```

use stagenet_fork_tests::{fixtures::traffic_snapshot, harness::repo_root};
use std::path::PathBuf;

#[tokio::main]
async fn main() {
	let args: Vec<String> = std::env::args().skip(1).collect();
	let out = match args.as_slice() {
		[] => repo_root().join("target/scenarios/traffic.snap"),
		[flag, path] if flag == "--out" => PathBuf::from(path),
		_ => {
			eprintln!("usage: traffic-source [--out <file.snap>]");
			std::process::exit(2);
		}
	};
	let block = traffic_snapshot(&out).await;
	println!(
		"traffic-source: snapshot of block #{block} in {}",
		out.display()
	);
}
