//! Replay (`stagenet replay`): the signed extrinsics of a capture dispatched again on a network
//! fork, each with its original signer as origin, and every outcome compared with the captured
//! one.
//!
//! On a network fork (new genesis) the captured signatures do not verify, so each captured
//! signed call is wrapped in `Sudo::sudo_as { who: Id(signer), call }` and signed by the fork's
//! sudo key, with nonces managed here (read once, then incremented). The calls of one captured
//! block are submitted together, in captured order, and followed until each is in a best block
//! of the fork; the next block's group goes once they are all in (`max`), and not before the
//! captured time between the two blocks has passed (`as-captured`; `<x>x` divides it).
//! Inherents and unsigned extrinsics are skipped and counted.
//!
//! Each call is decoded with the metadata of the runtime that executed its captured block (the
//! capture keeps it) and encoded again by pallet and call name with the fork's metadata, so a
//! release that moved a call index or reshaped an argument is followed. A call the fork's
//! metadata lacks is a `missing-call` divergence, arguments that no longer encode (or a
//! captured extrinsic that never decoded) a `decode-failure`: never dropped silently.
//!
//! The fork's outcome is read from the events of the wrapper: `System::ExtrinsicFailed` (the
//! wrapper itself failed: `other`), or `Sudo::SudoAsDone { sudo_result }`: `success`, or the
//! dispatch error named through the fork's metadata (`Subnets::DuplicateUids`). Equal to the
//! captured outcome: matched. Otherwise `rate-limit` when either side is a rate-limit error,
//! else `logic-change`. Every divergence carries a one-line command that replays just it.

use crate::monitor::now_ms;
use stagenet_chain::client::{BlockContents, Chain, ChainError, EncodedCall};
use stagenet_config::{
	exit::{Exit, ExitStatus},
	ReplayRate,
};
use stagenet_capture::{
	read_capture, read_runtimes, Capture, CaptureError, StoredBlock, StoredExtrinsic, StoredRuntime,
};
use stagenet_store::{CallTally, Divergence, DivergenceKind, ReplayRecord};
use std::{
	collections::{BTreeMap, BTreeSet, HashMap},
	path::{Path, PathBuf},
	str::FromStr,
	time::{Duration, Instant},
};
use subxt::{
	dynamic::{At, Value},
	ext::{
		frame_decode::extrinsics::{decode_extrinsic, encode_call_data},
		scale_type_resolver::{visitor, TypeResolver},
		scale_value::{scale::decode_as_type, Composite, Primitive, ValueDef},
	},
	utils::{AccountId32, H256},
	Metadata,
};
use subxt_signer::{sr25519::Keypair, SecretUri};

/// The runs directory `stagenet` uses unless told otherwise: reproduce lines omit
/// `--runs-dir` for it.
pub const DEFAULT_RUNS_DIR: &str = ".stagenet/runs";

/// Blocks of the fork produced without any pending replayed extrinsic of the group in them,
/// after which those still pending are reported as not included.
const STALE_BLOCKS: u64 = 12;

/// How often the fork's best block is polled while a group is awaited.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// What to replay, onto which run.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
	/// The capture database (`stagenet capture --out`).
	pub capture: PathBuf,
	/// The capture's path as the user wrote it (for the record and the reproduce lines).
	pub capture_shown: String,
	/// How fast.
	pub rate: ReplayRate,
	/// First captured block (default: the capture's first).
	pub from: Option<u64>,
	/// Last captured block (default: the capture's last).
	pub to: Option<u64>,
	/// Only these extrinsics, as `(captured block, index)`; empty: every one of the range.
	pub only: Vec<(u64, u32)>,
	/// Order of this replay within the run.
	pub seq: u32,
	/// The run replayed onto (for the reproduce lines).
	pub run_id: String,
	/// The runs directory as the user wrote it; empty (or [`DEFAULT_RUNS_DIR`]) when it is the
	/// default, which reproduce lines then omit.
	pub runs_dir_shown: String,
	/// Secret URI of the fork's sudo key (`//Alice`).
	pub sudo_uri: String,
	/// How long the fork may go without a new block (or an answer) while replayed extrinsics
	/// are awaited.
	pub block_timeout: Duration,
}

/// A replay that could not start. Failures once it runs end it early with
/// [`ReplayRecord::error`] set instead, so that what was replayed is kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
	/// The file is not a usable capture (missing, not a capture, no blocks).
	#[error("capture `{path}` cannot be replayed: {reason} (hint: {hint})")]
	BadCapture {
		/// The capture as given.
		path: PathBuf,
		/// What is wrong with it.
		reason: String,
		/// What to do.
		hint: String,
	},
	/// Reading the capture failed.
	#[error("capture `{path}`: {source}")]
	CaptureRead {
		/// The capture as given.
		path: PathBuf,
		/// The cause.
		#[source]
		source: Box<CaptureError>,
	},
	/// Options that do not fit the capture or the fork (a range outside the capture, a sudo
	/// key that is not the fork's, …).
	#[error("{problem} (hint: {hint})")]
	BadInput {
		/// What is wrong.
		problem: String,
		/// What to do.
		hint: String,
	},
	/// The fork did not answer what the replay needs before it starts.
	#[error("cannot {what} of the fork at `{url}`: {source} (hint: is the run up? `stagenet status` shows it)")]
	Fork {
		/// What was asked.
		what: String,
		/// The fork's RPC endpoint.
		url: String,
		/// The cause.
		#[source]
		source: Box<ChainError>,
	},
}

/// The input (capture, range, options) at fault is bad input (exit 2); reading the capture or
/// asking the fork failing is infrastructure (exit 3).
impl ExitStatus for ReplayError {
	fn exit(&self) -> Exit {
		match self {
			ReplayError::BadCapture { .. } | ReplayError::BadInput { .. } => Exit::BadInput,
			// A capture that is not one is `BadCapture`; what is left failed while reading.
			ReplayError::CaptureRead { .. } | ReplayError::Fork { .. } => Exit::Infrastructure,
		}
	}
}

impl ReplayError {
	/// Whether the input (capture, range, options) is at fault rather than the fork.
	pub fn is_bad_input(&self) -> bool {
		self.exit() == Exit::BadInput
	}
}

