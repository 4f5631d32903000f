//! Parsing and validation of load profiles: every problem at once, each with its field path;
//! unknown keys recorded with the closest known key.

use super::{
	Accounts, Action, Bounds, CallSpec, MixEntry, Rate, SetupCall, SpecVersions, StressProfile,
	StressProfileError, STRESS_PROFILE_VERSION,
};
use crate::parse::{show, Parser, Problem};
use serde::Deserialize;
use serde_yaml::Value;
use std::{collections::BTreeMap, path::Path, time::Duration};

/// `bounds.max-in-flight` when the profile does not say.
pub(super) const DEFAULT_MAX_IN_FLIGHT: u64 = 20_000;
/// `bounds.drain` when the profile does not say.
pub(super) const DEFAULT_DRAIN: Duration = Duration::from_secs(20);
/// `connections` when the profile does not say.
pub(super) const DEFAULT_CONNECTIONS: u32 = 4;
/// The most RPC connections a profile may ask for.
pub(super) const MAX_CONNECTIONS: u32 = 64;
/// The signer when a profile sends no call and names no `accounts`.
pub(super) const DEFAULT_ACCOUNT_URI: &str = "//Alice";

const TOP_KEYS: &[&str] = &[
	"version",
	"name",
	"description",
	"spec-name",
	"spec-versions",
	"accounts",
	"setup",
	"mix",
	"rate",
	"duration",
	"bounds",
	"connections",
];
const ACCOUNT_KEYS: &[&str] = &["uri", "count", "first"];
const SETUP_KEYS: &[&str] = &["call", "args", "sudo", "each-account", "optional"];
const MIX_KEYS: &[&str] = &["call", "rpc", "weight", "args", "params"];
const RATE_KEYS: &[&str] = &["ramp", "steps"];
const RAMP_KEYS: &[&str] = &["from", "to", "over"];
const STEP_KEYS: &[&str] = &["rate", "for"];
const BOUND_KEYS: &[&str] = &["max-transactions", "max-in-flight", "drain"];

/// The placeholders strings in `args` and `params` may hold, for messages.
const PLACEHOLDERS: &str = "`{signer}`, `{peer}`, `{seq}`, `{uid}`, `{rand:A..B}`";

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping of load profile keys"
)]
struct RawProfile {
	version: Option<Value>,
	name: Option<Value>,
	description: Option<Value>,
	#[serde(alias = "spec_name")]
	spec_name: Option<Value>,
	#[serde(alias = "spec_versions")]
	spec_versions: Option<Value>,
	accounts: Option<Value>,
	setup: Option<Value>,
	mix: Option<Value>,
	rate: Option<Value>,
	duration: Option<Value>,
	bounds: Option<Value>,
	connections: Option<Value>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `uri`, `count`, `first`"
)]
struct RawAccounts {
	uri: Option<Value>,
	count: Option<Value>,
	first: Option<Value>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `call`, `args`, `sudo`, `each-account`, `optional`"
)]
struct RawSetup {
	call: Option<Value>,
	args: Option<Value>,
	sudo: Option<Value>,
	#[serde(alias = "each_account")]
	each_account: Option<Value>,
	optional: Option<Value>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `call` and `args`, or `rpc` and `params`, and a `weight`"
)]
struct RawMix {
	call: Option<Value>,
	rpc: Option<Value>,
	weight: Option<Value>,
	args: Option<Value>,
	params: Option<Value>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `ramp` or `steps`"
)]
struct RawRate {
	ramp: Option<Value>,
	steps: Option<Value>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `from`, `to`, `over`"
)]
struct RawRamp {
	from: Option<Value>,
	to: Option<Value>,
	over: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", expecting = "a mapping with `rate`, `for`")]
struct RawStep {
	rate: Option<Value>,
	#[serde(rename = "for")]
	length: Option<Value>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `max-transactions`, `max-in-flight`, `drain`"
)]
struct RawBounds {
	#[serde(alias = "max_transactions")]
	max_transactions: Option<Value>,
	#[serde(alias = "max_in_flight")]
	max_in_flight: Option<Value>,
	drain: Option<Value>,
}

