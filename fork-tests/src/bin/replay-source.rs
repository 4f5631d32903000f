//! Writes the source of the replay tests and benchmark: a dev node of the test chain is set up,
//! snapshotted at block H, then runs mixed traffic (successes and failures) whose blocks
//! H+1… are captured.
//!
//! ```text
//! replay-source [--dir target/scenarios/replay]   # writes source.snap and traffic.capture.db
//! ```

use stagenet_fork_tests::{fixtures::replay_source, harness::repo_root};
use std::path::PathBuf;

#[tokio::main]
async fn main() {
	let args: Vec<String> = std::env::args().skip(1).collect();
	let dir = match args.as_slice() {
		[] => repo_root().join("target/scenarios/replay"),
		[flag, path] if flag == "--dir" => PathBuf::from(path),
		_ => {
			eprintln!("usage: replay-source [--dir <directory>]");
			std::process::exit(2);
		}
	};
	let source = replay_source(&dir).await;
	println!(
		"replay-source: snapshot {} and capture {} of blocks #{}..=#{} ({} signed extrinsics, {} with duplicate dests)",
		source.snapshot.display(),
		source.capture.display(),
		source.from,
		source.to,
		source.replayed_signed,
		source.expected_duplicate_dests
	);
}