/// How replay semantics differ from the captured chain's: read divergences by them.
pub fn semantics() -> Vec<String> {
	[
		"no fee is paid and no tip: each call runs inside `Sudo::sudo_as`, whose extrinsic the sudo key signs (`Pays::No`)",
		"no nonce check and no increment of the signer's nonce: the sudo key's nonce is used",
		"no transaction extension checks of the captured extrinsic (mortality, genesis, spec and transaction version, metadata hash, chain-specific extensions such as Subtensor's rate-limit extension): rate limits enforced in extensions are not enforced, only those in the call itself",
		"the origin is `Signed(signer)` through `sudo_as`: calls that check for Root or for other origin wrappers see the signer's signed origin",
		"the fork's block numbers and timestamps differ from the captured ones (rebased): time-dependent outcomes may differ",
		"the weight and length are charged to the sudo key's extrinsic; blocks are grouped as far as the fork's limits allow",
	]
	.into_iter()
	.map(String::from)
	.collect()
}

/// Whether a dispatch error names a rate limit (`RateLimit`, `TooFast`, `TooMany`,
/// `TxRateLimit`, in any case).
pub fn is_rate_limit(outcome: &str) -> bool {
	let lower = outcome.to_ascii_lowercase();
	["ratelimit", "toofast", "toomany", "txratelimit"]
		.iter()
		.any(|needle| lower.contains(needle))
}

/// The class of a difference between a captured outcome and the fork's (`success` or a
/// dispatch error on each side); `None` when they are equal.
pub fn classify(captured: &str, fork: &str) -> Option<DivergenceKind> {
	if captured == fork {
		None
	} else if is_rate_limit(captured) || is_rate_limit(fork) {
		Some(DivergenceKind::RateLimit)
	} else {
		Some(DivergenceKind::LogicChange)
	}
}

/// The one-line command that replays captured extrinsic `index` of `block` alone.
pub fn reproduce_line(
	run_id: &str,
	capture_shown: &str,
	runs_dir_shown: &str,
	block: u64,
	index: u32,
) -> String {
	let mut line = format!(
		"stagenet replay {} --capture {} --from {block} --to {block} --only {block}:{index}",
		shell_word(run_id),
		shell_word(capture_shown)
	);
	if !runs_dir_shown.is_empty() && runs_dir_shown != DEFAULT_RUNS_DIR {
		line.push_str(" --runs-dir ");
		line.push_str(&shell_word(runs_dir_shown));
	}
	line
}

/// `word` as one shell word: as is when it is made of safe characters, else single-quoted.
fn shell_word(word: &str) -> String {
	let safe = !word.is_empty()
		&& word
			.chars()
			.all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
	if safe {
		word.to_string()
	} else {
		format!("'{}'", word.replace('\'', r"'\''"))
	}
}

/// Parses an `--only` value: `<captured block>:<extrinsic index>`.
pub fn parse_only(text: &str) -> Result<(u64, u32), String> {
	let (block, index) = text
		.trim()
		.split_once(':')
		.ok_or_else(|| format!("expected `<block>:<index>` (e.g. `105:2`), saw `{text}`"))?;
	let block = block
		.trim()
		.trim_start_matches('#')
		.parse::<u64>()
		.map_err(|_| format!("`{block}` in `{text}` is not a block number"))?;
	let index = index
		.trim()
		.parse::<u32>()
		.map_err(|_| format!("`{index}` in `{text}` is not an extrinsic index"))?;
	Ok((block, index))
}

/// `Timestamp::set`'s `now` (milliseconds) of a captured block, if it has one.
pub fn captured_timestamp(block: &StoredBlock) -> Option<u64> {
	block
		.extrinsics
		.iter()
		.filter(|x| x.pallet.as_deref() == Some("Timestamp") && x.call.as_deref() == Some("set"))
		.find_map(|x| {
			let args: serde_json::Value = serde_json::from_str(x.args.as_deref()?).ok()?;
			let now = args.get("now")?;
			now.as_u64()
				.or_else(|| now.as_str().and_then(|s| s.parse().ok()))
		})
}

/// The captured time before each block, from the blocks' timestamps: zero for the first, the
/// difference of two timestamps when both are known and increase, else `fallback` (the fork's
/// slot duration).
pub fn intervals(timestamps: &[Option<u64>], fallback: Duration) -> Vec<Duration> {
	let mut out = Vec::with_capacity(timestamps.len());
	for (i, now) in timestamps.iter().enumerate() {
		if i == 0 {
			out.push(Duration::ZERO);
			continue;
		}
		let interval = match (timestamps[i - 1], now) {
			(Some(before), Some(now)) if *now >= before => Duration::from_millis(now - before),
			_ => fallback,
		};
		out.push(interval);
	}
	out
}

/// How long to wait for `interval` of captured time at `rate`; `None` for `max` (no wait
/// besides the previous group's inclusion).
pub fn paced(interval: Duration, rate: ReplayRate) -> Option<Duration> {
	match rate {
		ReplayRate::Max => None,
		ReplayRate::AsCaptured => Some(interval),
		ReplayRate::Factor(f) if f.is_finite() && f > 0.0 => Some(interval.div_f64(f)),
		ReplayRate::Factor(_) => Some(interval),
	}
}

/// The captured outcome of an extrinsic: `success`, its dispatch error, or why it has none.
fn captured_outcome(x: &StoredExtrinsic) -> String {
	match x.success {
		Some(true) => "success".into(),
		Some(false) => x
			.error
			.clone()
			.unwrap_or_else(|| "failed (no error recorded)".into()),
		None => "unknown (no outcome event in the capture)".into(),
	}
}

/// `Pallet.call` of a captured extrinsic, `?` parts when not decoded.
fn call_name(x: &StoredExtrinsic) -> String {
	format!(
		"{}.{}",
		x.pallet.as_deref().unwrap_or("?"),
		x.call.as_deref().unwrap_or("?")
	)
}

/// What a captured extrinsic is to the replay.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
	/// A bare extrinsic of the mandatory class (`Timestamp::set`, …): skipped.
	Inherent,
	/// Another bare (or unsigned general) extrinsic: skipped.
	Unsigned,
	/// Signed by this SS58 account: replayed.
	Signed(String),
	/// It did not decode when captured.
	Undecoded(String),
}

fn entry(x: &StoredExtrinsic) -> Entry {
	if let Some(e) = &x.decode_error {
		return Entry::Undecoded(format!("it did not decode when captured: {e}"));
	}
	match (x.kind.as_deref(), &x.signer) {
		(Some("bare"), _) if x.class.as_deref() == Some("mandatory") => Entry::Inherent,
		(Some("bare"), _) | (Some("general"), None) => Entry::Unsigned,
		(Some("signed" | "general"), Some(signer)) => Entry::Signed(signer.clone()),
		(Some("signed"), None) => {
			Entry::Undecoded("signed, but its signer was not captured".into())
		}
		(kind, _) => Entry::Undecoded(format!("unknown extrinsic kind `{}`", kind.unwrap_or("?"))),
	}
}