pub(super) fn parse(
	file: &Path,
	text: &str,
	strict: bool,
) -> Result<(StressProfile, Vec<Problem>), StressProfileError> {
	let mut parser = Parser::new(file);
	let profile = read(&mut parser, file, text);
	let warnings: Vec<Problem> = parser
		.unknown
		.iter()
		.map(|u| u.to_problem(strict))
		.collect();
	let mut problems = std::mem::take(&mut parser.problems);
	match profile {
		Some(p) if problems.is_empty() && (!strict || warnings.is_empty()) => Ok((p, warnings)),
		_ => {
			// Unknown keys are listed with the problems even when they are only warnings: a
			// misspelt key often explains a missing one.
			problems.extend(warnings);
			if problems.is_empty() {
				problems.push(Problem {
					path: String::new(),
					message: "the load profile could not be read, and no reason was recorded \
					          (hint: this is a bug of stagenet; please report it with the file)"
						.into(),
				});
			}
			Err(StressProfileError::Invalid {
				file: file.to_path_buf(),
				problems,
			})
		}
	}
}

fn read(p: &mut Parser, file: &Path, text: &str) -> Option<StressProfile> {
	let mut document: Value = match serde_yaml::from_str(text) {
		Ok(d) => d,
		Err(error) => {
			let message = match error.location() {
				Some(at) => format!(
					"malformed YAML at line {}, column {}: {error} (hint: {})",
					at.line(),
					at.column(),
					if error.to_string().contains("duplicate entry") {
						"write each key once per mapping"
					} else {
						"check the indentation and quoting there"
					}
				),
				None => format!("malformed YAML: {error}"),
			};
			p.problem("", message);
			return None;
		}
	};
	if let Err(error) = document.apply_merge() {
		p.problem(
			"",
			format!("cannot apply the YAML merge keys (`<<`): {error}"),
		);
		return None;
	}
	if !document.is_mapping() {
		p.problem(
			"",
			format!(
				"expected a mapping of load profile keys (`version`, `accounts`, `mix`, `rate`, \
				 `duration`, …), found {} (hint: start the file with `version: \
				 {STRESS_PROFILE_VERSION}`)",
				match &document {
					Value::Null => "an empty file".to_string(),
					other => show(other),
				}
			),
		);
		return None;
	}
	let raw: RawProfile = p.take("", document, TOP_KEYS)?;
	version(p, raw.version);
	let name = match raw.name {
		Some(v) => text_field(p, "name", v),
		None => Some(
			file.file_stem()
				.map(|s| s.to_string_lossy().into_owned())
				.unwrap_or_else(|| "load".into()),
		),
	};
	let description = raw
		.description
		.and_then(|v| p.take::<String>("description", v, &[]));
	let spec_name = raw.spec_name.and_then(|v| text_field(p, "spec-name", v));
	let spec_versions = match raw.spec_versions {
		None | Some(Value::Null) => Some(None),
		Some(v) => spec_versions(p, v).map(Some),
	};
	// Whether something is signed by the account set (not only by the sudo key), even where
	// the entry itself has problems: then `accounts` is required.
	let mut signs = false;
	let setup = setup(p, raw.setup, &mut signs);
	let mix = mix(p, raw.mix, &mut signs);
	let accounts = accounts(p, raw.accounts, signs);
	let rate = rate(p, raw.rate);
	let duration = match raw.duration {
		None => {
			p.problem(
				"duration",
				"missing (hint: how long the load lasts, like `duration: 30s` or `5m`)",
			);
			None
		}
		Some(v) => match duration(p, "duration", v) {
			Some(d) if d.is_zero() => {
				p.problem("duration", "must be longer than 0s (hint: `duration: 30s`)");
				None
			}
			other => other,
		},
	};
	let bounds = bounds(p, raw.bounds);
	let connections = connections(p, raw.connections);
	if !p.problems.is_empty() {
		return None;
	}
	Some(StressProfile {
		file: file.to_path_buf(),
		name: name?,
		description,
		spec_name,
		spec_versions: spec_versions?,
		accounts: accounts?,
		setup: setup?,
		mix: mix?,
		rate: rate?,
		duration: duration?,
		bounds: bounds?,
		connections: connections?,
	})
}

fn version(p: &mut Parser, value: Option<Value>) {
	match value {
		None => p.problem(
			"version",
			format!("missing (hint: start the file with `version: {STRESS_PROFILE_VERSION}`)"),
		),
		Some(v) if v.as_u64() == Some(u64::from(STRESS_PROFILE_VERSION)) => {}
		Some(v) => {
			let newer = v
				.as_u64()
				.is_some_and(|n| n > u64::from(STRESS_PROFILE_VERSION));
			let hint = if newer {
				format!(
					"the file was written for a newer stagenet: upgrade stagenet, or rewrite the \
					 file for version {STRESS_PROFILE_VERSION}"
				)
			} else {
				format!("write `version: {STRESS_PROFILE_VERSION}`")
			};
			p.problem(
				"version",
				format!(
					"load profile version `{}` is not supported: this build reads version \
					 {STRESS_PROFILE_VERSION} (hint: {hint})",
					show(&v)
				),
			);
		}
	}
}

