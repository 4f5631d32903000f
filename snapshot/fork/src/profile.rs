//! Fork profiles: YAML, versioned, keyed by `Pallet.Item` names. A profile may `extend`
//! another (a path relative to it): lists are concatenated (the parent's first), single
//! settings are replaced by the child's.
//!
//! Keys are kebab-case (`delete-prefix`, `rebase-block-numbers`, `protocol-id`); the
//! snake-case and camelCase spellings used in chain specs and Substrate docs are accepted too.

use serde::Deserialize;
use serde_yaml::Value as Yaml;
use std::path::{Path, PathBuf};

/// The profile version this stagenet reads.
pub const PROFILE_VERSION: u32 = 1;

/// A parse or validation problem, with the field path inside the profile file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
	/// The file.
	pub file: PathBuf,
	/// Field path (`set[2].value.block`), empty for the whole file.
	pub path: String,
	/// What is wrong, and what to do.
	pub message: String,
}

impl std::fmt::Display for Problem {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		if self.path.is_empty() {
			write!(f, "{}: {}", self.file.display(), self.message)
		} else {
			write!(
				f,
				"{}: `{}`: {}",
				self.file.display(),
				self.path,
				self.message
			)
		}
	}
}

/// `chain`: the spec's top-level fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ChainSection {
	/// `name`.
	pub name: Option<String>,
	/// `id`.
	pub id: Option<String>,
	/// `protocolId`.
	#[serde(alias = "protocol_id", alias = "protocolId")]
	pub protocol_id: Option<String>,
	/// `chainType`.
	#[serde(alias = "chain_type", alias = "chainType")]
	pub chain_type: Option<ChainType>,
	/// `properties` (token symbol, decimals, SS58 format).
	pub properties: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `chainType` of a chain spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum ChainType {
	/// `Development`.
	Development,
	/// `Local`.
	Local,
	/// `Live`.
	Live,
}

/// `authorities`: dev validators for Aura and GRANDPA.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AuthoritiesSection {
	/// How many validators (`--validators` overrides).
	pub validators: Option<usize>,
	/// Their secret URIs, in order (default `//Alice`, `//Bob` …).
	pub uris: Option<Vec<String>>,
	/// The Aura authorities item (default `Aura.Authorities`).
	pub aura: Option<String>,
	/// The GRANDPA authorities item (default `Grandpa.Authorities`).
	pub grandpa: Option<String>,
	/// The GRANDPA set id item, set to 0 (default `Grandpa.CurrentSetId`).
	#[serde(alias = "grandpa_set_id")]
	pub grandpa_set_id: Option<String>,
}

/// `sudo`: the key of the sudo pallet.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SudoSection {
	/// Just the account (`//Alice`), written to `Sudo.Key`.
	Account(String),
	/// The item and the account.
	Full {
		/// The item (default `Sudo.Key`).
		item: Option<String>,
		/// The account.
		account: String,
	},
}

/// One funded account, or `count` of them named by a secret URI template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundAccount {
	/// Secret URI, SS58 address or hex; with `count`, a secret URI template whose `{i}` is
	/// the account's index (`//stress//{i}`).
	pub account: String,
	/// Amount added to its free balance (an integer, or a string for large numbers); with
	/// `count`, to each account's.
	pub amount: Yaml,
	/// How many accounts the template names: `{i}` = `first` … `first + count - 1`.
	#[serde(default)]
	pub count: Option<u32>,
	/// The first index of a template (default 0); only with `count`.
	#[serde(default)]
	pub first: Option<u32>,
}

impl FundAccount {
	/// The account ids the entry funds: the one it names, or the `count` its template names,
	/// derived fast ([`super::keys::sr25519_publics`]). On a problem, the field it concerns
	/// (`account`, `count` or `first`) and what is wrong.
	pub fn expand(&self) -> Result<Vec<[u8; 32]>, (&'static str, String)> {
		self.expand_with(&mut super::keys::Deriver::default())
	}

