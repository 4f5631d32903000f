//! `stagenet fork`: a verified snapshot and a fork profile become a sealed raw chain spec.
//!
//! The snapshot is streamed pair by pair into the spec (never held in memory): entries the
//! profile deletes are skipped, entries it sets are merged in key order, block numbers it lists
//! are rebased on the way, and the genesis state root of the result is computed from the same
//! stream. What is read before the stream (funded accounts, issuance, items whose keys hold
//! block numbers) is looked up through the snapshot's chunk index.

mod compile;
pub mod encode;
pub mod error;
use stagenet_chain::keys;
pub mod meta;
pub mod profile;
pub mod rebase;

pub use error::ForkError;
pub use profile::{Problem, Profile};

use stagenet_snapshot::{
	format::{RuntimeInfo, CHILD_STORAGE_PREFIX},
	reader::Reader,
	spec::runtime_version_of_code,
	trie::{self, RootBuilder, StateVersion},
};
use compile::compile;
use meta::{hash_key, Item, Meta};
use profile::SudoSection;
use rebase::{Rule, Seg, Shift};
use serde::Serialize;
use serde_yaml::Value as Yaml;
use stagenet_config::files::{check_regular, same_path, OutputLock, MAX_WASM_BYTES};
use std::{
	collections::{BTreeMap, BTreeSet, HashMap},
	io::{BufWriter, Write},
	path::{Path, PathBuf},
	time::Instant,
};

type Result<T, E = ForkError> = std::result::Result<T, E>;

/// What to fork and how.
#[derive(Debug, Clone, Default)]
pub struct ForkOptions {
	/// The snapshot (`.snap`).
	pub snapshot: PathBuf,
	/// The fork profile (YAML).
	pub profile: PathBuf,
	/// The chain spec written.
	pub out: PathBuf,
	/// Number of validators (overrides the profile's).
	pub validators: Option<usize>,
	/// Runtime override (overrides the profile's `code`).
	pub code: Option<PathBuf>,
	/// Accept a runtime override whose `spec_name` differs from the snapshot's.
	pub allow_spec_name_change: bool,
	/// Leave block numbers as they are (to show what rebasing fixes).
	pub no_rebase: bool,
	/// Warm-up W (overrides the profile's).
	pub warmup: Option<u64>,
	/// Replace an existing output.
	pub force: bool,
	/// Unknown profile keys are errors, not warnings.
	pub strict: bool,
}

/// Keys changed, added and removed in one pallet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PalletChanges {
	/// Pallet name, `(well-known keys)` or a hex prefix.
	pub pallet: String,
	/// Existing keys given a new value.
	pub changed: u64,
	/// Keys added.
	pub added: u64,
	/// Keys removed.
	pub removed: u64,
}

/// A dev validator of the fork.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Validator {
	/// Its secret URI (`//Alice`).
	pub uri: String,
	/// Aura key (sr25519, 0x hex).
	pub aura: String,
	/// GRANDPA key (ed25519, 0x hex).
	pub grandpa: String,
}

/// A funded account, or the accounts of one templated entry (`count` accounts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Funded {
	/// SS58 address (of the first account, for a templated entry).
	pub account: String,
	/// How it was written in the profile (the template, for a templated entry).
	pub given_as: String,
	/// Amount added (in total over its accounts, for a templated entry).
	pub amount: u128,
	/// Whether the account was absent from the snapshot (any of them, for a templated entry).
	pub new: bool,
	/// The accounts of a templated entry, summed up in this one; absent for one account.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub group: Option<FundedGroup>,
}

/// The accounts a templated `fund.accounts` entry funded (`//stress//{i}` with a `count`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FundedGroup {
	/// How many accounts.
	pub count: u32,
	/// The index `{i}` of the first.
	pub first: u32,
	/// The amount each account got.
	pub each: u128,
	/// How many were absent from the snapshot.
	pub new_accounts: u32,
	/// SS58 address of the last account.
	pub last_account: String,
	/// The template with its range, `//stress//{0..4095}`.
	pub label: String,
}

/// An issuance item raised by the funded total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct IssuanceChange {
	/// `Pallet.Item`.
	pub item: String,
	/// Before.
	pub before: u128,
	/// After.
	pub after: u128,
}

