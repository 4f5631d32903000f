//! The anchor of `scripts/bench-snapshot`: downloads one block's state with
//! frame-remote-externalities and writes its snapshot file, configured the way
//! `try-runtime create-snapshot --uri <uri> --at <hash> <file>` configures it (one URI, the whole
//! state, `--runtime existing`, the three keys try-runtime always adds, child tries through the
//! child roots found in the top trie). The try-runtime-cli binary itself cannot be installed from
//! crates.io, so this program stands in for it.
//!
//! ```text
//! snapshot-anchor --uri ws://127.0.0.1:9944 --at 0x… --out state.tr-snap [--child-tree]
//! ```
//!
//! The library's progress goes to stdout and its log to stderr; the last line of stdout gives the
//! elapsed time, the snapshot's size and whether the state root of the downloaded state equals
//! the block header's (exit 1 when it does not).

use frame_remote_externalities::{Builder, Mode, OnlineConfig, SnapshotConfig};
use sp_core::{storage::well_known_keys, H256};
use sp_crypto_hashing::twox_128;
use sp_runtime::{
	generic,
	traits::{BlakeTwo256, Header as _},
	OpaqueExtrinsic,
};
use std::{io::Write, path::PathBuf, process::ExitCode, str::FromStr, time::Instant};

/// A Subtensor-shaped block: `u32` numbers, BLAKE2-256 hashes, opaque extrinsics.
type Block = generic::Block<generic::Header<u32, BlakeTwo256>, OpaqueExtrinsic>;

/// Command-line arguments.
struct Args {
	uri: String,
	at: H256,
	out: PathBuf,
	/// try-runtime's `--child-tree`: also scrape the `:child_storage:` prefix as a pallet.
	child_tree: bool,
}

const USAGE: &str =
	"usage: snapshot-anchor --uri <ws://…> --at <block hash> --out <file> [--child-tree]";

fn parse_args() -> Result<Args, String> {
	let mut args = std::env::args().skip(1);
	let (mut uri, mut at, mut out, mut child_tree) = (None, None, None, false);
	while let Some(arg) = args.next() {
		let mut value = || args.next().ok_or_else(|| format!("`{arg}` needs a value"));
		match arg.as_str() {
			"--uri" => uri = Some(value()?),
			"--at" => {
				let hash = value()?;
				let parsed = H256::from_str(hash.trim_start_matches("0x"))
					.map_err(|e| format!("`--at {hash}`: not a block hash: {e}"))?;
				at = Some(parsed);
			}
			"--out" => out = Some(PathBuf::from(value()?)),
			"--child-tree" => child_tree = true,
			"-h" | "--help" => return Err(USAGE.to_string()),
			other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
		}
	}
	match (uri, at, out) {
		(Some(uri), Some(at), Some(out)) => Ok(Args {
			uri,
			at,
			out,
			child_tree,
		}),
		_ => Err(USAGE.to_string()),
	}
}

/// Prints the library's `info` lines to stderr with the time since start, as try-runtime's
/// default logger would (without colours), so the phases of a run can be told apart.
struct StderrLogger {
	start: Instant,
}

impl log::Log for StderrLogger {
	fn enabled(&self, metadata: &log::Metadata) -> bool {
		metadata.level() <= log::Level::Info
	}

	fn log(&self, record: &log::Record) {
		if self.enabled(record.metadata()) {
			let secs = self.start.elapsed().as_secs_f64();
			let _ = writeln!(
				std::io::stderr().lock(),
				"[{secs:8.2}s {} {}] {}",
				record.level(),
				record.target(),
				record.args()
			);
		}
	}

	fn flush(&self) {}
}

#[tokio::main]
async fn main() -> ExitCode {
	let start = Instant::now();
	let args = match parse_args() {
		Ok(args) => args,
		Err(message) => {
			eprintln!("{message}");
			return ExitCode::from(2);
		}
	};
	let logger = Box::leak(Box::new(StderrLogger { start }));
	if log::set_logger(logger).is_ok() {
		log::set_max_level(log::LevelFilter::Info);
	}

	let config = OnlineConfig {
		at: Some(args.at),
		transport_uris: vec![args.uri.clone()],
		state_snapshot: Some(SnapshotConfig::new(&args.out)),
		pallets: vec![],
		child_trie: args.child_tree,
		hashed_keys: vec![
			well_known_keys::CODE.to_vec(),
			[twox_128(b"System"), twox_128(b"LastRuntimeUpgrade")].concat(),
			[twox_128(b"System"), twox_128(b"Number")].concat(),
		],
		hashed_prefixes: vec![],
	};
	let mut ext = match Builder::<Block>::new()
		.mode(Mode::Online(config))
		.build()
		.await
	{
		Ok(ext) => ext,
		Err(e) => {
			eprintln!("snapshot-anchor: download from `{}` failed: {e}", args.uri);
			return ExitCode::from(3);
		}
	};
	let elapsed = start.elapsed();
	let root = *ext.as_backend().root();
	let header_root = *ext.header.state_root();
	let bytes = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
	let verdict = if root == header_root {
		"equals"
	} else {
		"DIFFERS from"
	};
	println!(
		"anchor: {:.2} s, snapshot {} bytes, state root {root:?} {verdict} the header's {header_root:?}",
		elapsed.as_secs_f64(),
		bytes,
	);
	if root == header_root {
		ExitCode::SUCCESS
	} else {
		ExitCode::from(1)
	}
}