	/// [`Self::expand`], deriving through `deriver` (whose phrase roots are shared by every
	/// entry of a profile).
	pub fn expand_with(
		&self,
		deriver: &mut super::keys::Deriver,
	) -> Result<Vec<[u8; 32]>, (&'static str, String)> {
		let templated = self.account.contains("{i}");
		let Some(count) = self.count else {
			if templated {
				return Err((
					"account",
					format!(
						"`{}` holds `{{i}}` but the entry has no `count` (hint: add `count: N` \
						 to fund N accounts, `{{i}}` = 0 … N - 1)",
						self.account
					),
				));
			}
			if self.first.is_some() {
				return Err((
					"first",
					"`first` goes with `count` (hint: add `count: N`, or remove `first`)".into(),
				));
			}
			return deriver
				.account(&self.account)
				.map(|a| vec![a])
				.map_err(|e| ("account", e.to_string()));
		};
		if count == 0 {
			return Err((
				"count",
				"must be at least 1 (hint: remove the entry to fund nobody)".into(),
			));
		}
		if !templated {
			return Err((
				"account",
				format!(
					"`{}` has no `{{i}}`, so `count` would fund one account {count} times (hint: \
					 write the index into the URI, like `//stress//{{i}}`)",
					self.account
				),
			));
		}
		let first = self.first.unwrap_or(0);
		if first.checked_add(count - 1).is_none() {
			return Err((
				"first",
				format!(
					"`first` {first} + `count` {count} passes the last index {} (hint: lower \
					 `first` or `count`)",
					u32::MAX
				),
			));
		}
		super::keys::sr25519_publics(&self.account, first, count).map_err(|e| ("account", e.to_string()))
	}

	/// The secret URI of account `n` (0-based) of a templated entry; the account itself
	/// otherwise.
	pub fn uri_of(&self, n: u32) -> String {
		let index = u64::from(self.first.unwrap_or(0)) + u64::from(n);
		self.account.replace("{i}", &index.to_string())
	}

	/// How a templated entry reads in a summary: `//stress//{0..4095}`; the account as
	/// written otherwise.
	pub fn label(&self) -> String {
		match self.count {
			Some(count) if count > 0 => {
				let first = u64::from(self.first.unwrap_or(0));
				let last = first + u64::from(count) - 1;
				self.account.replace("{i}", &format!("{{{first}..{last}}}"))
			}
			_ => self.account.clone(),
		}
	}
}

/// `fund`: accounts credited, with issuance raised by the same total.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FundSection {
	/// The accounts item (default `System.Account`).
	#[serde(alias = "account_item")]
	pub account_item: Option<String>,
	/// Path of the free balance in the account value (default `data.free`).
	pub free: Option<String>,
	/// Path of the provider count, set to 1 for a new account (default `providers`).
	pub providers: Option<String>,
	/// Items holding total issuance, each raised by the funded total.
	#[serde(default)]
	pub issuance: Vec<String>,
	/// The accounts.
	#[serde(default)]
	pub accounts: Vec<FundAccount>,
}

/// `set`: one storage entry written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetEntry {
	/// `Pallet.Item`.
	pub item: String,
	/// The map keys, one per key of the item (absent for a plain value).
	#[serde(default)]
	pub key: Option<Yaml>,
	/// The value, encoded with the item's type.
	pub value: Yaml,
	/// Skip (with a warning) when the item is absent from the snapshot's metadata.
	#[serde(default)]
	pub optional: bool,
}

/// `delete` / `delete-prefix`: entries removed.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DeleteEntry {
	/// `Pallet.Item`: the plain value, or (for `delete-prefix`) every entry of the item.
	Item(String),
	/// An item and (some of) its keys.
	Keyed {
		/// `Pallet.Item`.
		item: String,
		/// Keys: all of them for `delete`, a leading part for `delete-prefix`.
		#[serde(default)]
		key: Option<Yaml>,
		/// Skip (with a warning) when the item is absent from the snapshot's metadata.
		#[serde(default)]
		optional: bool,
	},
}