/// A captured call decoded with the metadata that executed it.
struct DecodedCall {
	pallet: String,
	call: String,
	args: Composite<()>,
}

/// Decodes the call of a captured extrinsic (`raw`, with its length prefix) with `metadata`.
fn decode_call(raw: &[u8], metadata: &Metadata) -> Result<DecodedCall, String> {
	let types = metadata.types();
	let mut cursor = raw;
	let ext = decode_extrinsic(&mut cursor, metadata, types).map_err(|e| e.to_string())?;
	let mut named = Vec::new();
	let mut unnamed = Vec::new();
	for arg in ext.call_data() {
		let value = decode_as_type(&mut &raw[arg.range()], *arg.ty(), types)
			.map_err(|e| format!("argument `{}`: {e}", arg.name()))?
			.remove_context();
		if arg.name().is_empty() {
			unnamed.push(value);
		} else {
			named.push((arg.name().to_string(), value));
		}
	}
	let args = if unnamed.is_empty() {
		Composite::Named(named)
	} else {
		Composite::Unnamed(unnamed)
	};
	Ok(DecodedCall {
		pallet: ext.pallet_name().to_string(),
		call: ext.call_name().to_string(),
		args,
	})
}

/// Why a captured call cannot be dispatched on the fork.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NotEncodable {
	kind: DivergenceKind,
	detail: String,
}

/// Encodes `call` by name with the fork's `metadata`.
fn encode_for_fork(call: &DecodedCall, metadata: &Metadata) -> Result<Vec<u8>, NotEncodable> {
	let Some(pallet) = metadata.pallet_by_name(&call.pallet) else {
		return Err(NotEncodable {
			kind: DivergenceKind::MissingCall,
			detail: format!("the fork's runtime has no pallet `{}`", call.pallet),
		});
	};
	if pallet.call_variant_by_name(&call.call).is_none() {
		return Err(NotEncodable {
			kind: DivergenceKind::MissingCall,
			detail: format!(
				"the fork's runtime has no call `{}.{}`",
				call.pallet, call.call
			),
		});
	}
	encode_call_data(
		&call.pallet,
		&call.call,
		&call.args,
		metadata,
		metadata.types(),
	)
	.map_err(|e| NotEncodable {
		kind: DivergenceKind::DecodeFailure,
		detail: format!(
			"its arguments no longer fit the fork's `{}.{}`: {e}",
			call.pallet, call.call
		),
	})
}

/// Whether `Sudo::sudo_as`'s `who` is a `MultiAddress` (has an `Id` variant) in `metadata`;
/// otherwise it is the account itself.
fn who_is_multiaddress(metadata: &Metadata) -> bool {
	let Some(ty) = metadata
		.pallet_by_name("Sudo")
		.and_then(|p| p.call_variant_by_name("sudo_as"))
		.and_then(|v| v.fields.first())
		.map(|f| f.ty.id)
	else {
		return true;
	};
	let v = visitor::new((), |_, _| false).visit_variant(|_, _, variants| {
		for variant in variants {
			if variant.name == "Id" {
				return true;
			}
		}
		false
	});
	metadata.types().resolve_type(ty, v).unwrap_or(true)
}

/// What became of one replayed extrinsic on the fork.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ForkOutcome {
	/// Dispatched through `sudo_as` in fork block `block`: `success` or the dispatch error.
	Dispatched { block: u64, outcome: String },
	/// The call was not dispatched: the wrapper was refused, failed, or was not included.
	NotDispatched { block: Option<u64>, why: String },
}

/// The outcome of the wrapper at `index` of `block`, from its events.
fn wrapper_outcome(block: &BlockContents, index: u32) -> ForkOutcome {
	let mut done = None;
	for event in block.events.iter().filter(|e| e.extrinsic == Some(index)) {
		match (event.pallet.as_str(), event.variant.as_str()) {
			("System", "ExtrinsicFailed") => {
				let error = event
					.fields
					.at("dispatch_error")
					.map(|e| block.dispatch_error_name(e))
					.unwrap_or_else(|| event.fields.to_string());
				return ForkOutcome::NotDispatched {
					block: Some(block.number),
					why: format!("the `Sudo.sudo_as` wrapper failed with `{error}`"),
				};
			}
			// A nested `sudo_as` emits its own first: the wrapper's is the last one.
			("Sudo", "SudoAsDone") => done = Some(&event.fields),
			_ => {}
		}
	}
	let Some(fields) = done else {
		return ForkOutcome::NotDispatched {
			block: Some(block.number),
			why: "no `Sudo.SudoAsDone` event for the wrapper".into(),
		};
	};
	let result = fields.at("sudo_result").or_else(|| fields.at(0));
	match result.map(|r| &r.value) {
		Some(ValueDef::Variant(v)) if v.name == "Ok" => ForkOutcome::Dispatched {
			block: block.number,
			outcome: "success".into(),
		},
		Some(ValueDef::Variant(v)) if v.name == "Err" => ForkOutcome::Dispatched {
			block: block.number,
			outcome: v
				.values
				.values()
				.next()
				.map(|e| block.dispatch_error_name(e))
				.unwrap_or_else(|| "error".into()),
		},
		_ => ForkOutcome::NotDispatched {
			block: Some(block.number),
			why: format!("`Sudo.SudoAsDone` with an unexpected result: {fields}"),
		},
	}
}

/// The divergence (kind, fork side, detail) of a replayed extrinsic; `None` when it matched.
fn judge(
	x: &StoredExtrinsic,
	captured: &str,
	fork: &ForkOutcome,
) -> Option<(DivergenceKind, String, String)> {
	match fork {
		ForkOutcome::NotDispatched { why, .. } => {
			Some((DivergenceKind::Other, "not dispatched".into(), why.clone()))
		}
		ForkOutcome::Dispatched { outcome, .. } => {
			if x.success.is_none() {
				return Some((
					DivergenceKind::Other,
					outcome.clone(),
					format!("the capture has no outcome for it; the fork: `{outcome}`"),
				));
			}
			let kind = classify(captured, outcome)?;
			let detail = match kind {
				DivergenceKind::RateLimit => format!(
					"captured `{captured}`, the fork `{outcome}`: a rate limit (block timing differs on a fork)"
				),
				_ => format!("captured `{captured}`, the fork `{outcome}`"),
			};
			Some((kind, outcome.clone(), detail))
		}
	}
}