/// A non-empty string at `path`.
fn text_field(p: &mut Parser, path: &str, value: Value) -> Option<String> {
	let text: String = p.take(path, value, &[])?;
	if text.trim().is_empty() {
		p.problem(path, "is empty (hint: leave the key out instead)");
		return None;
	}
	Some(text)
}

/// A duration written like `30s`, `1m30s`, `500ms`.
fn duration(p: &mut Parser, path: &str, value: Value) -> Option<Duration> {
	match value {
		Value::String(t) => match humantime::parse_duration(t.trim()) {
			Ok(d) => Some(d),
			Err(e) => {
				p.problem(
					path,
					format!("`{t}` is not a duration: {e} (hint: `30s`, `5m`, `1m30s`)"),
				);
				None
			}
		},
		Value::Number(n) => {
			p.problem(
				path,
				format!("`{n}` has no unit (hint: write `{n}s` for seconds)"),
			);
			None
		}
		other => {
			p.problem(
				path,
				format!("expected a duration such as `30s`, found {}", show(&other)),
			);
			None
		}
	}
}

/// A finite number at `path`, at least `min` (or above it when `strictly`).
fn number(p: &mut Parser, path: &str, value: Value, min: f64, strictly: bool) -> Option<f64> {
	let n = match &value {
		Value::Number(n) => n.as_f64(),
		_ => None,
	};
	let bound = if strictly {
		format!("above {min}")
	} else {
		format!("at least {min}")
	};
	match n {
		Some(n) if n.is_finite() && (n > min || (!strictly && n == min)) => Some(n),
		Some(n) => {
			p.problem(
				path,
				format!("`{n}` is out of range: it must be {bound} (tx/s)"),
			);
			None
		}
		None => {
			p.problem(
				path,
				format!(
					"expected a number of transactions per second such as `1000`, found {}",
					show(&value)
				),
			);
			None
		}
	}
}

/// A boolean at `path` (default `false`).
fn flag(p: &mut Parser, path: &str, value: Option<Value>) -> Option<bool> {
	match value {
		None | Some(Value::Null) => Some(false),
		Some(v) => p.take(path, v, &[]),
	}
}

fn accounts(p: &mut Parser, value: Option<Value>, needed: bool) -> Option<Accounts> {
	let Some(value) = value else {
		if needed {
			p.problem(
				"accounts",
				"missing: the profile sends calls, and accounts sign them (hint: `accounts: { \
				 uri: \"//stress//{i}\", count: 1024 }`, funded by the fork profile)",
			);
			return None;
		}
		return Some(Accounts {
			uri: DEFAULT_ACCOUNT_URI.into(),
			count: 1,
			first: 0,
		});
	};
	let raw: RawAccounts = match value {
		// `accounts: //Alice`: one account.
		Value::String(uri) => RawAccounts {
			uri: Some(Value::String(uri)),
			count: None,
			first: None,
		},
		other => p.take("accounts", other, ACCOUNT_KEYS)?,
	};
	let count = match raw.count {
		None => Some(1),
		Some(v) => match p.take::<u32>("accounts.count", v, &[]) {
			Some(0) => {
				p.problem(
					"accounts.count",
					"must be at least 1 (hint: the number of accounts that sign)",
				);
				None
			}
			other => other,
		},
	};
	let first = match raw.first {
		None => Some(0),
		Some(v) => p.take::<u32>("accounts.first", v, &[]),
	};
	if let (Some(first), Some(count)) = (first, count) {
		if first.checked_add(count - 1).is_none() {
			p.problem(
				"accounts",
				format!(
					"`first` {first} + `count` {count} passes the last index {} (hint: lower \
					 `first` or `count`)",
					u32::MAX
				),
			);
		}
	}
	let uri = match raw.uri {
		None => {
			p.problem(
				"accounts.uri",
				"missing (hint: a secret URI with `{i}` for the index, like `//stress//{i}`)",
			);
			None
		}
		Some(v) => p.take::<String>("accounts.uri", v, &[]),
	}?;
	let mut ok = true;
	let others: Vec<String> = braces(&uri)
		.into_iter()
		.filter_map(|b| match b {
			Brace::Closed(inner) if inner == "i" => None,
			Brace::Closed(inner) => Some(format!("`{{{inner}}}`")),
			Brace::Open => Some("an unclosed `{`".into()),
		})
		.collect();
	if !others.is_empty() {
		ok = false;
		p.problem(
			"accounts.uri",
			format!(
				"`{uri}` holds {}: only `{{i}}` (the account's index) is replaced here (hint: \
				 `//stress//{{i}}`)",
				others.join(", ")
			),
		);
	}
	if let Some(reason) = not_a_secret_uri(&uri) {
		ok = false;
		p.problem("accounts.uri", reason);
	} else if count.is_some_and(|c| c > 1) && !uri.contains("{i}") {
		ok = false;
		p.problem(
			"accounts.uri",
			format!(
				"`{uri}` has no `{{i}}`: all {} accounts would be the same one (hint: \
				 `{}//{{i}}`)",
				count.unwrap_or_default(),
				uri.trim_end_matches('/')
			),
		);
	}
	if !ok {
		return None;
	}
	Some(Accounts {
		uri,
		count: count?,
		first: first?,
	})
}