impl DeleteEntry {
	/// The item named.
	pub fn item(&self) -> &str {
		match self {
			DeleteEntry::Item(i) => i,
			DeleteEntry::Keyed { item, .. } => item,
		}
	}
	/// The keys given.
	pub fn key(&self) -> Option<&Yaml> {
		match self {
			DeleteEntry::Item(_) => None,
			DeleteEntry::Keyed { key, .. } => key.as_ref(),
		}
	}
	/// Whether a missing item is skipped.
	pub fn optional(&self) -> bool {
		matches!(self, DeleteEntry::Keyed { optional: true, .. })
	}
}

/// One item whose block numbers are rebased.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RebaseItem {
	/// `Pallet.Item`: the whole value is a block number.
	Item(String),
	/// An item with the paths holding block numbers.
	Paths {
		/// `Pallet.Item`.
		item: String,
		/// Path(s) in the value (`block`, `[*]`, `[*].1`, `` for the whole value).
		#[serde(default)]
		value: Option<OneOrMany>,
		/// Index of the map key that is a block number.
		#[serde(default)]
		key: Option<usize>,
		/// Skip (with a warning) when the item is absent from the snapshot's metadata.
		#[serde(default)]
		optional: bool,
	},
}

/// A string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
	/// One.
	One(String),
	/// Several.
	Many(Vec<String>),
}

impl OneOrMany {
	/// As a list.
	pub fn to_vec(&self) -> Vec<String> {
		match self {
			OneOrMany::One(s) => vec![s.clone()],
			OneOrMany::Many(v) => v.clone(),
		}
	}
}

impl RebaseItem {
	/// The item named.
	pub fn item(&self) -> &str {
		match self {
			RebaseItem::Item(i) => i,
			RebaseItem::Paths { item, .. } => item,
		}
	}
	/// Whether a missing item is skipped.
	pub fn optional(&self) -> bool {
		matches!(self, RebaseItem::Paths { optional: true, .. })
	}
}

/// `rebase-block-numbers`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RebaseSection {
	/// Warm-up W: the fork block at which ages and deadlines equal the source's (the least W
	/// when `period` is set).
	pub warmup: Option<u64>,
	/// W is chosen congruent to the snapshot block modulo this period (Subtensor: tempo + 1).
	pub period: Option<u64>,
	/// The items.
	#[serde(default)]
	pub items: Vec<RebaseItem>,
}

/// A profile as written in one file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ProfileFile {
	/// Format version (1).
	pub version: Option<u32>,
	/// A profile this one extends (path relative to this file).
	pub extends: Option<String>,
	/// Spec top-level fields.
	#[serde(default)]
	pub chain: Option<ChainSection>,
	/// Dev authorities.
	#[serde(default)]
	pub authorities: Option<AuthoritiesSection>,
	/// Sudo key.
	#[serde(default)]
	pub sudo: Option<SudoSection>,
	/// Funded accounts.
	#[serde(default)]
	pub fund: Option<FundSection>,
	/// Entries written.
	#[serde(default)]
	pub set: Vec<SetEntry>,
	/// Entries removed.
	#[serde(default)]
	pub delete: Vec<DeleteEntry>,
	/// Entries removed by prefix.
	#[serde(default, alias = "delete_prefix")]
	pub delete_prefix: Vec<DeleteEntry>,
	/// Block-number items rebased.
	#[serde(default, alias = "rebase_block_numbers")]
	pub rebase_block_numbers: Option<RebaseSection>,
	/// Runtime override (wasm path relative to the profile).
	pub code: Option<String>,
}

/// An entry and where it was written: its file and its field path there.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
	/// The profile file.
	pub file: PathBuf,
	/// Field path in that file (`set[2]`).
	pub path: String,
	/// The entry.
	pub entry: T,
}