/// A replayed extrinsic awaited in the fork's blocks.
struct InFlight {
	/// Its place in the group.
	item: usize,
	/// The submitted wrapper.
	encoded: Vec<u8>,
}

/// A signed extrinsic of a captured block, ready to be wrapped.
struct Prepared<'a> {
	x: &'a StoredExtrinsic,
	signer: String,
	who: [u8; 32],
	call: Vec<u8>,
}

/// The state of a replay, turned into the record at the end.
struct Tally {
	record: ReplayRecord,
	calls: BTreeMap<String, CallTally>,
}

impl Tally {
	fn call(&mut self, name: &str) -> &mut CallTally {
		self.calls
			.entry(name.to_string())
			.or_insert_with(|| CallTally {
				call: name.to_string(),
				replayed: 0,
				matched: 0,
				diverged: 0,
			})
	}

	fn fork_block(&mut self, block: Option<u64>) {
		if let Some(b) = block {
			self.record.fork_from = Some(self.record.fork_from.map_or(b, |f| f.min(b)));
			self.record.fork_to = Some(self.record.fork_to.map_or(b, |t| t.max(b)));
		}
	}
}

/// A capture checked against the replay's options, before anything is asked of the fork:
/// the capture read, its range and `--only` checked, its metadata decoded, the sudo key
/// parsed. [`ReplayPlan::open`] is where bad input shows (exit 2) without a network.
pub struct ReplayPlan {
	capture: Capture,
	metadata: HashMap<u32, Result<Metadata, String>>,
	from: u64,
	to: u64,
	only: BTreeSet<(u64, u32)>,
	signer: Keypair,
	sudo_account: String,
}

impl std::fmt::Debug for ReplayPlan {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("ReplayPlan")
			.field("chain", &self.capture.meta.chain)
			.field("from", &self.from)
			.field("to", &self.to)
			.field("only", &self.only)
			.field("sudo_account", &self.sudo_account)
			.finish_non_exhaustive()
	}
}

impl ReplayPlan {
	/// Reads the capture `opts.capture` and checks the options against it: a missing file,
	/// a file that is not a capture, a capture without blocks, a range outside it, an
	/// `--only` naming no signed extrinsic of the range and an unusable sudo URI are bad input.
	pub async fn open(opts: &ReplayOptions) -> Result<ReplayPlan, ReplayError> {
		let path = &opts.capture;
		let capture = read_capture(path)
			.await
			.map_err(|e| capture_error(path, e))?;
		let runtimes = read_runtimes(path)
			.await
			.map_err(|e| capture_error(path, e))?;
		let (Some(first), Some(last)) = (capture.blocks.first(), capture.blocks.last()) else {
			return Err(ReplayError::BadCapture {
				path: path.clone(),
				reason: "it holds no complete block".into(),
				hint: "run `stagenet capture` (with `--resume` if it was interrupted)".into(),
			});
		};
		let (first, last) = (first.number, last.number);
		let from = opts.from.unwrap_or(first);
		let to = opts.to.unwrap_or(last);
		let held = format!(
			"capture `{}` holds blocks #{first}..=#{last}",
			opts.capture_shown
		);
		if from > to {
			return Err(ReplayError::BadInput {
				problem: format!("`--from {from}` is after `--to {to}`"),
				hint: held,
			});
		}
		if from < first || to > last {
			return Err(ReplayError::BadInput {
				problem: format!(
					"blocks #{from}..=#{to} are not all in capture `{}`",
					opts.capture_shown
				),
				hint: format!("{held}; pass `--from`/`--to` within it"),
			});
		}
		let only: BTreeSet<(u64, u32)> = opts.only.iter().copied().collect();
		for (b, i) in &only {
			let x = capture
				.blocks
				.iter()
				.filter(|block| (from..=to).contains(&block.number))
				.find(|block| block.number == *b)
				.and_then(|block| block.extrinsics.iter().find(|x| x.index == *i));
			let problem = match x.map(entry) {
				None => format!("`--only {b}:{i}` names no extrinsic of blocks #{from}..=#{to}"),
				Some(Entry::Inherent | Entry::Unsigned) => format!(
					"`--only {b}:{i}` names an inherent or unsigned extrinsic ({}), which replay skips",
					x.map(call_name).unwrap_or_default()
				),
				Some(_) => continue,
			};
			return Err(ReplayError::BadInput {
				problem,
				hint: format!(
					"{held}; name a signed extrinsic of the range (the reproduce lines of a replay do)"
				),
			});
		}
		let signer = sudo_keypair(&opts.sudo_uri)?;
		let sudo_account = AccountId32::from(signer.public_key().0).to_string();
		Ok(ReplayPlan {
			metadata: decode_runtimes(&runtimes),
			capture,
			from,
			to,
			only,
			signer,
			sudo_account,
		})
	}

	/// Chain name of the capture.
	pub fn capture_chain(&self) -> &str {
		&self.capture.meta.chain
	}

	/// The captured blocks replayed: first and last.
	pub fn range(&self) -> (u64, u64) {
		(self.from, self.to)
	}
}

/// Replays the capture onto the fork `chain` is connected to, calling `progress` with one
/// line per captured block: [`ReplayPlan::open`], then [`replay_plan`]. See the module
/// documentation.
pub async fn replay(
	chain: &Chain,
	opts: &ReplayOptions,
	progress: impl FnMut(&str),
) -> Result<ReplayRecord, ReplayError> {
	let plan = ReplayPlan::open(opts).await?;
	replay_plan(chain, &plan, opts, progress).await
}

