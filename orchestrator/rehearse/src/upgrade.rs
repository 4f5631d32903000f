//! The runtime upgrade action: `set_code` through sudo (unchecked weight) or the
//! authorize-then-apply path, followed to inclusion, and what it did: `CodeUpdated`, the new
//! runtime version, `System::LastRuntimeUpgrade`, the weight of the migrations in the first
//! block of the new runtime as a share of the block limit, and a per-pallet storage diff
//! between the block before and some blocks after (two snapshots of the fork's RPC).

use stagenet_chain::{
	client::{Chain, ChainError},
	hash::blake2_256,
};
use stagenet_config::{
	exit::{Exit, ExitStatus},
	UpgradeVia,
};
use stagenet_snapshot::{chain::BlockRef, diff::diff, download, DownloadOptions, Progress};
use stagenet_store::{PalletDiff, UpgradeRecord};
use std::{
	path::{Path, PathBuf},
	sync::Arc,
	time::Duration,
};
use subxt::{
	dynamic::{At, Value},
	utils::H256,
};

/// How long the first block of the new runtime may take to appear.
const FIRST_BLOCK_TIMEOUT: Duration = Duration::from_secs(60);
/// Items named per pallet in the diff.
const ITEMS_NAMED: usize = 6;

/// What to upgrade to, and how.
#[derive(Debug, Clone)]
pub struct UpgradeOptions {
	/// The wasm file (`.compact.compressed.wasm` or plain).
	pub wasm: PathBuf,
	/// The path as the user wrote it (for the record).
	pub wasm_shown: String,
	/// How `set_code` is submitted.
	pub via: UpgradeVia,
	/// Blocks after the inclusion whose state is compared with the state before it.
	pub diff_after: u64,
	/// Where the two snapshots of the diff are written (removed afterwards).
	pub work_dir: PathBuf,
	/// Order of this upgrade within the run.
	pub seq: u32,
}

/// An upgrade that could not be submitted or did not apply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
	/// The wasm file cannot be read.
	#[error("cannot read the runtime `{path}`: {source} (hint: build it, e.g. `scripts/build-test-chain`)")]
	Read {
		/// The file.
		path: PathBuf,
		/// The cause.
		#[source]
		source: stagenet_config::files::ReadError,
	},
	/// The file is not a wasm runtime.
	#[error("`{path}` is not a wasm runtime (it starts with {start}) (hint: pass the `.compact.compressed.wasm` a runtime build writes)")]
	NotWasm {
		/// The file.
		path: PathBuf,
		/// Its first bytes.
		start: String,
	},
	/// The file is wasm but not a Substrate runtime: its runtime version cannot be read.
	#[error("`{path}` is not a Substrate runtime: {reason} (hint: pass the `.compact.compressed.wasm` a runtime build writes, e.g. `target/release/wbuild/<runtime>/<runtime>.compact.compressed.wasm`)")]
	NotRuntime {
		/// The file.
		path: PathBuf,
		/// Why its version cannot be read.
		reason: &'static str,
	},
	/// The chain refused or failed the upgrade.
	#[error("the upgrade to `{wasm}` via {via} failed: {source}")]
	Chain {
		/// The wasm file.
		wasm: String,
		/// `sudo` or `authorize`.
		via: &'static str,
		/// The cause.
		#[source]
		source: ChainError,
	},
}

/// The input (the wasm file) at fault is bad input (exit 2); the chain refusing or failing the
/// upgrade is infrastructure (exit 3).
impl ExitStatus for UpgradeError {
	fn exit(&self) -> Exit {
		match self {
			UpgradeError::Read { source, .. } => source.exit(),
			UpgradeError::NotWasm { .. } | UpgradeError::NotRuntime { .. } => Exit::BadInput,
			UpgradeError::Chain { .. } => Exit::Infrastructure,
		}
	}
}

impl UpgradeError {
	/// Whether the input (the wasm file) is at fault, rather than the chain.
	pub fn is_bad_input(&self) -> bool {
		self.exit() == Exit::BadInput
	}
}