/// A profile with its parents merged in.
#[derive(Debug, Clone, Default)]
pub struct Profile {
	/// The files read, the profile first, then its parents.
	pub files: Vec<PathBuf>,
	/// `chain` (field by field, the child's wins).
	pub chain: ChainSection,
	/// `authorities` (field by field).
	pub authorities: AuthoritiesSection,
	/// `sudo` (the child's wins).
	pub sudo: Option<Sourced<SudoSection>>,
	/// `fund` settings (field by field) without its lists.
	pub fund: FundSection,
	/// `fund.issuance` items.
	pub issuance: Vec<Sourced<String>>,
	/// `fund.accounts`.
	pub accounts: Vec<Sourced<FundAccount>>,
	/// `set` entries, the parent's first.
	pub set: Vec<Sourced<SetEntry>>,
	/// `delete` entries.
	pub delete: Vec<Sourced<DeleteEntry>>,
	/// `delete-prefix` entries.
	pub delete_prefix: Vec<Sourced<DeleteEntry>>,
	/// `rebase-block-numbers.warmup`.
	pub warmup: Option<Sourced<u64>>,
	/// `rebase-block-numbers.period`.
	pub period: Option<u64>,
	/// `rebase-block-numbers.items`.
	pub rebase: Vec<Sourced<RebaseItem>>,
	/// The code override, resolved against its profile's directory.
	pub code: Option<PathBuf>,
	/// Unknown keys seen (warnings; errors under `--strict`).
	pub unknown: Vec<Problem>,
}

/// The most type problems reported for one profile file.
const MAX_PROBLEMS_PER_FILE: usize = 100;

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
	Key(String),
	Index(usize),
}

fn render(steps: &[Step]) -> String {
	let mut out = String::new();
	for s in steps {
		match s {
			Step::Key(k) if out.is_empty() => out.push_str(k),
			Step::Key(k) => {
				out.push('.');
				out.push_str(k);
			}
			Step::Index(i) => out.push_str(&format!("[{i}]")),
		}
	}
	out
}

/// The node at `steps` (in the document as it is now), for removal: its parent and where in it.
fn remove_at(doc: &mut Yaml, steps: &[Step]) -> bool {
	let Some((last, parents)) = steps.split_last() else {
		return false;
	};
	let mut node = doc;
	for s in parents {
		node = match (node, s) {
			(Yaml::Mapping(m), Step::Key(k)) => match m.get_mut(k.as_str()) {
				Some(n) => n,
				None => return false,
			},
			(Yaml::Sequence(v), Step::Index(i)) => match v.get_mut(*i) {
				Some(n) => n,
				None => return false,
			},
			(Yaml::Tagged(t), _) => &mut t.value,
			_ => return false,
		};
	}
	match (node, last) {
		(Yaml::Mapping(m), Step::Key(k)) => m.remove(k.as_str()).is_some(),
		(Yaml::Sequence(v), Step::Index(i)) if *i < v.len() => {
			v.remove(*i);
			true
		}
		_ => false,
	}
}

/// Reads a profile document, reporting every type problem with its path, not only the first:
/// after each problem the offending entry is taken out (a key, a list element, or the map
/// that lacks a required field) and the rest is read again. Returns what could be read (with
/// the bad entries left out) and the problems, in document order of discovery.
fn deserialize_all(mut doc: Yaml) -> (Option<ProfileFile>, Vec<(String, String)>) {
	let mut problems: Vec<(String, String)> = Vec::new();
	// List elements taken out so far, by the list's path in the file as written, so that
	// later paths are reported with the indices the user wrote.
	let mut removed: std::collections::HashMap<String, Vec<usize>> = Default::default();
	loop {
		let result: Result<ProfileFile, _> = serde_path_to_error::deserialize(&doc);
		let e = match result {
			Ok(f) => return (Some(f), problems),
			Err(e) => e,
		};
		// The path now, and as written.
		let mut now = Vec::new();
		let mut written = Vec::new();
		let mut complete = true;
		for seg in e.path().iter() {
			match seg {
				serde_path_to_error::Segment::Map { key } => {
					now.push(Step::Key(key.clone()));
					written.push(Step::Key(key.clone()));
				}
				serde_path_to_error::Segment::Seq { index } => {
					let mut orig = *index;
					if let Some(gone) = removed.get(&render(&written)) {
						for g in gone {
							if *g <= orig {
								orig += 1;
							}
						}
					}
					now.push(Step::Index(*index));
					written.push(Step::Index(orig));
				}
				_ => {
					complete = false;
					break;
				}
			}
		}
		let at = render(&written);
		let msg = e.into_inner().to_string();
		// A map that lacks a field taken out before is not a problem of its own.
		let consequence = problems.iter().any(|(p, _)| {
			!at.is_empty() && (p.starts_with(&format!("{at}.")) || p.starts_with(&format!("{at}[")))
		});
		if !consequence {
			problems.push((at.clone(), msg));
		}
		if !complete || problems.len() >= MAX_PROBLEMS_PER_FILE || !remove_at(&mut doc, &now) {
			return (None, problems);
		}
		if let Some(Step::Index(i)) = written.last() {
			let list = render(&written[..written.len() - 1]);
			let gone = removed.entry(list).or_default();
			gone.push(*i);
			gone.sort_unstable();
		}
	}
}