/// Replays an opened capture onto the fork `chain` is connected to (see [`replay`]).
/// Failures once the replay runs (the fork stops answering or producing blocks) end it early
/// with [`ReplayRecord::error`] set; errors are returned only before it starts.
pub async fn replay_plan(
	chain: &Chain,
	plan: &ReplayPlan,
	opts: &ReplayOptions,
	mut progress: impl FnMut(&str),
) -> Result<ReplayRecord, ReplayError> {
	let started_at = now_ms();
	let (from, to) = (plan.from, plan.to);
	let capture = &plan.capture;
	let only = &plan.only;
	let signer = &plan.signer;
	let sudo_account = plan.sudo_account.clone();
	let fork = |what: &str| {
		let what = what.to_string();
		let url = chain.url().to_string();
		move |source: ChainError| ReplayError::Fork {
			what,
			url,
			source: Box::new(source),
		}
	};
	let limit = opts.block_timeout;
	let best = answer(limit, chain.best_hash())
		.await
		.map_err(fork("read the best block"))?;
	let (spec_name, spec_version) = answer(limit, chain.runtime_version_at(best))
		.await
		.map_err(fork("read the runtime version"))?;
	check_sudo_key(chain, best, &sudo_account, opts).await?;
	let mut nonce = answer(limit, chain.account_next_index(&sudo_account))
		.await
		.map_err(fork("read the sudo key's nonce"))?;
	let fallback = match opts.rate {
		ReplayRate::Max => Duration::ZERO,
		_ => answer(limit, chain.slot_duration())
			.await
			.map_err(fork("read the slot duration"))?,
	};
	let capture_metadata = &plan.metadata;

	let mut tally = Tally {
		record: ReplayRecord {
			seq: opts.seq,
			capture: opts.capture_shown.clone(),
			capture_chain: capture.meta.chain.clone(),
			from_block: from,
			to_block: to,
			rate: opts.rate.label(),
			started_at,
			finished_at: started_at,
			fork_runtime: format!("{spec_name} {spec_version}"),
			blocks: 0,
			fork_from: None,
			fork_to: None,
			replayed: 0,
			matched: 0,
			skipped_unsigned: 0,
			skipped_inherents: 0,
			undecodable: 0,
			divergences: Vec::new(),
			calls: Vec::new(),
			semantics: semantics(),
			error: None,
		},
		calls: BTreeMap::new(),
	};
	let selected = |b: u64, i: u32| only.is_empty() || only.contains(&(b, i));
	let blocks: Vec<&StoredBlock> = capture
		.blocks
		.iter()
		.filter(|b| (from..=to).contains(&b.number))
		.filter(|b| b.extrinsics.iter().any(|x| selected(b.number, x.index)))
		.collect();
	let signed_total = blocks
		.iter()
		.flat_map(|b| b.extrinsics.iter().map(move |x| (b.number, x)))
		.filter(|(n, x)| selected(*n, x.index) && matches!(entry(x), Entry::Signed(_)))
		.count();
	progress(&format!(
		"replay: capture `{}` of `{}`, blocks #{from}..=#{to}: {} block(s), {signed_total} signed extrinsic(s) to replay at rate {} onto `{spec_name} {spec_version}` (sudo `{sudo_account}`, nonce {nonce})",
		opts.capture_shown,
		capture.meta.chain,
		blocks.len(),
		opts.rate.label()
	));
	let timestamps: Vec<Option<u64>> = blocks.iter().map(|b| captured_timestamp(b)).collect();
	let intervals = intervals(&timestamps, fallback);
	let clock = Instant::now();
	let mut due = Duration::ZERO;
	for (k, block) in blocks.iter().enumerate() {
		if let Some(wait) = paced(intervals[k], opts.rate) {
			due += wait;
			let now = clock.elapsed();
			if due > now {
				tokio::time::sleep(due - now).await;
			}
		}
		match replay_block(
			chain,
			opts,
			block,
			&selected,
			capture_metadata,
			signer,
			&mut nonce,
			&sudo_account,
			&mut tally,
		)
		.await
		{
			Ok(line) => {
				tally.record.blocks += 1;
				progress(&line);
			}
			Err(e) => {
				let r = &tally.record;
				let error = format!(
					"{e}; state when it stopped: captured #{} of #{from}..=#{to}, {} of {signed_total} signed extrinsic(s) replayed ({} matched, {} diverged), last fork block {}",
					block.number,
					r.replayed,
					r.matched,
					r.divergences.len(),
					r.fork_to
						.map(|b| format!("#{b}"))
						.unwrap_or_else(|| "none".into())
				) + &format!(
					" (hint: is run `{0}` up and producing blocks? `stagenet status {0}` shows it)",
					opts.run_id
				);
				progress(&format!("replay: stopped: {error}"));
				tally.record.error = Some(error);
				break;
			}
		}
	}
	let mut record = tally.record;
	record.calls = tally.calls.into_values().collect();
	record
		.divergences
		.sort_by_key(|d| (d.captured_block, d.captured_index));
	record.finished_at = now_ms();
	Ok(record)
}