/// Reads a runtime file and checks that it is one: wasm, or zstd-compressed wasm with
/// Substrate's prefix, whose runtime version can be read (its `runtime_version` custom
/// section). Cheap enough to run before anything starts.
// The error type is the upgrade's (its chain variants are large); this runs once per file.
#[allow(clippy::result_large_err)]
pub fn read_runtime(path: &Path) -> Result<Vec<u8>, UpgradeError> {
	let code = stagenet_config::files::read_bounded(
		path,
		"runtime",
		stagenet_config::files::MAX_WASM_BYTES,
	)
	.map_err(|source| UpgradeError::Read {
		path: path.to_path_buf(),
		source,
	})?;
	// `\0asm`, or the compressed-code prefix of sp-maybe-compressed-blob.
	const WASM: &[u8] = b"\0asm";
	const COMPRESSED: &[u8] = &[82, 188, 83, 118, 70, 219, 142, 5];
	if !(code.starts_with(WASM) || code.starts_with(COMPRESSED)) {
		return Err(UpgradeError::NotWasm {
			path: path.to_path_buf(),
			start: format!("0x{}", hex::encode(&code[..code.len().min(8)])),
		});
	}
	if stagenet_snapshot::spec::runtime_version_of_code(&code).is_none() {
		return Err(UpgradeError::NotRuntime {
			path: path.to_path_buf(),
			reason: if code.starts_with(WASM) {
				"the wasm has no readable `runtime_version` custom section"
			} else {
				"the compressed code does not decompress to wasm with a readable `runtime_version` custom section"
			},
		});
	}
	Ok(code)
}

/// Submits the upgrade, follows it to inclusion and to the first block of the new runtime,
/// and measures what it did. An upgrade that is refused is an error; once applied, parts of
/// the report that cannot be measured are recorded in `error` and the rest is kept.
pub async fn upgrade(
	chain: &Chain,
	url: &str,
	opts: &UpgradeOptions,
) -> Result<UpgradeRecord, UpgradeError> {
	let code = read_runtime(&opts.wasm)?;
	let fail = |source: ChainError| UpgradeError::Chain {
		wasm: opts.wasm_shown.clone(),
		via: opts.via.as_str(),
		source,
	};
	let best = chain.best_hash().await.map_err(fail)?;
	let (old_name, old_version) = chain.runtime_version_at(best).await.map_err(fail)?;
	tracing::info!(target: "stagenet::upgrade", wasm = %opts.wasm_shown, via = opts.via.as_str(), "submitting the runtime upgrade");
	let included = match opts.via {
		UpgradeVia::Sudo => chain.sudo_set_code(&code).await,
		UpgradeVia::Authorize => chain.authorize_and_apply_upgrade(&code).await,
	}
	.map_err(fail)?;
	let mut record = UpgradeRecord {
		seq: opts.seq,
		via: opts.via.as_str().into(),
		wasm: opts.wasm_shown.clone(),
		code_hash: format!("0x{}", hex::encode(blake2_256(&code))),
		old_version: format!("{old_name} {old_version}"),
		new_version: None,
		included_in: included.number,
		code_updated: false,
		last_runtime_upgrade: None,
		first_block: None,
		first_block_mandatory: None,
		baseline_mandatory: None,
		migration_weight: None,
		max_block: None,
		migration_percent: None,
		first_block_events: Vec::new(),
		diff_from: None,
		diff_to: None,
		diff: Vec::new(),
		error: None,
	};
	let mut problems: Vec<String> = Vec::new();
	match chain
		.events_named_at(included.hash, "System", "CodeUpdated")
		.await
	{
		Ok(n) => record.code_updated = n > 0,
		Err(e) => problems.push(format!("events of #{}: {e}", included.number)),
	}
	if let Err(e) = measure_first_block(chain, included.number, included.hash, &mut record).await {
		problems.push(e.to_string());
	}
	match storage_diff(chain, url, included.number, opts).await {
		Ok((from, to, pallets)) => {
			record.diff_from = Some(from);
			record.diff_to = Some(to);
			record.diff = pallets;
		}
		Err(e) => problems.push(format!("storage diff: {e}")),
	}
	if !problems.is_empty() {
		record.error = Some(problems.join("; "));
	}
	Ok(record)
}

