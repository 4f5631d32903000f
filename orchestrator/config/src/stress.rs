//! Load profiles: what `stagenet stress` sends, how fast, for how long.
//!
//! ```yaml
//! version: 1
//! name: transfer-flood
//! description: Balances transfers between funded dev accounts, open loop.
//! spec-name: stagenet-test            # optional: refused on another runtime
//! spec-versions: "100..=101"          # optional: refused on other runtime versions
//! accounts: { uri: "//stress//{i}", count: 4096 }   # funded by the fork profile
//! setup:                              # optional, before the load, not measured
//!   - { call: Subnets.sudo_set_weights_set_rate_limit, args: { netuid: 1, limit: 0 }, sudo: true }
//!   - { call: Subnets.burned_register, args: { netuid: 1, hotkey: "{signer}" }, each-account: true }
//! mix:
//!   - call: Balances.transfer_keep_alive
//!     weight: 1                       # relative share of the mix (default 1)
//!     args: { dest: { Id: "{peer}" }, value: 1_000_000 }
//!   - rpc: state_getStorage           # a read (not signed, not a transaction)
//!     params: ["0x…"]
//! rate: 2000                          # tx/s, open loop; or
//! # rate: { ramp: { from: 100, to: 3000, over: 60s } }
//! # rate: { steps: [ { rate: 500, for: 20s }, { rate: 1000, for: 20s } ] }
//! duration: 30s
//! bounds:
//!   max-transactions: 200000          # the generator stops at this count
//!   max-in-flight: 20000              # submitted and not yet answered by the pool
//!   drain: 20s                        # after the load, wait this long for inclusions
//! connections: 4                      # RPC connections the generator submits over
//! ```
//!
//! Strings in `args` may hold placeholders, replaced per transaction: `{signer}` (the
//! signing account, `0x`-hex), `{peer}` (the next account of the set), `{seq}` (the
//! transaction's number), `{rand:A..B}` (an integer in `A..B`), `{uid}` (the signer's index in
//! the account set). A string that is only a placeholder becomes that value's type.
//!
//! Rules the parser checks, reporting every problem at once with its field path:
//! - `version: 1` is required; a newer version is refused with a hint.
//! - `name` defaults to the file stem.
//! - `accounts.uri` is a secret URI (a junction such as `//stress//{i}`, or a phrase followed
//!   by junctions) and holds `{i}` when `count` > 1; `count` ≥ 1 (default 1), `first` default
//!   0; `accounts: //Bob` is one account. A profile that sends no call (only `rpc` entries and
//!   sudo setup calls) may leave `accounts` out: `//Alice` then stands in.
//! - `call` is `Pallet.call`; every mix entry has exactly one of `call` (with `args`, a
//!   mapping) and `rpc` (with `params`, a list); `weight` ≥ 1 (default 1); the mix is not
//!   empty.
//! - Setup calls take `sudo` (default false) or `each-account` (default false), not both;
//!   `optional: true` skips a setup call the runtime does not have (a setting that older or
//!   newer runtimes lack) instead of refusing the load.
//! - `spec-versions` is `A..=B`, `A..B`, `A..` or one version `A`.
//! - `rate` is a number above 0, a ramp (`from` ≥ 0, `to` > 0, `over` > 0) or a non-empty list
//!   of steps (each `rate` ≥ 0 and `for` > 0, not all of them 0).
//! - `duration` > 0 is required; `bounds` default to no `max-transactions`, `max-in-flight`
//!   20 000 and `drain` 20 s; `connections` is 1 to 64 (default 4).
//! - Unknown keys are warnings (problems with `strict`), with the closest known key;
//!   snake_case spellings (`spec_name`, `each_account`, `max_in_flight`) are accepted.

use crate::exit::{Exit, ExitStatus};
use crate::parse::{render, Problem};
use serde::Serialize;
use serde_yaml::Value;
use std::{
	collections::BTreeMap,
	path::{Path, PathBuf},
	time::Duration,
};

/// The load profile format version this build reads.
pub const STRESS_PROFILE_VERSION: u32 = 1;