/// What `fork` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ForkSummary {
	/// The spec written.
	pub out: PathBuf,
	/// `name`, `id`, `protocolId` of the spec.
	pub name: String,
	/// `id`.
	pub id: String,
	/// `protocolId`.
	pub protocol_id: String,
	/// The source chain's name.
	pub source_chain: String,
	/// The source chain's genesis hash, when known.
	pub source_genesis_hash: Option<String>,
	/// The snapshot block `H`.
	pub snapshot_block: u64,
	/// The warm-up `W` (None when nothing was rebased).
	pub warmup: Option<u64>,
	/// The runtime in the spec.
	pub runtime: RuntimeInfo,
	/// Whether `:code` was replaced.
	pub code_overridden: bool,
	/// The dev validators.
	pub validators: Vec<Validator>,
	/// The sudo key (SS58).
	pub sudo: Option<String>,
	/// Funded accounts.
	pub funded: Vec<Funded>,
	/// Issuance items raised.
	pub issuance: Vec<IssuanceChange>,
	/// Block-number items rebased.
	pub rebased: Vec<rebase::RebaseStats>,
	/// Changes per pallet (only pallets with changes).
	pub pallets: Vec<PalletChanges>,
	/// Pairs in the spec's top trie (without child roots) and in child tries.
	pub keys: u64,
	/// Child tries.
	pub child_tries: usize,
	/// Bytes of the spec file.
	pub spec_bytes: u64,
	/// The genesis state root of the new spec (0x hex).
	pub genesis_state_root: String,
	/// The genesis block hash the nodes will compute (0x hex).
	pub genesis_hash: String,
	/// Profile entries marked `optional` (or defaults such as `Grandpa.Authorities`) whose item
	/// the snapshot's runtime does not have: left out, each with the reason.
	pub skipped: Vec<Skipped>,
	/// Warnings (unknown profile keys, …).
	pub warnings: Vec<String>,
	/// Seconds taken.
	pub seconds: f64,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ForkError + 'a {
	move |source| ForkError::Io {
		op,
		path: path.to_path_buf(),
		source,
	}
}

/// Everything the profile asks for, compiled to keys and bytes.
#[derive(Default)]
struct Plan {
	/// Exact keys written (set, authorities, sudo, funded accounts, issuance, `:code`,
	/// rebased keys). They win over deletes.
	sets: BTreeMap<Vec<u8>, Vec<u8>>,
	/// Exact keys removed.
	deletes: BTreeSet<Vec<u8>>,
	/// Key prefixes removed.
	delete_prefixes: Vec<Vec<u8>>,
	/// Value rebase rules by item prefix.
	rules: Vec<Rule>,
	validators: Vec<Validator>,
	sudo: Option<String>,
	funded: Vec<Funded>,
	issuance: Vec<IssuanceChange>,
	/// The runtime override's version (its bytes are in `sets` under `:code`).
	code: Option<RuntimeInfo>,
	/// Optional entries whose item the runtime lacks.
	skipped: Vec<Skipped>,
}

/// A profile entry left out because the snapshot's runtime does not have its item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Skipped {
	/// `Pallet.Item` as the profile names it.
	pub item: String,
	/// The profile file that names it.
	pub file: PathBuf,
	/// The entry's path in that file (`delete[3]`, `authorities.grandpa`).
	pub path: String,
	/// Why it was left out (what the metadata lacks), and what that means for the fork.
	pub reason: String,
}

/// Collects problems with their profile file and path, and the optional entries skipped.
#[derive(Default)]
struct Problems {
	list: Vec<Problem>,
	skipped: Vec<Skipped>,
}

impl Problems {
	/// Resolves `name` (`Pallet.Item`) through the metadata. A missing item is a problem, or,
	/// for an entry marked `optional: true`, a warning and `None`.
	fn resolve(
		&mut self,
		meta: &Meta,
		file: &Path,
		path: &str,
		name: &str,
		optional: bool,
	) -> Option<Item> {
		match meta.item(name) {
			Ok(i) => Some(i),
			Err(e) if optional => {
				self.skipped.push(Skipped {
					item: name.to_string(),
					file: file.to_path_buf(),
					path: path.to_string(),
					reason: e,
				});
				None
			}
			Err(e) => {
				self.push(file, path, e);
				None
			}
		}
	}