/// Why `uri` (a template) cannot be a secret URI that signs, if it cannot: it must start
/// with a junction (`//stress//{i}`, derived from the dev phrase) or with a phrase (12 words or
/// more) or a `0x` seed.
fn not_a_secret_uri(uri: &str) -> Option<String> {
	let body = uri.replace("{i}", "0");
	let body = body.trim();
	let split = body.find('/').unwrap_or(body.len());
	let (phrase, junctions) = (body[..split].trim(), &body[split..]);
	if phrase.is_empty() {
		if junctions.trim_matches('/').is_empty() {
			return Some(format!(
				"`{uri}` has no junction after `//` (hint: `//stress//{{i}}`)"
			));
		}
		return None;
	}
	let seed = phrase
		.strip_prefix("0x")
		.is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
	if seed || phrase.split_whitespace().count() >= 12 {
		return None;
	}
	Some(format!(
		"`{uri}` is not a secret URI: an address or a name cannot sign (hint: a dev \
		 derivation like `//stress//{{i}}`, or a phrase followed by junctions, `<12 or 24 \
		 words>//stress//{{i}}`)"
	))
}

/// A `{…}` of a string.
enum Brace {
	/// `{inner}`.
	Closed(String),
	/// A `{` with no `}` after it.
	Open,
}

/// Every `{…}` of `text`, in order.
fn braces(text: &str) -> Vec<Brace> {
	let mut out = Vec::new();
	let mut rest = text;
	while let Some(start) = rest.find('{') {
		let after = &rest[start + 1..];
		match after.find('}') {
			Some(end) => {
				out.push(Brace::Closed(after[..end].to_string()));
				rest = &after[end + 1..];
			}
			None => {
				out.push(Brace::Open);
				break;
			}
		}
	}
	out
}

/// What is wrong with placeholder `{inner}`, if anything.
fn placeholder_problem(inner: &str) -> Option<String> {
	match inner {
		"signer" | "peer" | "seq" | "uid" => return None,
		"i" => {
			return Some(
				"`{i}` is only replaced in `accounts.uri` (hint: the signer's index in the \
				 account set is `{uid}`)"
					.into(),
			)
		}
		_ => {}
	}
	let Some(range) = inner.strip_prefix("rand:") else {
		return Some(format!(
			"unknown placeholder `{{{inner}}}` (hint: the placeholders are {PLACEHOLDERS})"
		));
	};
	let bounds = range
		.split_once("..")
		.map(|(a, b)| (a.trim().parse::<u128>(), b.trim().parse::<u128>()));
	match bounds {
		Some((Ok(a), Ok(b))) if a < b => None,
		Some((Ok(a), Ok(b))) => Some(format!(
			"`{{{inner}}}` is an empty range: {a} is not below {b} (hint: `{{rand:{b}..{a}}}`, \
			 the end excluded)"
		)),
		_ => Some(format!(
			"`{{{inner}}}` is not a range of whole numbers (hint: `{{rand:0..1000}}`, the end \
			 excluded)"
		)),
	}
}

