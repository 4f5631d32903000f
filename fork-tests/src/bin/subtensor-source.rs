//! Writes the source of the Subtensor scenarios: the real raonet genesis (`node-subtensor`
//! spec 204, from `../shared/subtensor/`) run by one dev validator of the bundled test node and
//! brought to shape with real Subtensor extrinsics (subnets, neurons, stake, axons, child keys,
//! delegate takes, weights, epochs), snapshotted at its finalized head, and the blocks of
//! traffic after it captured.
//!
//! ```text
//! subtensor-source [--out-dir target/scenarios/subtensor]
//! ```
//! writes `<out-dir>/source.snap` and `<out-dir>/window.capture.db`.

use stagenet_fork_tests::{harness::repo_root, subtensor::subtensor_source};
use std::path::PathBuf;

#[tokio::main]
async fn main() {
	let args: Vec<String> = std::env::args().skip(1).collect();
	let dir = match args.as_slice() {
		[] => repo_root().join("target/scenarios/subtensor"),
		[flag, path] if flag == "--out-dir" => PathBuf::from(path),
		_ => {
			eprintln!("usage: subtensor-source [--out-dir <dir>]");
			std::process::exit(2);
		}
	};
	let started = std::time::Instant::now();
	let s = subtensor_source(&dir).await;
	println!(
		"subtensor-source: snapshot of block #{} in {}; blocks #{}..=#{} ({} signed extrinsics, {} failing on purpose) captured in {}; epochs {:?}; {:.0} s",
		s.from - 1,
		s.snapshot.display(),
		s.from,
		s.to,
		s.signed,
		s.failed,
		s.capture.display(),
		s.epochs,
		started.elapsed().as_secs_f64()
	);
}