/// A validated load profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StressProfile {
	/// The file it was read from.
	pub file: PathBuf,
	/// Its name (default: the file stem).
	pub name: String,
	/// What it models.
	pub description: Option<String>,
	/// The runtime's `spec_name` it is written for, if it says.
	pub spec_name: Option<String>,
	/// The runtime versions it fits (`spec-versions`), if it says: refused on others.
	pub spec_versions: Option<SpecVersions>,
	/// Accounts that sign.
	pub accounts: Accounts,
	/// Calls before the load (not measured).
	pub setup: Vec<SetupCall>,
	/// What the load sends, with relative weights.
	pub mix: Vec<MixEntry>,
	/// Target rate over time.
	pub rate: Rate,
	/// How long the load lasts.
	pub duration: Duration,
	/// Bounds of the generator.
	pub bounds: Bounds,
	/// RPC connections to submit over.
	pub connections: u32,
}

/// The signing accounts: `uri` with `{i}` replaced by `first`, `first + 1`, … (`count` of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accounts {
	/// Secret URI template, `{i}` the index (`//stress//{i}`).
	pub uri: String,
	/// How many.
	pub count: u32,
	/// First index.
	pub first: u32,
}

impl Accounts {
	/// The secret URI of account `n` (0-based within the set).
	pub fn uri_of(&self, n: u32) -> String {
		self.uri
			.replace("{i}", &(self.first.saturating_add(n)).to_string())
	}
}

/// A call: pallet, call and arguments by field name (YAML, encoded through the chain's
/// metadata; placeholders allowed in strings).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallSpec {
	/// Pallet name (`Balances`, `SubtensorModule`).
	pub pallet: String,
	/// Call name (`transfer_keep_alive`).
	pub call: String,
	/// Arguments by field name.
	pub args: BTreeMap<String, Value>,
}

impl CallSpec {
	/// `Pallet.call`.
	pub fn name(&self) -> String {
		format!("{}.{}", self.pallet, self.call)
	}
}

/// One call made before the load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetupCall {
	/// The call.
	pub call: CallSpec,
	/// Dispatched as root through `Sudo::sudo` (signed by the sudo key), once.
	pub sudo: bool,
	/// Sent once by every account of the set (else once, by the first account).
	pub each_account: bool,
	/// Skipped when the runtime has no such call (a setting older or newer runtimes do not
	/// have); otherwise a missing call refuses the whole load.
	pub optional: bool,
}

/// The runtime versions a load profile fits: `min..=max` (no `max`: every later one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SpecVersions {
	/// The first version it fits.
	pub min: u32,
	/// The last version it fits (`None`: no upper bound).
	pub max: Option<u32>,
}

impl SpecVersions {
	/// Whether `version` is in the range.
	pub fn contains(&self, version: u32) -> bool {
		version >= self.min && self.max.is_none_or(|m| version <= m)
	}
}

impl std::fmt::Display for SpecVersions {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self.max {
			Some(m) if m == self.min => write!(f, "{m}"),
			Some(m) => write!(f, "{}..={m}", self.min),
			None => write!(f, "{}..", self.min),
		}
	}
}

/// What one entry of the mix does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Action {
	/// A signed transaction.
	Call(CallSpec),
	/// A JSON-RPC read.
	Rpc {
		/// Method (`state_getStorage`, `state_call`).
		method: String,
		/// Parameters (YAML, sent as JSON; placeholders allowed in strings).
		params: Vec<Value>,
	},
}

/// One entry of the mix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixEntry {
	/// Relative share (≥ 1).
	pub weight: u32,
	/// What it sends.
	pub action: Action,
}

/// The target rate over time (transactions and reads per second together).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Rate {
	/// A constant rate.
	Constant(f64),
	/// Linear from `from` to `to` over `over`, then `to`.
	Ramp {
		/// Start rate.
		from: f64,
		/// End rate.
		to: f64,
		/// Ramp length.
		over: Duration,
	},
	/// Step by step; the last rate holds until the end.
	Steps(Vec<(f64, Duration)>),
}

impl Rate {
	/// The target rate `t` into the load.
	pub fn at(&self, t: Duration) -> f64 {
		match self {
			Rate::Constant(r) => *r,
			Rate::Ramp { from, to, over } => {
				let o = over.as_secs_f64();
				if o <= 0.0 || t.as_secs_f64() >= o {
					*to
				} else {
					from + (to - from) * t.as_secs_f64() / o
				}
			}
			Rate::Steps(steps) => {
				let mut start = Duration::ZERO;
				for (rate, len) in steps {
					start += *len;
					if t < start {
						return *rate;
					}
				}
				steps.last().map(|s| s.0).unwrap_or(0.0)
			}
		}
	}