/// Every placeholder of every string in `value` (at `path`) checked.
fn check_placeholders(p: &mut Parser, path: &str, value: &Value) {
	match value {
		Value::String(s) => {
			for brace in braces(s) {
				let problem = match brace {
					Brace::Closed(inner) => placeholder_problem(&inner),
					Brace::Open => Some(format!(
						"`{s}` opens a placeholder with `{{` and never closes it (hint: the \
						 placeholders are {PLACEHOLDERS})"
					)),
				};
				if let Some(message) = problem {
					p.problem(path, message);
				}
			}
		}
		Value::Sequence(list) => {
			for (i, item) in list.iter().enumerate() {
				check_placeholders(p, &format!("{path}[{i}]"), item);
			}
		}
		Value::Mapping(map) => {
			for (key, item) in map {
				let key = match key {
					Value::String(k) => k.clone(),
					other => show(other),
				};
				check_placeholders(p, &format!("{path}.{key}"), item);
			}
		}
		Value::Tagged(tagged) => check_placeholders(p, path, &tagged.value),
		Value::Null | Value::Bool(_) | Value::Number(_) => {}
	}
}

/// `Pallet.call` at `path`.
fn call_name(p: &mut Parser, path: &str, value: Value) -> Option<(String, String)> {
	let text: String = p.take(path, value, &[])?;
	let identifier = |s: &str| {
		s.chars()
			.next()
			.is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
			&& s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
	};
	match text.trim().split_once('.') {
		Some((pallet, call)) if identifier(pallet) && identifier(call) => {
			Some((pallet.to_string(), call.to_string()))
		}
		_ => {
			p.problem(
				path,
				format!(
					"`{text}` is not a call (hint: write `Pallet.call`, like \
					 `Balances.transfer_keep_alive` or `SubtensorModule.add_stake`)"
				),
			);
			None
		}
	}
}

/// `args` at `path`: a mapping of argument names to values (absent: none).
fn args(p: &mut Parser, path: &str, value: Option<Value>) -> Option<BTreeMap<String, Value>> {
	let map = match value {
		None | Some(Value::Null) => return Some(BTreeMap::new()),
		Some(Value::Mapping(map)) => map,
		Some(other) => {
			p.problem(
				path,
				format!(
					"expected a mapping of argument names to values, found {} (hint: `args: {{ \
					 netuid: 1, hotkey: \"{{signer}}\" }}`)",
					show(&other)
				),
			);
			return None;
		}
	};
	let mut args = BTreeMap::new();
	let mut ok = true;
	for (key, value) in map {
		let Value::String(name) = key else {
			ok = false;
			p.problem(
				path,
				format!(
					"argument names are text, found {} (hint: quote it)",
					show(&key)
				),
			);
			continue;
		};
		let before = p.problems.len();
		check_placeholders(p, &format!("{path}.{name}"), &value);
		ok &= p.problems.len() == before;
		args.insert(name, value);
	}
	ok.then_some(args)
}

fn call_spec(
	p: &mut Parser,
	path: &str,
	call: Value,
	args_value: Option<Value>,
) -> Option<CallSpec> {
	let name = call_name(p, &format!("{path}.call"), call);
	let args = args(p, &format!("{path}.args"), args_value);
	let (pallet, call) = name?;
	Some(CallSpec {
		pallet,
		call,
		args: args?,
	})
}

fn setup(p: &mut Parser, value: Option<Value>, signs: &mut bool) -> Option<Vec<SetupCall>> {
	let list = match value {
		None | Some(Value::Null) => return Some(Vec::new()),
		Some(Value::Sequence(list)) => list,
		Some(other) => {
			p.problem(
				"setup",
				format!(
					"expected a list of calls, found {} (hint: `setup: [{{ call: \
					 Subnets.burned_register, args: {{ netuid: 1, hotkey: \"{{signer}}\" }}, \
					 each-account: true }}]`)",
					show(&other)
				),
			);
			return None;
		}
	};
	let mut calls = Vec::new();
	let mut ok = true;
	for (i, item) in list.into_iter().enumerate() {
		let path = format!("setup[{i}]");
		let before = p.problems.len();
		let call = setup_call(p, &path, item, signs);
		match call {
			Some(c) if p.problems.len() == before => calls.push(c),
			_ => ok = false,
		}
	}
	ok.then_some(calls)
}