async fn measure_first_block(
	chain: &Chain,
	included: u64,
	included_hash: H256,
	record: &mut UpgradeRecord,
) -> Result<(), ChainError> {
	let first = included + 1;
	let hash = chain.wait_block_hash(first, FIRST_BLOCK_TIMEOUT).await?;
	record.first_block = Some(first);
	let (name, version) = chain.runtime_version_at(hash).await?;
	record.new_version = Some(format!("{name} {version}"));
	if let Some(v) = chain
		.storage_value_at::<Value>(hash, "System", "LastRuntimeUpgrade", vec![])
		.await?
	{
		let spec_version = v.at("spec_version").and_then(first_integer);
		let spec_name = v.at("spec_name").and_then(first_text);
		record.last_runtime_upgrade = Some(match (spec_name, spec_version) {
			(Some(n), Some(s)) => format!("{n} {s}"),
			_ => v.to_string(),
		});
	}
	let [_, _, mandatory] = chain.block_weight_at(hash).await?;
	let [_, _, baseline] = chain.block_weight_at(included_hash).await?;
	let max = chain.max_block_ref_time_at(hash).await?;
	let to_u64 = |x: u128| u64::try_from(x).unwrap_or(u64::MAX);
	let migration = mandatory.saturating_sub(baseline);
	record.first_block_mandatory = Some(to_u64(mandatory));
	record.baseline_mandatory = Some(to_u64(baseline));
	record.migration_weight = Some(to_u64(migration));
	record.max_block = Some(to_u64(max));
	if max > 0 {
		record.migration_percent = Some(migration as f64 * 100.0 / max as f64);
	}
	record.first_block_events = chain.event_names_at(hash).await?;
	Ok(())
}

/// Snapshots the state before the inclusion block and `diff_after` blocks after it, and
/// compares them. When the chain stops before that, the last block it reached is used.
async fn storage_diff(
	chain: &Chain,
	url: &str,
	included: u64,
	opts: &UpgradeOptions,
) -> Result<(u64, u64, Vec<PalletDiff>), String> {
	let from = included.saturating_sub(1);
	let wanted = included + opts.diff_after;
	let to = match chain
		.wait_block_hash(wanted, Duration::from_secs(20 + 10 * opts.diff_after))
		.await
	{
		Ok(_) => wanted,
		Err(_) => chain.best_number().await.map_err(|e| e.to_string())?,
	};
	std::fs::create_dir_all(&opts.work_dir)
		.map_err(|e| format!("create `{}`: {e}", opts.work_dir.display()))?;
	let before = opts
		.work_dir
		.join(format!("upgrade-{}-before.snap", opts.seq));
	let after = opts
		.work_dir
		.join(format!("upgrade-{}-after.snap", opts.seq));
	let quiet: Arc<dyn Fn(&Progress) + Send + Sync> = Arc::new(|_: &Progress| {});
	for (block, out) in [(from, &before), (to, &after)] {
		download(
			&DownloadOptions {
				at: Some(BlockRef::Number(block)),
				force: true,
				retry_for: Duration::from_secs(10),
				..DownloadOptions::new(url, out)
			},
			quiet.clone(),
		)
		.await
		.map_err(|e| format!("snapshot of #{block}: {e}"))?;
	}
	let pallets = diff(&before, &after).map_err(|e| e.to_string())?;
	for f in [&before, &after] {
		let _ = std::fs::remove_file(f);
	}
	let diff = pallets
		.into_iter()
		.map(|p| {
			let mut items: Vec<(String, u64)> = p
				.items
				.iter()
				.map(|(name, c)| {
					(
						describe(name, c),
						c.added_keys + c.changed_keys + c.removed_keys,
					)
				})
				.collect();
			items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
			PalletDiff {
				pallet: p.pallet,
				added_keys: p.total.added_keys,
				added_bytes: p.total.added_bytes,
				changed_keys: p.total.changed_keys,
				changed_bytes: p.total.changed_bytes,
				removed_keys: p.total.removed_keys,
				removed_bytes: p.total.removed_bytes,
				items: items
					.into_iter()
					.take(ITEMS_NAMED)
					.map(|(d, _)| d)
					.collect(),
			}
		})
		.collect();
	Ok((from, to, diff))
}

/// `Weights: 32 changed, 1 added`.
fn describe(name: &str, c: &stagenet_snapshot::diff::Change) -> String {
	let mut parts = Vec::new();
	if c.added_keys > 0 {
		parts.push(format!("{} added", c.added_keys));
	}
	if c.changed_keys > 0 {
		parts.push(format!("{} changed", c.changed_keys));
	}
	if c.removed_keys > 0 {
		parts.push(format!("{} removed", c.removed_keys));
	}
	format!("{name}: {}", parts.join(", "))
}

/// The first integer in a value (compact numbers and newtypes are wrapped in composites).
fn first_integer(v: &Value) -> Option<u128> {
	v.as_u128().or_else(|| match &v.value {
		subxt::ext::scale_value::ValueDef::Composite(c) => c.values().find_map(first_integer),
		_ => None,
	})
}

/// The first text in a value (a `Cow<str>` newtype is a composite around a string).
fn first_text(v: &Value) -> Option<String> {
	v.as_str().map(str::to_string).or_else(|| match &v.value {
		subxt::ext::scale_value::ValueDef::Composite(c) => c.values().find_map(first_text),
		_ => None,
	})
}