/// Replays one captured block: its inherents and unsigned extrinsics counted, its signed
/// ones wrapped, submitted together and followed into the fork's blocks. The progress line,
/// or why the replay cannot go on (the fork stopped answering or producing blocks).
#[allow(clippy::too_many_arguments)]
async fn replay_block(
	chain: &Chain,
	opts: &ReplayOptions,
	block: &StoredBlock,
	selected: &dyn Fn(u64, u32) -> bool,
	capture_metadata: &HashMap<u32, Result<Metadata, String>>,
	signer: &Keypair,
	nonce: &mut u64,
	sudo_account: &str,
	tally: &mut Tally,
) -> Result<String, String> {
	let state = |what: &str, e: ChainError| {
		format!(
			"cannot {what} of the fork at `{}` while replaying captured #{}: {e}",
			chain.url(),
			block.number
		)
	};
	let limit = opts.block_timeout;
	let at = answer(limit, chain.best_hash())
		.await
		.map_err(|e| state("read the best block", e))?;
	let fork_metadata = answer(limit, chain.metadata_at(at))
		.await
		.map_err(|e| state("read the metadata", e))?;
	let multiaddress = who_is_multiaddress(&fork_metadata);
	let mut group: Vec<Prepared> = Vec::new();
	let mut considered = 0usize;
	for x in &block.extrinsics {
		if !selected(block.number, x.index) {
			continue;
		}
		considered += 1;
		let undecodable = |tally: &mut Tally, kind: DivergenceKind, detail: String| {
			tally.record.undecodable += 1;
			tally.record.divergences.push(Divergence {
				kind,
				call: call_name(x),
				signer: x.signer.clone(),
				captured_block: block.number,
				captured_index: x.index,
				captured: captured_outcome(x),
				fork: "not dispatched".into(),
				fork_block: None,
				detail,
				reproduce: reproduce_line(
					&opts.run_id,
					&opts.capture_shown,
					&opts.runs_dir_shown,
					block.number,
					x.index,
				),
			});
		};
		let signer_ss58 = match entry(x) {
			Entry::Inherent => {
				tally.record.skipped_inherents += 1;
				continue;
			}
			Entry::Unsigned => {
				tally.record.skipped_unsigned += 1;
				continue;
			}
			Entry::Undecoded(why) => {
				undecodable(tally, DivergenceKind::DecodeFailure, why);
				continue;
			}
			Entry::Signed(s) => s,
		};
		let who = match AccountId32::from_str(&signer_ss58) {
			Ok(id) => id.0,
			Err(_) => {
				undecodable(
					tally,
					DivergenceKind::DecodeFailure,
					format!("its signer `{signer_ss58}` is not a 32-byte account id, which `sudo_as` needs"),
				);
				continue;
			}
		};
		let decoded = match capture_metadata.get(&block.spec_version) {
			Some(Ok(metadata)) => decode_call(&x.raw, metadata),
			Some(Err(e)) => Err(format!(
				"the capture's metadata of spec version {} does not decode: {e}",
				block.spec_version
			)),
			None => Err(format!(
				"the capture holds no metadata of spec version {}",
				block.spec_version
			)),
		};
		let decoded = match decoded {
			Ok(d) => d,
			Err(e) => {
				undecodable(
					tally,
					DivergenceKind::DecodeFailure,
					format!("its call does not decode with the capture's metadata: {e}"),
				);
				continue;
			}
		};
		match encode_for_fork(&decoded, &fork_metadata) {
			Ok(call) => group.push(Prepared {
				x,
				signer: signer_ss58,
				who,
				call,
			}),
			Err(NotEncodable { kind, detail }) => undecodable(tally, kind, detail),
		}
	}
	if group.is_empty() {
		return Ok(format!(
			"replay: captured #{} ({considered} extrinsic(s), none to replay)",
			block.number
		));
	}

	// Sign and submit the whole group, in captured order.
	let start = answer(limit, chain.best_number())
		.await
		.map_err(|e| state("read the best block number", e))?;
	let mut outcomes: Vec<Option<ForkOutcome>> = vec![None; group.len()];
	let mut in_flight = Vec::new();
	for (item, p) in group.iter().enumerate() {
		let who = if multiaddress {
			Value::unnamed_variant("Id", [Value::from_bytes(p.who)])
		} else {
			Value::from_bytes(p.who)
		};
		let signed = answer(
			limit,
			chain.sign_with_nonce(
				at,
				signer,
				"Sudo",
				"sudo_as",
				(who, EncodedCall(p.call.clone())),
				*nonce,
			),
		)
		.await;
		let encoded = match signed {
			Ok(e) => e,
			Err(e) => {
				outcomes[item] = Some(ForkOutcome::NotDispatched {
					block: None,
					why: format!("cannot build the `Sudo.sudo_as` wrapper: {e}"),
				});
				continue;
			}
		};
		match answer(limit, chain.submit_extrinsic(&encoded))
			.await
			.map_err(|e| state("submit a replayed extrinsic", e))?
		{
			Ok(_) => {
				*nonce += 1;
				in_flight.push(InFlight { item, encoded });
			}
			Err(message) => {
				outcomes[item] = Some(ForkOutcome::NotDispatched {
					block: None,
					why: format!("the fork's pool refused the `Sudo.sudo_as` wrapper: {message}"),
				});
			}
		}
	}
	let gave_up = follow(
		chain,
		block.number,
		start,
		in_flight,
		opts.block_timeout,
		&mut outcomes,
	)
	.await?;
	if gave_up {
		// Wrappers that never made it may hold nonces: start again from what the node counts.
		if let Ok(n) = answer(limit, chain.account_next_index(sudo_account)).await {
			*nonce = n;
		}
	}

	let mut fork_blocks = BTreeSet::new();
	let mut diverged = 0usize;
	for (p, outcome) in group.iter().zip(outcomes) {
		let outcome = outcome.unwrap_or(ForkOutcome::NotDispatched {
			block: None,
			why: "not followed".into(),
		});
		let fork_block = match &outcome {
			ForkOutcome::Dispatched { block, .. } => Some(*block),
			ForkOutcome::NotDispatched { block, .. } => *block,
		};
		tally.fork_block(fork_block);
		fork_blocks.extend(fork_block);
		let name = call_name(p.x);
		let captured = captured_outcome(p.x);
		tally.record.replayed += 1;
		tally.call(&name).replayed += 1;
		match judge(p.x, &captured, &outcome) {
			None => {
				tally.record.matched += 1;
				tally.call(&name).matched += 1;
			}
			Some((kind, fork, detail)) => {
				diverged += 1;
				tally.call(&name).diverged += 1;
				tally.record.divergences.push(Divergence {
					kind,
					call: name,
					signer: Some(p.signer.clone()),
					captured_block: block.number,
					captured_index: p.x.index,
					captured,
					fork,
					fork_block,
					detail,
					reproduce: reproduce_line(
						&opts.run_id,
						&opts.capture_shown,
						&opts.runs_dir_shown,
						block.number,
						p.x.index,
					),
				});
			}
		}
	}
	let landed = match (fork_blocks.first(), fork_blocks.last()) {
		(Some(a), Some(b)) if a == b => format!("fork #{a}"),
		(Some(a), Some(b)) => format!("fork #{a}..=#{b}"),
		_ => "not included".into(),
	};
	Ok(format!(
		"replay: captured #{} ({} extrinsic(s), {} replayed) → {landed}{}",
		block.number,
		considered,
		group.len(),
		if diverged > 0 {
			format!(", {diverged} diverged")
		} else {
			String::new()
		}
	))
}