/// Reads one profile file: what could be read, its unknown keys, and every problem found.
fn parse_file(path: &Path) -> (Option<ProfileFile>, Vec<Problem>, Vec<Problem>) {
	let problem = |p: String, m: String| Problem {
		file: path.to_path_buf(),
		path: p,
		message: m,
	};
	let text = match stagenet_config::files::read_text_bounded(
		path,
		"profile",
		stagenet_config::files::MAX_CONFIG_BYTES,
	) {
		Ok(t) => t,
		Err(e) => {
			return (
				None,
				Vec::new(),
				vec![problem(String::new(), e.to_string())],
			)
		}
	};
	let de = serde_yaml::Deserializer::from_str(&text);
	let mut unknown = Vec::new();
	let mut on_unknown = |p: serde_ignored::Path<'_>| {
		unknown.push(problem(
			p.to_string(),
			"unknown key (ignored; hint: check its spelling against the profile reference in \
			 the README)"
				.into(),
		))
	};
	let ignored = serde_ignored::Deserializer::new(de, &mut on_unknown);
	let parsed: Result<ProfileFile, _> = serde_path_to_error::deserialize(ignored);
	let file = match parsed {
		Ok(f) => f,
		Err(first) => {
			// Report every problem, not only the first: read the document as a tree and
			// take the bad entries out one by one.
			let first_path = first.path().to_string();
			let first_path = if first_path == "." {
				String::new()
			} else {
				first_path
			};
			let first_msg = first.into_inner().to_string();
			// serde_yaml names the path itself; the problem names it already.
			let first_msg = first_msg
				.strip_prefix(&format!("{first_path}: "))
				.map(str::to_string)
				.unwrap_or(first_msg);
			let all = match serde_yaml::from_str::<Yaml>(&text) {
				Ok(doc) => deserialize_all(doc),
				Err(_) => (None, Vec::new()),
			};
			let (file, mut found) = all;
			match found.iter_mut().find(|(p, _)| *p == first_path) {
				// The streaming parser's message says the line and column.
				Some(same) => same.1 = first_msg.clone(),
				None => found.insert(0, (first_path, first_msg)),
			}
			let problems = found
				.into_iter()
				.map(|(p, m)| {
					let m = if m.contains("did not match any variant of untagged enum")
						&& !m.contains("hint:")
					{
						format!(
							"{m} (hint: write an item as `Pallet.Item` or as a map with `item:` \
							 and its keys or paths)"
						)
					} else {
						m
					};
					problem(p, m)
				})
				.collect();
			return (file, Vec::new(), problems);
		}
	};
	let version_problem = match file.version {
		Some(PROFILE_VERSION) => None,
		Some(v) => Some(problem(
			"version".into(),
			format!(
				"profile version {v} is not supported: this stagenet reads version \
				 {PROFILE_VERSION} (hint: upgrade stagenet, or rewrite the profile for version \
				 {PROFILE_VERSION})"
			),
		)),
		None => Some(problem(
			"version".into(),
			format!("missing (hint: start the profile with `version: {PROFILE_VERSION}`)"),
		)),
	};
	match version_problem {
		// A profile of another version is not read further.
		Some(p) => (None, unknown, vec![p]),
		None => (Some(file), unknown, Vec::new()),
	}
}