fn setup_call(p: &mut Parser, path: &str, value: Value, signs: &mut bool) -> Option<SetupCall> {
	let raw: RawSetup = p.take(path, value, SETUP_KEYS)?;
	let sudo = flag(p, &format!("{path}.sudo"), raw.sudo);
	let each_account = flag(p, &format!("{path}.each-account"), raw.each_account);
	let optional = flag(p, &format!("{path}.optional"), raw.optional);
	if sudo != Some(true) {
		*signs = true;
	}
	if sudo == Some(true) && each_account == Some(true) {
		p.problem(
			path,
			"`sudo` and `each-account` together: a sudo call is sent once, signed by the sudo \
			 key (hint: keep `sudo: true` for a root call, or `each-account: true` for a call \
			 every account sends)",
		);
	}
	let Some(call) = raw.call else {
		p.problem(
			format!("{path}.call"),
			"missing (hint: `call: Pallet.call`, like `Subnets.burned_register`)",
		);
		return None;
	};
	let call = call_spec(p, path, call, raw.args)?;
	Some(SetupCall {
		call,
		sudo: sudo?,
		each_account: each_account?,
		optional: optional?,
	})
}

/// `spec-versions: "204..=425"`, `"204.."` or `218`: the runtime versions a profile fits.
fn spec_versions(p: &mut Parser, value: Value) -> Option<SpecVersions> {
	let hint = "(hint: `spec-versions: \"204..=425\"`, `\"218..\"` or one version like `218`)";
	let text = match &value {
		Value::Number(n) => n.to_string(),
		Value::String(s) => s.trim().to_string(),
		other => {
			p.problem(
				"spec-versions",
				format!(
					"expected a range of spec versions, found {} {hint}",
					show(other)
				),
			);
			return None;
		}
	};
	let number = |s: &str| s.trim().replace('_', "").parse::<u32>().ok();
	let parsed = match text.split_once("..") {
		None => number(&text).map(|v| SpecVersions {
			min: v,
			max: Some(v),
		}),
		Some((lo, hi)) => {
			let hi = hi.trim();
			let min = if lo.trim().is_empty() {
				Some(0)
			} else {
				number(lo)
			};
			match (min, hi) {
				(Some(min), "") => Some(SpecVersions { min, max: None }),
				(Some(min), hi) => match hi.strip_prefix('=') {
					Some(h) => number(h).map(|max| SpecVersions {
						min,
						max: Some(max),
					}),
					// `a..b` excludes `b`, as in Rust.
					None => number(hi).filter(|&b| b > 0).map(|b| SpecVersions {
						min,
						max: Some(b - 1),
					}),
				},
				_ => None,
			}
		}
	};
	match parsed {
		Some(r) if r.max.is_none_or(|m| m >= r.min) => Some(r),
		Some(_) => {
			p.problem(
				"spec-versions",
				format!("`{text}` is an empty range {hint}"),
			);
			None
		}
		None => {
			p.problem(
				"spec-versions",
				format!("`{text}` is not a range of spec versions {hint}"),
			);
			None
		}
	}
}

fn mix(p: &mut Parser, value: Option<Value>, signs: &mut bool) -> Option<Vec<MixEntry>> {
	let example = "`mix: [{ call: Balances.transfer_keep_alive, args: { dest: { Id: \
	               \"{peer}\" }, value: 1000000 } }]`";
	let list = match value {
		None | Some(Value::Null) => {
			p.problem(
				"mix",
				format!("missing: what the load sends (hint: {example})"),
			);
			return None;
		}
		Some(Value::Sequence(list)) => list,
		Some(other) => {
			p.problem(
				"mix",
				format!(
					"expected a list of calls and reads, found {} (hint: {example})",
					show(&other)
				),
			);
			return None;
		}
	};
	if list.is_empty() {
		p.problem(
			"mix",
			format!("is empty: the load would send nothing (hint: {example})"),
		);
		return None;
	}
	let mut entries = Vec::new();
	let mut ok = true;
	for (i, item) in list.into_iter().enumerate() {
		let path = format!("mix[{i}]");
		let before = p.problems.len();
		match mix_entry(p, &path, item, signs) {
			Some(e) if p.problems.len() == before => entries.push(e),
			_ => ok = false,
		}
	}
	ok.then_some(entries)
}