	fn push(&mut self, file: &Path, path: impl Into<String>, message: impl Into<String>) {
		self.list.push(Problem {
			file: file.to_path_buf(),
			path: path.into(),
			message: message.into(),
		});
	}
}

/// The full storage key of `item` with the given key values (one YAML value per key part, or
/// a leading part of them when `partial`).
fn storage_key(
	meta: &Meta,
	item: &Item,
	key: Option<&Yaml>,
	partial: bool,
) -> Result<Vec<u8>, String> {
	let parts: Vec<Yaml> = match key {
		None => Vec::new(),
		Some(Yaml::Sequence(s)) if item.keys.len() != 1 || s.len() != 1 && partial => s.clone(),
		Some(Yaml::Sequence(s)) if s.len() == 1 => s.clone(),
		Some(other) => vec![other.clone()],
	};
	if parts.len() > item.keys.len() || (!partial && parts.len() != item.keys.len()) {
		let types: Vec<String> = item
			.keys
			.iter()
			.map(|k| format!("`{}`", meta.describe(k.ty)))
			.collect();
		return Err(if item.keys.is_empty() {
			format!("`{}` is a plain value: it takes no `key`", item.label())
		} else {
			format!(
				"`{}` has {} key(s) ({}); {} given{}",
				item.label(),
				item.keys.len(),
				types.join(", "),
				parts.len(),
				if partial {
					""
				} else {
					" (hint: give every key, or use `delete-prefix`)"
				}
			)
		});
	}
	let mut out = item.prefix.to_vec();
	for (i, (part, yaml)) in item.keys.iter().zip(&parts).enumerate() {
		let enc = encode::encode(meta.types(), part.ty, yaml).map_err(|e| {
			let at = if item.keys.len() > 1 {
				format!("key[{i}]")
			} else {
				"key".into()
			};
			format!("{at}: {e}")
		})?;
		out.extend_from_slice(&hash_key(part.hasher, &enc));
	}
	Ok(out)
}

/// Reads the pairs of the top trie whose keys start with one of `prefixes` (sorted), chunk by
/// chunk through the index.
fn scan_prefixes(
	reader: &mut Reader,
	prefixes: &[Vec<u8>],
	mut f: impl FnMut(&[u8], &[u8]) -> Result<()>,
) -> Result<()> {
	let wanted: Vec<usize> = trie_chunks(reader, 0)
		.into_iter()
		.filter(|&i| {
			let c = &reader.chunks()[i];
			let first = hex::decode(c.first_key.trim_start_matches("0x")).unwrap_or_default();
			let last = hex::decode(c.last_key.trim_start_matches("0x")).unwrap_or_default();
			prefixes.iter().any(|p| {
				// The chunk [first, last] meets the range of keys starting with p.
				last.as_slice() >= p.as_slice()
					&& (first.starts_with(p) || first.as_slice() <= p.as_slice())
			})
		})
		.collect();
	for i in wanted {
		each_pair(reader, i, |k, v| {
			if prefixes.iter().any(|p| k.starts_with(p)) {
				f(k, v)?;
			}
			Ok(())
		})?;
	}
	Ok(())
}

/// The spec being written beside `out` until it is complete.
fn partial_path(out: &Path) -> PathBuf {
	out.with_extension("json.partial")
}

/// Refuses an `input` that is the same file as anything the fork writes.
fn refuse_output_as_input(opts: &ForkOptions, what: &'static str, input: &Path) -> Result<()> {
	for out in [
		opts.out.clone(),
		partial_path(&opts.out),
		stagenet_config::files::lock_path(&opts.out),
	] {
		if same_path(&out, input) {
			return Err(ForkError::OutputIsInput {
				out,
				what,
				input: input.to_path_buf(),
			});
		}
	}
	Ok(())
}

/// How often long work says how far it got.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// What funding needs after the profile is compiled: the accounts item, the path of the free
/// balance with its type's maximum, the path of the provider count, the accounts (storage key,
/// id, `fund.accounts` entry, index in the entry, amount) and the issuance items.
/// An item whose keys hold block numbers: the item, the rule's index, the type's maximum
/// and the key segments to rebase with their maxima.
type KeyRule = (Item, usize, u128, Vec<(Vec<Seg>, u128)>);