/// Follows the wrappers `in_flight` (submitted when the fork's best block was `start`) into
/// the fork's best chain, filling `outcomes`. Wrappers still missing after [`STALE_BLOCKS`]
/// blocks without any of them are reported as not included (`Ok(true)`). An error when the
/// fork produced no block (or did not answer) for `timeout`, naming the last state.
async fn follow(
	chain: &Chain,
	captured: u64,
	start: u64,
	mut pending: Vec<InFlight>,
	timeout: Duration,
	outcomes: &mut [Option<ForkOutcome>],
) -> Result<bool, String> {
	let mut next = start;
	let mut last_block_at = Instant::now();
	let mut without_ours = 0u64;
	let mut last_state = format!("best #{start} when submitted");
	let mut last_error: Option<String>;
	while !pending.is_empty() {
		match answer(timeout, chain.best_number()).await {
			Ok(best) => {
				last_error = None;
				while next <= best {
					let contents = match answer(timeout, chain.block_hash(next)).await {
						Ok(Some(hash)) => answer(timeout, chain.block_contents(hash)).await,
						Ok(None) => break,
						Err(e) => Err(e),
					};
					let contents = match contents {
						Ok(Some(c)) => c,
						Ok(None) => break,
						Err(e) => {
							last_error = Some(e.to_string());
							break;
						}
					};
					let mut found = 0;
					for (index, bytes) in contents.extrinsics.iter().enumerate() {
						let Some(pos) = pending.iter().position(|p| &p.encoded == bytes) else {
							continue;
						};
						let p = pending.remove(pos);
						if let Some(slot) = outcomes.get_mut(p.item) {
							*slot = Some(wrapper_outcome(&contents, index as u32));
						}
						found += 1;
					}
					without_ours = if found > 0 { 0 } else { without_ours + 1 };
					last_block_at = Instant::now();
					last_state = format!(
						"fork best #{best}, scanned to #{next}, {} of the group still pending",
						pending.len()
					);
					next += 1;
				}
			}
			Err(e) => last_error = Some(e.to_string()),
		}
		if pending.is_empty() {
			break;
		}
		if without_ours >= STALE_BLOCKS {
			for p in pending.drain(..) {
				if let Some(slot) = outcomes.get_mut(p.item) {
					*slot = Some(ForkOutcome::NotDispatched {
						block: None,
						why: format!("the `Sudo.sudo_as` wrapper was accepted by the pool but not included in the {STALE_BLOCKS} fork blocks that followed"),
					});
				}
			}
			return Ok(true);
		}
		if last_block_at.elapsed() >= timeout {
			return Err(format!(
				"timed out after {timeout:?} waiting for {} replayed extrinsic(s) of captured #{captured} to be in a best block of the fork at `{}`: no new block; last state: {last_state}{}",
				pending.len(),
				chain.url(),
				last_error
					.map(|e| format!("; last error: {e}"))
					.unwrap_or_default()
			));
		}
		tokio::time::sleep(POLL_EVERY).await;
	}
	Ok(false)
}

/// `request`, or an error once `limit` passed without an answer (a node that stopped
/// answering must not hold the replay forever).
async fn answer<T>(
	limit: Duration,
	request: impl std::future::Future<Output = Result<T, ChainError>>,
) -> Result<T, ChainError> {
	match tokio::time::timeout(limit, request).await {
		Ok(result) => result,
		Err(_) => Err(ChainError::Unexpected(format!(
			"no answer within {limit:?}"
		))),
	}
}

/// A [`ReplayError`] for a capture that could not be read.
fn capture_error(path: &Path, e: CaptureError) -> ReplayError {
	match e {
		CaptureError::OutputUnusable { reason, hint, .. } => ReplayError::BadCapture {
			path: path.to_path_buf(),
			reason,
			hint,
		},
		e if e.is_bad_input() => ReplayError::BadCapture {
			path: path.to_path_buf(),
			reason: e.to_string(),
			hint: "pass the path of a capture written by `stagenet capture`".into(),
		},
		source => ReplayError::CaptureRead {
			path: path.to_path_buf(),
			source: Box::new(source),
		},
	}
}

/// The sudo keypair of a secret URI.
fn sudo_keypair(uri: &str) -> Result<Keypair, ReplayError> {
	let bad = |reason: String| ReplayError::BadInput {
		problem: format!("`{uri}` is not a usable secret URI: {reason}"),
		hint: "pass the fork's sudo key as a secret URI, e.g. `//Alice`".into(),
	};
	let parsed = SecretUri::from_str(uri).map_err(|e| bad(e.to_string()))?;
	Keypair::from_uri(&parsed).map_err(|e| bad(e.to_string()))
}

/// Refuses a fork without `Sudo::sudo_as`, and a sudo key that is not the fork's
/// `Sudo::Key`.
async fn check_sudo_key(
	chain: &Chain,
	at: H256,
	account: &str,
	opts: &ReplayOptions,
) -> Result<(), ReplayError> {
	let uri = &opts.sudo_uri;
	let fork = |what: &str, source: ChainError| ReplayError::Fork {
		what: what.to_string(),
		url: chain.url().to_string(),
		source: Box::new(source),
	};
	let metadata = answer(opts.block_timeout, chain.metadata_at(at))
		.await
		.map_err(|e| fork("read the metadata", e))?;
	let has_sudo_as = metadata
		.pallet_by_name("Sudo")
		.and_then(|p| p.call_variant_by_name("sudo_as"))
		.is_some();
	if !has_sudo_as {
		return Err(ReplayError::BadInput {
			problem: format!(
				"the fork's runtime at `{}` has no `Sudo.sudo_as`",
				chain.url()
			),
			hint: "replay dispatches every call through `Sudo::sudo_as`: fork a runtime with the Sudo pallet and a profile that sets `sudo`".into(),
		});
	}
	let key = answer(
		opts.block_timeout,
		chain.storage_value_at::<Value>(at, "Sudo", "Key", vec![]),
	)
	.await
	.map_err(|e| fork("read `Sudo::Key`", e))?;
	let key = key.as_ref().and_then(value_bytes).and_then(|b| {
		<[u8; 32]>::try_from(b.as_slice())
			.ok()
			.map(|b| AccountId32::from(b).to_string())
	});
	match key {
		Some(k) if k == account => Ok(()),
		Some(k) => Err(ReplayError::BadInput {
			problem: format!("the fork's sudo key is `{k}`, not `{uri}` (`{account}`)"),
			hint: "pass the fork's sudo key with `--sudo <secret URI>` (the profile's `sudo`)"
				.into(),
		}),
		None => Err(ReplayError::BadInput {
			problem: "the fork has no sudo key (`Sudo::Key` is empty)".into(),
			hint: "replay dispatches through `Sudo::sudo_as`: fork with a profile that sets `sudo`"
				.into(),
		}),
	}
}

/// The bytes of a value made of `u8`s (an `AccountId32`, nested or not).
fn value_bytes(value: &Value) -> Option<Vec<u8>> {
	fn walk(value: &Value, out: &mut Vec<u8>) -> Option<()> {
		match &value.value {
			ValueDef::Primitive(Primitive::U128(n)) => out.push(u8::try_from(*n).ok()?),
			ValueDef::Composite(c) => {
				for v in c.values() {
					walk(v, out)?;
				}
			}
			_ => return None,
		}
		Some(())
	}
	let mut out = Vec::new();
	walk(value, &mut out)?;
	Some(out)
}