fn mix_entry(p: &mut Parser, path: &str, value: Value, signs: &mut bool) -> Option<MixEntry> {
	let raw: RawMix = p.take(path, value, MIX_KEYS)?;
	let weight = match raw.weight {
		None => Some(1),
		Some(v) => match p.take::<u32>(&format!("{path}.weight"), v, &[]) {
			Some(0) => {
				p.problem(
					format!("{path}.weight"),
					"must be at least 1: the entry's share of the mix (hint: remove the entry \
					 to leave it out)",
				);
				None
			}
			other => other,
		},
	};
	let action = match (raw.call, raw.rpc) {
		(Some(_), Some(_)) => {
			*signs = true;
			p.problem(
				path,
				"both `call` and `rpc`: an entry sends one thing (hint: split it into two \
				 entries, each with its `weight`)",
			);
			None
		}
		(None, None) => {
			p.problem(
				path,
				"neither `call` nor `rpc` (hint: `call: Balances.transfer_keep_alive` with \
				 `args`, or `rpc: system_health` with `params`)",
			);
			None
		}
		(Some(call), None) => {
			*signs = true;
			if raw.params.is_some() {
				p.problem(
					format!("{path}.params"),
					"`params` go with `rpc`; a call takes `args` (a mapping of argument names \
					 to values)",
				);
			}
			call_spec(p, path, call, raw.args).map(Action::Call)
		}
		(None, Some(method)) => {
			if raw.args.is_some() {
				p.problem(
					format!("{path}.args"),
					"`args` go with `call`; an RPC takes `params` (a list, like `params: \
					 [\"0x…\"]`)",
				);
			}
			rpc(p, path, method, raw.params)
		}
	};
	Some(MixEntry {
		weight: weight?,
		action: action?,
	})
}

fn rpc(p: &mut Parser, path: &str, method: Value, params: Option<Value>) -> Option<Action> {
	let at = format!("{path}.rpc");
	let method: String = p.take(&at, method, &[])?;
	let valid = !method.is_empty()
		&& method
			.chars()
			.all(|c| c.is_ascii_alphanumeric() || c == '_');
	if !valid {
		p.problem(
			&at,
			format!(
				"`{method}` is not a JSON-RPC method name (hint: `system_health`, \
				 `chain_getHeader`, `state_getStorage`, `state_call`)"
			),
		);
		return None;
	}
	let params = match params {
		None | Some(Value::Null) => Vec::new(),
		Some(Value::Sequence(list)) => list,
		Some(other) => {
			p.problem(
				format!("{path}.params"),
				format!(
					"expected a list of parameters, found {} (hint: `params: [\"0x…\"]`)",
					show(&other)
				),
			);
			return None;
		}
	};
	let before = p.problems.len();
	for (i, param) in params.iter().enumerate() {
		check_placeholders(p, &format!("{path}.params[{i}]"), param);
	}
	(p.problems.len() == before).then_some(Action::Rpc { method, params })
}

fn rate(p: &mut Parser, value: Option<Value>) -> Option<Rate> {
	let forms = "`rate: 1000` (tx/s), `rate: { ramp: { from: 100, to: 2000, over: 60s } }` or \
	             `rate: { steps: [{ rate: 500, for: 20s }, { rate: 1000, for: 20s }] }`";
	let value = match value {
		None | Some(Value::Null) => {
			p.problem("rate", format!("missing (hint: {forms})"));
			return None;
		}
		Some(v) => v,
	};
	match value {
		Value::Number(_) => number(p, "rate", value, 0.0, true).map(Rate::Constant),
		Value::Mapping(_) => {
			let raw: RawRate = p.take("rate", value, RATE_KEYS)?;
			match (raw.ramp, raw.steps) {
				(Some(_), Some(_)) => {
					p.problem(
						"rate",
						format!("both `ramp` and `steps` (hint: keep one: {forms})"),
					);
					None
				}
				(None, None) => {
					p.problem(
						"rate",
						format!("neither `ramp` nor `steps` (hint: {forms})"),
					);
					None
				}
				(Some(ramp), None) => self::ramp(p, ramp),
				(None, Some(steps)) => self::steps(p, steps),
			}
		}
		other => {
			p.problem(
				"rate",
				format!(
					"expected a number of transactions per second or a mapping, found {} \
					 (hint: {forms})",
					show(&other)
				),
			);
			None
		}
	}
}

fn ramp(p: &mut Parser, value: Value) -> Option<Rate> {
	let raw: RawRamp = p.take("rate.ramp", value, RAMP_KEYS)?;
	let part = |p: &mut Parser, key: &str, value: Option<Value>, strictly: bool| match value {
		None => {
			p.problem(
				format!("rate.ramp.{key}"),
				"missing (hint: `ramp: { from: 100, to: 2000, over: 60s }`)",
			);
			None
		}
		Some(v) => number(p, &format!("rate.ramp.{key}"), v, 0.0, strictly),
	};
	let from = part(p, "from", raw.from, false);
	let to = part(p, "to", raw.to, true);
	let over = match raw.over {
		None => {
			p.problem(
				"rate.ramp.over",
				"missing: how long the ramp lasts (hint: `over: 60s`)",
			);
			None
		}
		Some(v) => match duration(p, "rate.ramp.over", v) {
			Some(d) if d.is_zero() => {
				p.problem(
					"rate.ramp.over",
					"must be longer than 0s (hint: a constant `rate: N` jumps at once)",
				);
				None
			}
			other => other,
		},
	};
	Some(Rate::Ramp {
		from: from?,
		to: to?,
		over: over?,
	})
}