type FundPlan = (
	Item,
	(Vec<Seg>, u128),
	Vec<Seg>,
	Vec<(Vec<u8>, [u8; 32], usize, u32, u128)>,
	Vec<Item>,
);

/// An amount of a `fund.accounts` entry: a whole number up to 2^128 − 1, as a YAML integer
/// (up to 2^64 − 1) or a string (`"1_000_000"`, any size up to 2^128 − 1).
fn parse_amount(v: &Yaml) -> Result<u128, String> {
	const EXPECTED: &str = "expected an amount: a whole number from 0 to \
	                        340282366920938463463374607431768211455 (2^128 − 1), written as a YAML \
	                        integer up to 18446744073709551615 (2^64 − 1) or quoted above that \
	                        (`\"1_000_000_000_000_000_000\"`)";
	let why = match v {
		Yaml::Number(n) => match n.as_u64() {
			Some(x) => return Ok(u128::from(x)),
			None if n.is_i64() => "a negative number".to_string(),
			None => format!(
				"the number `{n}`, not a whole number (hint: YAML reads an unquoted integer past \
				 2^64 − 1 as a fraction: quote it)"
			),
		},
		Yaml::String(text) => {
			let digits = text.replace('_', "");
			let digits = digits.trim();
			if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
				match digits.parse::<u128>() {
					Ok(x) => return Ok(x),
					Err(_) => format!(
						"{}, a number past 2^128 − 1 (hint: amounts are in the balance's \
						 smallest unit; no balance type holds more)",
						encode::seen(v)
					),
				}
			} else {
				format!("{}, not a whole number", encode::seen(v))
			}
		}
		other => encode::seen(other),
	};
	Err(format!("{EXPECTED}; saw {why}"))
}

/// Removes the file it holds when dropped (a spec being written when an error returns).
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
	fn drop(&mut self) {
		if let Some(p) = self.0.take() {
			let _ = std::fs::remove_file(p);
		}
	}
}

/// The chunks of trie `trie`, in file (= key) order.
fn trie_chunks(reader: &Reader, trie: u32) -> Vec<usize> {
	reader
		.chunks()
		.iter()
		.enumerate()
		.filter(|(_, c)| c.trie == trie)
		.map(|(i, _)| i)
		.collect()
}

/// Calls `f` on every pair of chunk `i`; a torn chunk is an error, never skipped.
fn each_pair(
	reader: &mut Reader,
	i: usize,
	mut f: impl FnMut(&[u8], &[u8]) -> Result<()>,
) -> Result<()> {
	let path = reader.path().to_path_buf();
	let raw = reader.read_chunk(i).map_err(|source| ForkError::Snapshot {
		path: path.clone(),
		source: Box::new(source),
	})?;
	for pair in stagenet_snapshot::format::pairs(&raw) {
		let (k, v) = pair.map_err(|at| ForkError::Snapshot {
			path: path.clone(),
			source: Box::new(stagenet_snapshot::SnapshotError::Corrupt {
				path: path.clone(),
				chunk: Some(i as u64),
				reason: format!("its pairs are torn at byte {at}"),
			}),
		})?;
		f(k, v)?;
	}
	Ok(())
}

/// Looks up exact keys of the top trie. Only chunks whose key range holds a wanted key are
/// read, found by a range query per chunk: thousands of keys (funded accounts) cost no more
/// than a few.
fn lookup(reader: &mut Reader, keys: &BTreeSet<Vec<u8>>) -> Result<HashMap<Vec<u8>, Vec<u8>>> {
	let mut found = HashMap::new();
	if keys.is_empty() {
		return Ok(found);
	}
	let wanted: Vec<usize> = trie_chunks(reader, 0)
		.into_iter()
		.filter(|&i| {
			let c = &reader.chunks()[i];
			let first = hex::decode(c.first_key.trim_start_matches("0x")).ok();
			let last = hex::decode(c.last_key.trim_start_matches("0x")).ok();
			match (first, last) {
				(Some(first), Some(last)) if first <= last => {
					keys.range(first..=last).next().is_some()
				}
				// A chunk whose bounds cannot be read is read: the keys are checked one by one.
				_ => true,
			}
		})
		.collect();
	for i in wanted {
		each_pair(reader, i, |k, v| {
			if keys.contains(k) {
				found.insert(k.to_vec(), v.to_vec());
			}
			Ok(())
		})?;
		if found.len() == keys.len() {
			break;
		}
	}
	Ok(found)
}