/// Reads a profile and the profiles it extends; every problem of every file at once.
pub fn load(path: &Path) -> Result<Profile, Vec<Problem>> {
	let mut chain: Vec<(PathBuf, ProfileFile)> = Vec::new();
	let mut unknown = Vec::new();
	let mut problems = Vec::new();
	let mut next = Some((path.to_path_buf(), None::<PathBuf>));
	while let Some((p, child)) = next.take() {
		let canon = p.canonicalize().unwrap_or_else(|_| p.clone());
		if chain
			.iter()
			.any(|(q, _)| q.canonicalize().ok().as_ref() == Some(&canon))
		{
			problems.push(Problem {
				file: p.clone(),
				path: "extends".into(),
				message: "profiles extend each other in a cycle (hint: remove one `extends`)"
					.into(),
			});
			break;
		}
		let (file, mut u, mut found) = parse_file(&p);
		// A parent that cannot be read is a problem of the `extends` that names it.
		if let (Some(child), true) = (&child, file.is_none() && found.len() == 1) {
			if found[0].path.is_empty() {
				let f = found.remove(0);
				problems.push(Problem {
					file: child.clone(),
					path: "extends".into(),
					message: f.message,
				});
			}
		}
		problems.append(&mut found);
		unknown.append(&mut u);
		let Some(file) = file else {
			break;
		};
		if let Some(parent) = &file.extends {
			let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
			next = Some((base.join(parent), Some(p.clone())));
		}
		chain.push((p, file));
	}
	if !problems.is_empty() {
		return Err(problems);
	}
	// Merge from the root ancestor down.
	let mut m = Profile {
		unknown,
		..Default::default()
	};
	fn sourced<T: Clone>(file: &Path, section: &str, list: &[T]) -> Vec<Sourced<T>> {
		list.iter()
			.enumerate()
			.map(|(i, e)| Sourced {
				file: file.to_path_buf(),
				path: format!("{section}[{i}]"),
				entry: e.clone(),
			})
			.collect()
	}
	for (p, f) in chain.iter().rev() {
		let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
		if let Some(c) = &f.chain {
			let d = &mut m.chain;
			d.name = c.name.clone().or(d.name.take());
			d.id = c.id.clone().or(d.id.take());
			d.protocol_id = c.protocol_id.clone().or(d.protocol_id.take());
			d.chain_type = c.chain_type.or(d.chain_type);
			d.properties = c.properties.clone().or(d.properties.take());
		}
		if let Some(a) = &f.authorities {
			let d = &mut m.authorities;
			d.validators = a.validators.or(d.validators);
			d.uris = a.uris.clone().or(d.uris.take());
			d.aura = a.aura.clone().or(d.aura.take());
			d.grandpa = a.grandpa.clone().or(d.grandpa.take());
			d.grandpa_set_id = a.grandpa_set_id.clone().or(d.grandpa_set_id.take());
		}
		if let Some(s) = &f.sudo {
			m.sudo = Some(Sourced {
				file: p.clone(),
				path: "sudo".into(),
				entry: s.clone(),
			});
		}
		if let Some(fund) = &f.fund {
			let d = &mut m.fund;
			d.account_item = fund.account_item.clone().or(d.account_item.take());
			d.free = fund.free.clone().or(d.free.take());
			d.providers = fund.providers.clone().or(d.providers.take());
			for s in sourced(p, "fund.issuance", &fund.issuance) {
				if !m.issuance.iter().any(|x| x.entry == s.entry) {
					m.issuance.push(s);
				}
			}
			m.accounts
				.extend(sourced(p, "fund.accounts", &fund.accounts));
		}
		m.set.extend(sourced(p, "set", &f.set));
		m.delete.extend(sourced(p, "delete", &f.delete));
		m.delete_prefix
			.extend(sourced(p, "delete-prefix", &f.delete_prefix));
		if let Some(r) = &f.rebase_block_numbers {
			if let Some(w) = r.warmup {
				m.warmup = Some(Sourced {
					file: p.clone(),
					path: "rebase-block-numbers.warmup".into(),
					entry: w,
				});
			}
			m.period = r.period.or(m.period);
			m.rebase
				.extend(sourced(p, "rebase-block-numbers.items", &r.items));
		}
		if let Some(c) = &f.code {
			m.code = Some(dir.join(c));
		}
	}
	m.files = chain.into_iter().map(|(p, _)| p).collect();
	Ok(m)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
		let p = dir.join(name);
		std::fs::write(&p, text).expect("write profile");
		p
	}

	#[test]
	fn a_counted_fund_entry_expands_to_every_templated_account() {
		let dir = tempfile::tempdir().expect("tempdir");
		let parent = write(
			dir.path(),
			"parent.yaml",
			"version: 1\nfund:\n  accounts:\n    - { account: //Alice, amount: 5 }\n",
		);
		let child = write(
			dir.path(),
			"child.yaml",
			&format!(
				"version: 1\nextends: {}\nfund:\n  accounts:\n    - {{ account: \"//stress//{{i}}\", \
				 count: 4, first: 10, amount: \"1_000\" }}\n    - {{ account: \"//load//{{i}}\", \
				 count: 2, amount: 7 }}\n",
				parent.display()
			),
		);
		let profile = load(&child).expect("profile");
		assert!(profile.unknown.is_empty(), "{:?}", profile.unknown);
		assert_eq!(profile.accounts.len(), 3);
		let alice = &profile.accounts[0];
		assert_eq!(
			(alice.entry.count, alice.path.as_str()),
			(None, "fund.accounts[0]")
		);
		assert_eq!(
			alice.entry.expand().expect("alice"),
			[super::super::keys::sr25519_public("//Alice").expect("alice")]
		);
		let stress = &profile.accounts[1].entry;
		assert_eq!((stress.count, stress.first), (Some(4), Some(10)));
		assert_eq!(stress.label(), "//stress//{10..13}");
		assert_eq!(stress.uri_of(3), "//stress//13");
		let publics = stress.expand().expect("templated");
		assert_eq!(publics.len(), 4);
		for (n, public) in publics.iter().enumerate() {
			let uri = stress.uri_of(n as u32);
			assert_eq!(
				*public,
				super::super::keys::sr25519_public(&uri).expect("uri"),
				"{uri}"
			);
		}
		let load_entry = &profile.accounts[2].entry;
		assert_eq!(load_entry.label(), "//load//{0..1}");
		assert_eq!(load_entry.expand().expect("first defaults to 0").len(), 2);
	}

	#[test]
	fn a_counted_fund_entry_needs_its_index_and_a_count() {
		let entry = |account: &str, count: Option<u32>, first: Option<u32>| FundAccount {
			account: account.into(),
			amount: Yaml::from(1),
			count,
			first,
		};
		for (e, field, wanted) in [
			(entry("//stress", Some(3), None), "account", "has no `{i}`"),
			(entry("//stress//{i}", None, None), "account", "no `count`"),
			(entry("//stress//{i}", Some(0), None), "count", "at least 1"),
			(
				entry("//stress", None, Some(2)),
				"first",
				"goes with `count`",
			),
			(
				entry("//stress//{i}", Some(2), Some(u32::MAX)),
				"first",
				"last index",
			),
			(entry("5Grw{i}", Some(2), None), "account", "cannot derive"),
		] {
			let (at, message) = e.expand().expect_err("refused");
			assert_eq!(at, field, "{message}");
			assert!(message.contains(wanted), "{message}");
			assert!(message.contains("hint"), "{message}");
		}
		let dir = tempfile::tempdir().expect("tempdir");
		let bad = write(
			dir.path(),
			"bad.yaml",
			"version: 1\nfund:\n  accounts:\n    - { account: \"//s//{i}\", cout: 3, amount: 1 }\n",
		);
		let problems = load(&bad).expect_err("unknown field");
		assert!(
			problems[0].message.contains("cout") && problems[0].path.contains("fund.accounts"),
			"{problems:?}"
		);
	}
}