fn steps(p: &mut Parser, value: Value) -> Option<Rate> {
	let example = "`steps: [{ rate: 500, for: 20s }, { rate: 1000, for: 20s }]`";
	let list = match value {
		Value::Sequence(list) if !list.is_empty() => list,
		Value::Sequence(_) => {
			p.problem("rate.steps", format!("is empty (hint: {example})"));
			return None;
		}
		other => {
			p.problem(
				"rate.steps",
				format!(
					"expected a list of steps, found {} (hint: {example})",
					show(&other)
				),
			);
			return None;
		}
	};
	let mut steps = Vec::new();
	let mut ok = true;
	for (i, item) in list.into_iter().enumerate() {
		let path = format!("rate.steps[{i}]");
		let Some(raw) = p.take::<RawStep>(&path, item, STEP_KEYS) else {
			ok = false;
			continue;
		};
		let rate = match raw.rate {
			None => {
				p.problem(format!("{path}.rate"), format!("missing (hint: {example})"));
				None
			}
			Some(v) => number(p, &format!("{path}.rate"), v, 0.0, false),
		};
		let length = match raw.length {
			None => {
				p.problem(
					format!("{path}.for"),
					format!("missing: how long the step lasts (hint: {example})"),
				);
				None
			}
			Some(v) => match duration(p, &format!("{path}.for"), v) {
				Some(d) if d.is_zero() => {
					p.problem(
						format!("{path}.for"),
						"must be longer than 0s (hint: remove the step to leave it out)",
					);
					None
				}
				other => other,
			},
		};
		match (rate, length) {
			(Some(r), Some(d)) => steps.push((r, d)),
			_ => ok = false,
		}
	}
	if !ok {
		return None;
	}
	if steps.iter().all(|(r, _)| *r == 0.0) {
		p.problem(
			"rate.steps",
			"every step is 0 tx/s: the load would send nothing (hint: give a step a rate above \
			 0)",
		);
		return None;
	}
	Some(Rate::Steps(steps))
}

fn bounds(p: &mut Parser, value: Option<Value>) -> Option<Bounds> {
	let raw = match value {
		None | Some(Value::Null) => RawBounds {
			max_transactions: None,
			max_in_flight: None,
			drain: None,
		},
		Some(v) => p.take("bounds", v, BOUND_KEYS)?,
	};
	let positive = |p: &mut Parser, key: &str, value: Value| {
		let path = format!("bounds.{key}");
		match p.take::<u64>(&path, value, &[])? {
			0 => {
				p.problem(path, "must be at least 1");
				None
			}
			n => Some(n),
		}
	};
	let max_transactions = match raw.max_transactions {
		None | Some(Value::Null) => Some(None),
		Some(v) => positive(p, "max-transactions", v).map(Some),
	};
	let max_in_flight = match raw.max_in_flight {
		None | Some(Value::Null) => Some(DEFAULT_MAX_IN_FLIGHT),
		Some(v) => positive(p, "max-in-flight", v),
	};
	let drain = match raw.drain {
		None | Some(Value::Null) => Some(DEFAULT_DRAIN),
		Some(v) => duration(p, "bounds.drain", v),
	};
	Some(Bounds {
		max_transactions: max_transactions?,
		max_in_flight: max_in_flight?,
		drain: drain?,
	})
}

fn connections(p: &mut Parser, value: Option<Value>) -> Option<u32> {
	let Some(value) = value else {
		return Some(DEFAULT_CONNECTIONS);
	};
	match p.take::<u32>("connections", value, &[])? {
		n @ 1..=MAX_CONNECTIONS => Some(n),
		n => {
			p.problem(
				"connections",
				format!(
					"`{n}` is out of range: 1 to {MAX_CONNECTIONS} RPC connections (hint: the \
					 default, {DEFAULT_CONNECTIONS}, submits thousands of transactions per second)"
				),
			);
			None
		}
	}
}