/// The chain's block-number type and its maximum: the type of `System.Number`, else `u32`
/// (the block number of every Substrate chain stagenet forks, Subtensor included).
fn block_number_type(meta: &Meta) -> (String, u128) {
	meta.item("System.Number")
		.ok()
		.and_then(|item| {
			rebase::check_path(meta.types(), item.value_ty, &[])
				.ok()
				.map(|max| (uint_name(max), max))
		})
		.unwrap_or_else(|| ("u32".into(), u128::from(u32::MAX)))
}

/// The name of the unsigned integer type whose maximum is `max`.
fn uint_name(max: u128) -> String {
	match max {
		m if m == u128::from(u8::MAX) => "u8".into(),
		m if m == u128::from(u16::MAX) => "u16".into(),
		m if m == u128::from(u32::MAX) => "u32".into(),
		m if m == u128::from(u64::MAX) => "u64".into(),
		m if m == u128::MAX => "u128".into(),
		m => format!("an integer of at most {m}"),
	}
}

/// The unsigned integer in a SCALE value of type `ty` (a plain number or a newtype of one).
fn read_uint(meta: &Meta, ty: u32, bytes: &[u8]) -> Option<u128> {
	let mut out = None;
	rebase::map_value(
		meta.types(),
		ty,
		bytes,
		&[(Vec::new(), u128::MAX)],
		|n, _| {
			out = Some(n);
			n
		},
	)
	.ok()?;
	out
}