/// The capture's metadata per spec version, decoded (or why not).
fn decode_runtimes(runtimes: &[StoredRuntime]) -> HashMap<u32, Result<Metadata, String>> {
	runtimes
		.iter()
		.map(|r| {
			(
				r.spec_version,
				Metadata::decode_from(&r.metadata).map_err(|e| e.to_string()),
			)
		})
		.collect()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn equal_outcomes_match_and_others_are_classified() {
		assert_eq!(classify("success", "success"), None);
		assert_eq!(classify("Subnets::NotOwner", "Subnets::NotOwner"), None);
		assert_eq!(
			classify("success", "Subnets::DuplicateUids"),
			Some(DivergenceKind::LogicChange)
		);
		assert_eq!(
			classify("Subnets::NotOwner", "success"),
			Some(DivergenceKind::LogicChange)
		);
		assert_eq!(
			classify("success", "Subnets::SettingWeightsTooFast"),
			Some(DivergenceKind::RateLimit)
		);
		assert_eq!(
			classify("SubtensorModule::ServingRateLimitExceeded", "success"),
			Some(DivergenceKind::RateLimit)
		);
		assert_eq!(
			classify("success", "SubtensorModule::TxRateLimitExceeded"),
			Some(DivergenceKind::RateLimit)
		);
		assert!(is_rate_limit("Foo::TOOMANYREQUESTS"));
		assert!(!is_rate_limit("Balances::InsufficientBalance"));
	}

	#[test]
	fn a_fork_outcome_without_dispatch_is_other() {
		let x = StoredExtrinsic {
			index: 2,
			hash: String::new(),
			raw: Vec::new(),
			kind: Some("signed".into()),
			pallet: Some("Subnets".into()),
			call: Some("set_weights".into()),
			args: None,
			signer: None,
			nonce: None,
			era: None,
			tip: None,
			success: Some(true),
			error: None,
			weight: None,
			class: Some("normal".into()),
			pays_fee: Some(true),
			event_count: 0,
			decode_error: None,
		};
		let refused = ForkOutcome::NotDispatched {
			block: None,
			why: "refused".into(),
		};
		assert_eq!(
			judge(&x, "success", &refused).map(|j| j.0),
			Some(DivergenceKind::Other)
		);
		let ok = ForkOutcome::Dispatched {
			block: 7,
			outcome: "success".into(),
		};
		assert_eq!(judge(&x, "success", &ok), None);
		let changed = ForkOutcome::Dispatched {
			block: 7,
			outcome: "Subnets::DuplicateUids".into(),
		};
		let (kind, fork, detail) = judge(&x, "success", &changed).expect("a divergence");
		assert_eq!(kind, DivergenceKind::LogicChange);
		assert_eq!(fork, "Subnets::DuplicateUids");
		assert!(detail.contains("`success`") && detail.contains("`Subnets::DuplicateUids`"));
		let unknown = StoredExtrinsic {
			success: None,
			..x.clone()
		};
		assert_eq!(
			judge(&unknown, "unknown", &ok).map(|j| j.0),
			Some(DivergenceKind::Other)
		);
		assert_eq!(
			entry(&x),
			Entry::Undecoded("signed, but its signer was not captured".into())
		);
		let inherent = StoredExtrinsic {
			kind: Some("bare".into()),
			class: Some("mandatory".into()),
			..x.clone()
		};
		assert_eq!(entry(&inherent), Entry::Inherent);
		let unsigned = StoredExtrinsic {
			kind: Some("bare".into()),
			..x.clone()
		};
		assert_eq!(entry(&unsigned), Entry::Unsigned);
	}

	#[test]
	fn reproduce_lines_replay_one_extrinsic_and_name_a_runs_dir_only_when_not_the_default() {
		assert_eq!(
			reproduce_line("fork-1", "caps/window.db", "", 105, 3),
			"stagenet replay fork-1 --capture caps/window.db --from 105 --to 105 --only 105:3"
		);
		assert_eq!(
			reproduce_line("fork-1", "caps/window.db", DEFAULT_RUNS_DIR, 105, 3),
			"stagenet replay fork-1 --capture caps/window.db --from 105 --to 105 --only 105:3"
		);
		assert_eq!(
			reproduce_line("fork-1", "my caps/it's.db", "/tmp/runs", 7, 0),
			"stagenet replay fork-1 --capture 'my caps/it'\\''s.db' --from 7 --to 7 --only 7:0 --runs-dir /tmp/runs"
		);
		assert_eq!(parse_only("105:3"), Ok((105, 3)));
		assert_eq!(parse_only("#105:3"), Ok((105, 3)));
		assert!(parse_only("105").is_err());
		assert!(parse_only("a:1").is_err());
	}

	#[test]
	fn intervals_come_from_captured_timestamps_with_the_slot_as_fallback() {
		let slot = Duration::from_millis(1000);
		assert_eq!(
			intervals(
				&[Some(10_000), Some(12_000), None, Some(20_000), Some(19_000)],
				slot
			),
			vec![
				Duration::ZERO,
				Duration::from_millis(2000),
				slot,
				slot,
				slot
			]
		);
		assert!(intervals(&[], slot).is_empty());
		let two_s = Duration::from_secs(2);
		assert_eq!(paced(two_s, ReplayRate::Max), None);
		assert_eq!(paced(two_s, ReplayRate::AsCaptured), Some(two_s));
		assert_eq!(
			paced(two_s, ReplayRate::Factor(4.0)),
			Some(Duration::from_millis(500))
		);
	}

	#[test]
	fn timestamps_are_read_from_timestamp_set() {
		let set = StoredExtrinsic {
			index: 0,
			hash: String::new(),
			raw: Vec::new(),
			kind: Some("bare".into()),
			pallet: Some("Timestamp".into()),
			call: Some("set".into()),
			args: Some("{\"now\":1700000012000}".into()),
			signer: None,
			nonce: None,
			era: None,
			tip: None,
			success: Some(true),
			error: None,
			weight: None,
			class: Some("mandatory".into()),
			pays_fee: Some(false),
			event_count: 1,
			decode_error: None,
		};
		let block = StoredBlock {
			number: 5,
			hash: String::new(),
			parent_hash: String::new(),
			state_root: String::new(),
			extrinsics_root: String::new(),
			spec_version: 100,
			length: 0,
			weight: Default::default(),
			decode_error: None,
			extrinsics: vec![set],
			events: Vec::new(),
		};
		assert_eq!(captured_timestamp(&block), Some(1_700_000_012_000));
	}

	#[test]
	fn semantics_name_fee_nonce_extensions_origin_and_time() {
		let all = semantics().join("\n");
		for word in [
			"fee",
			"nonce",
			"extension",
			"origin",
			"timestamps",
			"weight",
		] {
			assert!(all.contains(word), "`{word}` missing from {all}");
		}
	}
}