	/// How many sends the rate asks for in the first `d` (the integral).
	pub fn expected(&self, d: Duration) -> f64 {
		// Integrated in 10 ms slices: exact for constant and step rates up to a slice, close
		// enough for ramps.
		let slice = Duration::from_millis(10);
		let mut t = Duration::ZERO;
		let mut total = 0.0;
		while t < d {
			let dt = slice.min(d - t);
			total += self.at(t) * dt.as_secs_f64();
			t += dt;
		}
		total
	}

	/// The highest target rate the load reaches (sizing: connections, in-flight bound).
	pub fn peak(&self) -> f64 {
		match self {
			Rate::Constant(r) => *r,
			Rate::Ramp { from, to, .. } => from.max(*to),
			Rate::Steps(steps) => steps.iter().map(|s| s.0).fold(0.0, f64::max),
		}
	}

	/// `2500 tx/s`, `ramp 100 → 3000 tx/s over 60s`, `steps 500 for 20s, 1000 for 20s tx/s`.
	pub fn label(&self) -> String {
		match self {
			Rate::Constant(r) => format!("{r} tx/s"),
			Rate::Ramp { from, to, over } => {
				format!(
					"ramp {from} → {to} tx/s over {}",
					humantime::format_duration(*over)
				)
			}
			Rate::Steps(steps) => format!(
				"steps {} tx/s",
				steps
					.iter()
					.map(|(r, d)| format!("{r} for {}", humantime::format_duration(*d)))
					.collect::<Vec<_>>()
					.join(", ")
			),
		}
	}
}

/// Bounds of the generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bounds {
	/// The generator stops after this many sends (default: what rate × duration asks for).
	pub max_transactions: Option<u64>,
	/// Sends awaiting the pool's answer at most (default 20 000).
	pub max_in_flight: u64,
	/// After the load, wait this long for the last inclusions (default 20 s).
	pub drain: Duration,
}

/// A load profile that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StressProfileError {
	/// The file cannot be read.
	#[error("{source}")]
	Read {
		/// The file.
		file: PathBuf,
		/// The cause: unreadable, not a regular file, or too large.
		#[source]
		source: crate::files::ReadError,
	},
	/// The file has problems; all of them are listed.
	#[error("load profile `{file}` has {} problem(s):\n{}", problems.len(), render(problems))]
	Invalid {
		/// The file.
		file: PathBuf,
		/// Every problem found.
		problems: Vec<Problem>,
	},
}

/// A file that cannot be read or has problems is bad input.
impl ExitStatus for StressProfileError {
	fn exit(&self) -> Exit {
		match self {
			StressProfileError::Read { source, .. } => source.exit(),
			StressProfileError::Invalid { .. } => Exit::BadInput,
		}
	}
}

impl StressProfile {
	/// Reads, parses and validates a load profile. Unknown keys are returned as warnings
	/// (`strict` turns them into problems). Every problem is reported at once.
	pub fn load(
		file: &Path,
		strict: bool,
	) -> Result<(StressProfile, Vec<Problem>), StressProfileError> {
		let text = crate::files::read_text_bounded(file, "load profile", crate::files::MAX_CONFIG_BYTES).map_err(|source| StressProfileError::Read {
			file: file.to_path_buf(),
			source,
		})?;
		Self::parse(file, &text, strict)
	}

	/// Parses and validates YAML text; `file` names it.
	pub fn parse(
		file: &Path,
		text: &str,
		strict: bool,
	) -> Result<(StressProfile, Vec<Problem>), StressProfileError> {
		parse::parse(file, text, strict)
	}

	/// The `Pallet.call`s of the mix, in order.
	pub fn calls(&self) -> impl Iterator<Item = &CallSpec> {
		self.mix.iter().filter_map(|m| match &m.action {
			Action::Call(c) => Some(c),
			Action::Rpc { .. } => None,
		})
	}
}

mod parse;

#[cfg(test)]
mod tests;