/// Forks a snapshot into a raw chain spec.
pub fn fork(opts: &ForkOptions, mut progress: impl FnMut(&str)) -> Result<ForkSummary> {
	let started = Instant::now();
	// Nothing is read or written before it is known that no output is an input: `--out`, the
	// spec being written beside it and its lock file must not be the snapshot, the profile (or
	// a profile it extends) or the runtime override, through links and relative paths alike.
	refuse_output_as_input(opts, "snapshot", &opts.snapshot)?;
	refuse_output_as_input(opts, "profile", &opts.profile)?;
	if let Some(code) = &opts.code {
		refuse_output_as_input(opts, "runtime override", code)?;
		check_regular(code, "runtime override", MAX_WASM_BYTES)?;
	}
	let profile =
		profile::load(&opts.profile).map_err(|problems| ForkError::Profile { problems })?;
	for parent in profile.files.iter().skip(1) {
		refuse_output_as_input(opts, "profile (extended)", parent)?;
	}
	if let (None, Some(code)) = (&opts.code, &profile.code) {
		refuse_output_as_input(opts, "runtime override", code)?;
		check_regular(code, "runtime override", MAX_WASM_BYTES)?;
	}
	// One writer per output: a second fork on the same `--out` is refused with who holds it.
	let _lock = OutputLock::acquire(&opts.out)?;
	if opts.out.exists() && !opts.force {
		return Err(ForkError::OutputExists {
			path: opts.out.clone(),
		});
	}
	let snap_err = |source| ForkError::Snapshot {
		path: opts.snapshot.clone(),
		source: Box::new(source),
	};
	let mut reader = Reader::open(&opts.snapshot).map_err(snap_err)?;
	progress("verifying the snapshot");
	reader.verify(|_, _| {}).map_err(snap_err)?;
	let header = reader.header().clone();
	if !header.verified {
		return Err(ForkError::Snapshot {
			path: opts.snapshot.clone(),
			source: Box::new(stagenet_snapshot::SnapshotError::InvalidInput {
				reason: "its state root could not be verified from its pairs".into(),
				hint: "only verified snapshots are forked; take it again with `stagenet snapshot`"
					.into(),
			}),
		});
	}
	let metadata = reader
		.metadata()
		.map_err(snap_err)?
		.ok_or_else(|| ForkError::NoMetadata {
			path: opts.snapshot.clone(),
		})?;
	let meta = Meta::decode(&metadata).map_err(|e| ForkError::Snapshot {
		path: opts.snapshot.clone(),
		source: Box::new(stagenet_snapshot::SnapshotError::Metadata {
			reason: format!("it does not decode: {e}"),
		}),
	})?;
	let mut warnings: Vec<String> = profile.unknown.iter().map(|p| p.to_string()).collect();
	if opts.strict && !profile.unknown.is_empty() {
		return Err(ForkError::Profile {
			problems: profile.unknown.clone(),
		});
	}

	// The snapshot block H: from the header, else `System.Number` in the state.
	let h = match &header.block {
		Some(b) => b.number,
		None => {
			let item = meta
				.item("System.Number")
				.map_err(|reason| ForkError::Inconsistent {
					item: "System.Number".into(),
					reason,
				})?;
			let found = lookup(&mut reader, &BTreeSet::from([item.prefix.to_vec()]))?;
			found
				.get(item.prefix.as_slice())
				.and_then(|v| read_uint(&meta, item.value_ty, v))
				.unwrap_or(0) as u64
		}
	};

	progress("compiling the profile against the snapshot's metadata");
	let (mut plan, warmup) = compile(
		opts,
		&profile,
		&meta,
		&header,
		h,
		&mut reader,
		&mut warnings,
		&mut progress,
	)?;
	let runtime = match &plan.code {
		Some(rt) => rt.clone(),
		None => header.runtime.clone().unwrap_or(RuntimeInfo {
			spec_name: String::new(),
			impl_name: String::new(),
			spec_version: 0,
			impl_version: 0,
			transaction_version: 0,
			state_version: header.state_version,
		}),
	};
	let version = StateVersion::from_u8(runtime.state_version).unwrap_or(StateVersion::V1);
	if plan.code.is_none() && runtime.spec_name.is_empty() {
		warnings.push("the snapshot does not name its runtime; the spec keeps its `:code`".into());
	}

	// Chain fields.
	let source_hash = header
		.block
		.as_ref()
		.map(|b| b.hash.clone())
		.unwrap_or_default();
	let short = source_hash
		.trim_start_matches("0x")
		.chars()
		.take(8)
		.collect::<String>();
	let name = profile
		.chain
		.name
		.clone()
		.unwrap_or_else(|| format!("{} (stagenet fork)", header.chain));
	let id = profile
		.chain
		.id
		.clone()
		.unwrap_or_else(|| format!("stagenet_fork_{h}"));
	let protocol_id = profile.chain.protocol_id.clone().unwrap_or_else(|| {
		format!(
			"stagenet-{}",
			if short.is_empty() {
				h.to_string()
			} else {
				short
			}
		)
	});
	let chain_type = profile
		.chain
		.chain_type
		.unwrap_or(profile::ChainType::Local);
	let mut properties = profile.chain.properties.clone().unwrap_or_default();
	// Where the fork came from and from which block rehearsals may act (nodes ignore these).
	properties.insert("stagenetSnapshotBlock".into(), h.into());
	if let Some(w) = warmup {
		properties.insert("stagenetWarmup".into(), w.into());
	}

	// Child roots: recomputed when the spec's runtime uses another trie layout.
	let mut child_roots: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
	if version.as_u8() != header.state_version {
		progress("recomputing child trie roots for the runtime's state version");
		for t in header.tries.iter().filter(|t| t.id != 0) {
			let mut b = RootBuilder::new(version);
			for i in trie_chunks(&reader, t.id) {
				// Order was checked when the snapshot verified.
				each_pair(&mut reader, i, |k, v| {
					b.push(k, v).map_err(|source| ForkError::Unordered { source })
				})?;
			}
			let child = hex::decode(t.child.clone().unwrap_or_default().trim_start_matches("0x"))
				.unwrap_or_default();
			let mut key = CHILD_STORAGE_PREFIX.to_vec();
			key.extend_from_slice(&child);
			child_roots.insert(key, b.finish().to_vec());
		}
	}

	// Stream the spec.
	progress("writing the chain spec");
	let tmp = partial_path(&opts.out);
	let file = std::fs::File::create(&tmp).map_err(io("create", &tmp))?;
	// Whatever fails from here on, no partial spec is left behind.
	let mut partial = RemoveOnDrop(Some(tmp.clone()));
	let mut w = BufWriter::with_capacity(1 << 20, file);
	let write_err = |e: std::io::Error| ForkError::Io {
		op: "write",
		path: tmp.clone(),
		source: e,
	};
	let head = serde_json::json!({
		"name": name,
		"id": id,
		"chainType": chain_type,
		"bootNodes": [],
		"telemetryEndpoints": null,
		"protocolId": protocol_id,
		"properties": properties,
		"codeSubstitutes": {},
	});
	let head = serde_json::to_string(&head).unwrap_or_default();
	// `{…fields…, "genesis": {"raw": {"top": {` — the head object without its closing brace.
	let head_open = head.strip_suffix('}').unwrap_or(&head);
	write!(w, "{head_open},\"genesis\":{{\"raw\":{{\"top\":{{").map_err(write_err)?;

	let pallet_names = pallet_names(&meta);
	let mut changes: BTreeMap<String, PalletChanges> = BTreeMap::new();
	let mut bump = |key: &[u8], kind: u8| {
		let name = pallet_of(&pallet_names, key);
		let e = changes
			.entry(name.clone())
			.or_insert_with(|| PalletChanges {
				pallet: name,
				..Default::default()
			});
		match kind {
			0 => e.changed += 1,
			1 => e.added += 1,
			_ => e.removed += 1,
		}
	};
	let mut root = RootBuilder::new(version);
	let mut first = true;
	let mut keys_written = 0u64;
	let mut emit = |w: &mut BufWriter<std::fs::File>,
	                root: &mut RootBuilder,
	                k: &[u8],
	                v: &[u8]|
	 -> Result<()> {
		let v = child_roots.get(k).map(|r| r.as_slice()).unwrap_or(v);
		// The snapshot verified its order and sets are merged in order, so a key out of
		// order here is a bug: refuse rather than present a wrong genesis root.
		root.push(k, v).map_err(|source| ForkError::Unordered { source })?;
		if k.starts_with(CHILD_STORAGE_PREFIX) {
			// Child roots are derived from `childrenDefault` by the node.
			return Ok(());
		}
		let mut write = || -> std::io::Result<()> {
			if !first {
				w.write_all(b",")?;
			}
			w.write_all(b"\"0x")?;
			w.write_all(hex::encode(k).as_bytes())?;
			w.write_all(b"\":\"0x")?;
			w.write_all(hex::encode(v).as_bytes())?;
			w.write_all(b"\"")
		};
		write().map_err(write_err)?;
		first = false;
		keys_written += 1;
		Ok(())
	};

	let rule_by_prefix: HashMap<[u8; 32], usize> = plan
		.rules
		.iter()
		.enumerate()
		.map(|(i, r)| (r.item.prefix, i))
		.collect();
	let shift = Shift {
		h,
		w: warmup.unwrap_or(0),
	};
	let sets = std::mem::take(&mut plan.sets);
	let mut pending = sets.iter().peekable();
	for i in trie_chunks(&reader, 0) {
		each_pair(&mut reader, i, |k, v| {
			while let Some((sk, sv)) = pending.peek() {
				if sk.as_slice() >= k {
					break;
				}
				emit(&mut w, &mut root, sk, sv)?;
				bump(sk, 1);
				pending.next();
			}
			if let Some((sk, sv)) = pending.peek() {
				if sk.as_slice() == k {
					emit(&mut w, &mut root, k, sv)?;
					if sv.as_slice() != v {
						bump(k, 0);
					}
					pending.next();
					return Ok(());
				}
			}
			if plan.deletes.contains(k) || plan.delete_prefixes.iter().any(|p| k.starts_with(p)) {
				bump(k, 2);
				return Ok(());
			}
			let rule = (k.len() >= 32)
				.then(|| <[u8; 32]>::try_from(&k[..32]).ok())
				.flatten()
				.and_then(|p| rule_by_prefix.get(&p).copied());
			match rule {
				Some(r) if !plan.rules[r].value_paths.is_empty() => {
					let rule = &mut plan.rules[r];
					rule.stats.entries += 1;
					let stats = &mut rule.stats;
					let nv = rebase::map_value(
						meta.types(),
						rule.item.value_ty,
						v,
						&rule.value_paths,
						|n, max| shift.apply(n, max, stats),
					)
					.map_err(|reason| ForkError::Inconsistent {
						item: rule.item.label(),
						reason,
					})?;
					if nv != v {
						bump(k, 0);
					}
					emit(&mut w, &mut root, k, &nv)
				}
				_ => emit(&mut w, &mut root, k, v),
			}
		})?;
	}
	for (sk, sv) in pending {
		emit(&mut w, &mut root, sk, sv)?;
		bump(sk, 1);
	}
	let state_root = root.finish();

	// Child tries, unchanged.
	w.write_all(b"},\"childrenDefault\":{").map_err(write_err)?;
	let mut child_keys = 0u64;
	let mut first_child = true;
	for t in header.tries.iter().filter(|t| t.id != 0) {
		let child = t.child.clone().unwrap_or_default();
		if !first_child {
			w.write_all(b",").map_err(write_err)?;
		}
		first_child = false;
		write!(w, "\"{}\":{{", child).map_err(write_err)?;
		let mut first_pair = true;
		for i in trie_chunks(&reader, t.id) {
			each_pair(&mut reader, i, |k, v| {
				if !first_pair {
					w.write_all(b",").map_err(write_err)?;
				}
				first_pair = false;
				child_keys += 1;
				write!(w, "\"0x{}\":\"0x{}\"", hex::encode(k), hex::encode(v)).map_err(write_err)
			})?;
		}
		w.write_all(b"}").map_err(write_err)?;
	}
	w.write_all(b"}}}}\n").map_err(write_err)?;
	let file = w.into_inner().map_err(|e| write_err(e.into_error()))?;
	file.sync_all().map_err(write_err)?;
	let spec_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
	drop(file);
	std::fs::rename(&tmp, &opts.out).map_err(io("rename", &opts.out))?;
	partial.0 = None;

	Ok(ForkSummary {
		out: opts.out.clone(),
		name,
		id,
		protocol_id,
		source_chain: header.chain.clone(),
		source_genesis_hash: header.genesis_hash.clone(),
		snapshot_block: h,
		warmup,
		runtime,
		code_overridden: plan.code.is_some(),
		validators: plan.validators,
		sudo: plan.sudo,
		funded: plan.funded,
		issuance: plan.issuance,
		rebased: plan.rules.into_iter().map(|r| r.stats).collect(),
		skipped: plan.skipped,
		pallets: changes.into_values().collect(),
		keys: keys_written + child_keys,
		child_tries: header.tries.len().saturating_sub(1),
		spec_bytes,
		genesis_state_root: format!("0x{}", hex::encode(state_root)),
		genesis_hash: format!("0x{}", hex::encode(genesis_hash(&state_root))),
		warnings,
		seconds: started.elapsed().as_secs_f64(),
	})
}

/// The hash of the genesis header the node builds: number 0, zero parent, the state root, the
/// empty extrinsics root and an empty digest.
pub fn genesis_hash(state_root: &[u8; 32]) -> [u8; 32] {
	let mut header = vec![0u8; 32];
	header.push(0); // Compact(0)
	header.extend_from_slice(state_root);
	header.extend_from_slice(&trie::empty_root());
	header.push(0); // empty digest
	stagenet_chain::hash::blake2_256(&header)
}

fn pallet_names(meta: &Meta) -> HashMap<[u8; 16], String> {
	let mut out = HashMap::new();
	for item in meta.all_items() {
		let mut p = [0u8; 16];
		p.copy_from_slice(&item.prefix[..16]);
		out.entry(p).or_insert(item.pallet);
	}
	out
}

fn pallet_of(names: &HashMap<[u8; 16], String>, key: &[u8]) -> String {
	if key.starts_with(b":") {
		return "(well-known keys)".into();
	}
	key.get(..16)
		.and_then(|p| <[u8; 16]>::try_from(p).ok())
		.and_then(|p| names.get(&p).cloned())
		.unwrap_or_else(|| format!("0x{}", hex::encode(&key[..key.len().min(16)])))
}
