//! Stress loads (`stagenet stress`): a load profile's mix of calls, signed ahead of time by
//! thousands of accounts with nonces kept per account, submitted open-loop at a target rate
//! (or ramp) over several RPC connections, followed block by block until they are included.
//!
//! What is measured: submitted, accepted, included, failed and dropped transactions, pool
//! rejections per reason, inclusion latency (submission → first best block that holds it),
//! included TPS, normal-class weight and length per block against their limits, block time,
//! finality lag, the pool's ready count, and which limit stopped growth: `weight` or `length`
//! (blocks full), `rate-limit` (the chain's own rate limits refused the calls), `pool` (the
//! pool refused or dropped them), `authoring-time` (the pool held more than blocks took while
//! blocks were not full), `generator` (stagenet could not send at the target rate), or `none`.

mod calls;
mod sign;
mod submit;
mod watch;

use stagenet_chain::client::Chain;
use calls::{ResolvedCall, Slots};
use sign::{Signed, ToSign};
use stagenet_config::{
	exit::{Exit, ExitStatus},
	Action, Rate, StressProfile,
};
use stagenet_store::{Percentiles, ReasonCount, StressBlock, StressCall, StressRecord};
use std::{
	collections::{BTreeMap, HashMap},
	sync::Arc,
	time::{Duration, Instant},
};
use submit::{Outcome, Send, SendKind};

/// Sends signed ahead of time at most (memory: ~150 bytes each).
const MAX_SENDS: u64 = 5_000_000;
/// How long setup transactions may take to be included.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

/// What `stagenet stress` is asked to do.
#[derive(Debug, Clone)]
pub struct StressOptions {
	/// The load profile.
	pub profile: StressProfile,
	/// The profile file as the user gave it.
	pub profile_shown: String,
	/// Overrides the profile's duration.
	pub duration: Option<Duration>,
	/// Overrides the profile's rate (constant tx/s).
	pub rate: Option<f64>,
	/// Overrides the profile's connection count.
	pub connections: Option<u32>,
	/// RPC endpoint to submit to and to follow blocks on.
	pub url: String,
	/// Prometheus endpoint of the same node (for the pool's ready count), if any.
	pub prometheus_url: Option<String>,
	/// Order within the run.
	pub seq: u32,
	/// The sudo key's secret URI, for `sudo` setup calls.
	pub sudo_uri: String,
	/// Threads that sign (default: every core).
	pub signing_threads: Option<usize>,
}

/// Why a load could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StressError {
	/// The profile does not fit the chain (unknown call, bad argument, spec name).
	#[error("{0}")]
	BadInput(String),
	/// The chain or the node failed.
	#[error("{0}")]
	Infrastructure(String),
}

impl ExitStatus for StressError {
	fn exit(&self) -> Exit {
		match self {
			StressError::BadInput(_) => Exit::BadInput,
			StressError::Infrastructure(_) => Exit::Infrastructure,
		}
	}
}

impl StressError {
	/// Whether the user's input is at fault (exit 2) rather than the infrastructure (exit 3).
	pub fn is_bad_input(&self) -> bool {
		self.exit() == Exit::BadInput
	}
}

fn infra(context: &str) -> impl FnOnce(stagenet_chain::client::ChainError) -> StressError + '_ {
	move |e| StressError::Infrastructure(format!("{context}: {e}"))
}

/// One planned send of the load.
struct Planned {
	/// Offset from the start of the load.
	at: Duration,
	/// Index into the mix.
	entry: usize,
}

/// Whether the runtime has the pallet and call `spec` names (its arguments aside).
fn has_call(metadata: &subxt::Metadata, spec: &stagenet_config::CallSpec) -> bool {
	metadata
		.pallet_by_name(&spec.pallet)
		.is_some_and(|p| p.call_variant_by_name(&spec.call).is_some())
}

/// Runs the load and measures it.
pub async fn stress(
	opts: &StressOptions,
	progress: &mut (dyn FnMut(&str) + std::marker::Send),
) -> Result<StressRecord, StressError> {
	let profile = &opts.profile;
	let rate = match opts.rate {
		Some(r) if r > 0.0 && r.is_finite() => Rate::Constant(r),
		Some(r) => {
			return Err(StressError::BadInput(format!(
				"`--rate {r}` is not a positive number of transactions per second"
			)))
		}
		None => profile.rate.clone(),
	};
	let duration = opts.duration.unwrap_or(profile.duration);
	if duration.is_zero() {
		return Err(StressError::BadInput(
			"the load's duration is zero (hint: pass `--duration 30s`)".into(),
		));
	}
	let connections = opts.connections.unwrap_or(profile.connections).clamp(1, 64) as usize;

	let chain = Chain::connect(&opts.url)
		.await
		.map_err(infra("connect to the node"))?;
	let best = chain.best_hash().await.map_err(infra("best block"))?;
	let at = chain
		.at_block_client(best)
		.await
		.map_err(infra("client at the best block"))?;
	let metadata = at.metadata();
	let (runtime_name, runtime_version) = chain
		.runtime_version_at(best)
		.await
		.map_err(infra("runtime version"))?;
	let runtime = format!("`{runtime_name} {runtime_version}`");
	if let Some(expected) = &profile.spec_name {
		if &runtime_name != expected {
			return Err(StressError::BadInput(format!(
				"profile `{}` is written for runtime `{expected}`, the chain runs {runtime} \
				 (hint: pick a profile for `{runtime_name}` in fork-tests/loads/)",
				profile.name
			)));
		}
	}
	// Calls of the mix and of the setup, resolved against the metadata: every call that does
	// not fit the runtime is named at once, before anything is signed or sent.
	let mut misfits = Vec::new();
	let mut resolved: Vec<Option<ResolvedCall>> = Vec::new();
	for (i, entry) in profile.mix.iter().enumerate() {
		resolved.push(match &entry.action {
			Action::Call(spec) => match ResolvedCall::resolve(spec, &metadata) {
				Ok(call) => Some(call),
				Err(e) => {
					misfits.push(format!("mix[{i}] `{}`: {e}", spec.name()));
					None
				}
			},
			Action::Rpc { .. } => None,
		});
	}
	let mut setup = Vec::new();
	for (i, s) in profile.setup.iter().enumerate() {
		match ResolvedCall::resolve(&s.call, &metadata) {
			Ok(call) => setup.push((call, s.sudo, s.each_account)),
			Err(_) if s.optional && !has_call(&metadata, &s.call) => progress(&format!(
				"stress: setup[{i}] `{}` skipped (optional): {runtime} has no such call",
				s.call.name()
			)),
			Err(e) => misfits.push(format!("setup[{i}] `{}`: {e}", s.call.name())),
		}
	}
	let out_of_range = profile
		.spec_versions
		.filter(|range| !range.contains(runtime_version));
	if !misfits.is_empty() || out_of_range.is_some() {
		let fits = match out_of_range {
			Some(range) => format!(" (it fits spec versions {range})"),
			None => String::new(),
		};
		let calls = if misfits.is_empty() {
			"its calls exist in this runtime, but it was not checked against it".to_string()
		} else {
			misfits.join("\n  ")
		};
		return Err(StressError::BadInput(format!(
			"profile `{}` does not fit runtime {runtime}{fits}; nothing was sent:\n  {calls}\n\
			 (hint: call and argument names are the runtime's, as in its metadata: adapt the \
			 profile, mark a setup call that older or newer runtimes lack `optional: true`, or \
			 pick a profile whose `spec-versions` holds {runtime_version})",
			profile.name,
		)));
	}

	// Accounts.
	let started = Instant::now();
	let keys = sign::keypairs(
		&profile.accounts.uri,
		profile.accounts.first,
		profile.accounts.count,
	)
	.map_err(StressError::BadInput)?;
	let ids: Vec<[u8; 32]> = keys.iter().map(|k| k.public_key().0).collect();
	progress(&format!(
		"stress: {} accounts derived from `{}` in {:.1} s",
		keys.len(),
		profile.accounts.uri,
		started.elapsed().as_secs_f64()
	));

	// The plan: when each send happens and what it is.
	let mut plan = schedule(&rate, duration, profile.bounds.max_transactions);
	if plan.len() as u64 > MAX_SENDS {
		return Err(StressError::BadInput(format!(
			"the load asks for {} sends; at most {MAX_SENDS} are signed ahead of time \
			 (hint: lower `rate` or `duration`, or set `bounds.max-transactions`)",
			plan.len()
		)));
	}
	let weights: Vec<u32> = profile.mix.iter().map(|m| m.weight.max(1)).collect();
	let mut picker = SmoothPicker::new(&weights);
	for p in &mut plan {
		p.entry = picker.next();
	}

	// The watcher follows blocks from now on (setup included).
	let reader =
		stagenet_capture::BlockReader::connect(&opts.url, Duration::from_secs(20), 3)
			.await
			.map_err(|e| StressError::Infrastructure(format!("connect the block reader: {e}")))?;
	let start_block = chain.best_number().await.map_err(infra("best block"))?;
	let tracker = Arc::new(watch::Tracker::default());
	let watcher = watch::Watcher::start(
		reader,
		chain.clone(),
		opts.prometheus_url.clone(),
		tracker.clone(),
		start_block + 1,
	);

	// Setup: not measured.
	if !setup.is_empty() {
		let result = run_setup(&chain, &at, opts, &keys, &ids, &setup, &tracker, progress).await;
		if let Err(e) = result {
			watcher.stop().await;
			return Err(e);
		}
	}

	// Nonces after setup.
	let nonces = match read_nonces(&chain, &ids).await {
		Ok(n) => n,
		Err(e) => {
			watcher.stop().await;
			return Err(e);
		}
	};

	// Sign every transaction ahead of time.
	let best = chain.best_hash().await.map_err(infra("best block"))?;
	let at = chain
		.at_block_client(best)
		.await
		.map_err(infra("client at the best block"))?;
	let metadata = at.metadata();
	let mut next_nonce = nonces.clone();
	let mut to_sign = Vec::new();
	let mut sign_index = Vec::with_capacity(plan.len());
	let n_accounts = keys.len();
	let mut account_cursor = vec![0usize; profile.mix.len().max(1)];
	let mut random = 0x9e37_79b9_7f4a_7c15u64;
	let mut encode_error = None;
	for (seq, p) in plan.iter().enumerate() {
		let Some(call) = resolved.get(p.entry).and_then(|c| c.as_ref()) else {
			sign_index.push(None);
			continue;
		};
		// One cursor per mix entry: each account sends every entry in turn (add then remove
		// stake, register then serve), whatever the number of accounts.
		let last = account_cursor.len() - 1;
		let cursor = &mut account_cursor[p.entry.min(last)];
		let signer = *cursor % n_accounts;
		*cursor += 1;
		let peer = (signer + 1) % n_accounts;
		random = splitmix(random);
		let slots = Slots {
			signer: &ids[signer],
			peer: &ids[peer],
			seq: seq as u64,
			uid: signer as u64,
			random,
		};
		match call.encode_args(&metadata, slots) {
			Ok(args) => {
				sign_index.push(Some(to_sign.len()));
				to_sign.push(ToSign {
					signer,
					nonce: next_nonce[signer],
					payload: call.payload(args),
				});
				next_nonce[signer] += 1;
			}
			Err(e) => {
				encode_error = Some(e);
				break;
			}
		}
	}
	if let Some(e) = encode_error {
		watcher.stop().await;
		return Err(StressError::BadInput(e));
	}
	let threads = opts
		.signing_threads
		.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
	let sign_started = Instant::now();
	let count = to_sign.len();
	let signed = {
		let at = at.clone();
		let keys = keys.clone();
		tokio::task::spawn_blocking(move || sign::sign_all(&at, &keys, to_sign, threads))
			.await
			.map_err(|e| StressError::Infrastructure(format!("signing task: {e}")))?
			.map_err(StressError::BadInput)?
	};
	let signing_ms = sign_started.elapsed().as_millis() as u64;
	progress(&format!(
		"stress: {count} transactions signed ahead of time in {:.1} s ({:.0} tx/s on {threads} threads)",
		signing_ms as f64 / 1000.0,
		count as f64 / (signing_ms.max(1) as f64 / 1000.0)
	));

	// Theoretical maximum per block of the main call, from its weight and length.
	let main_entry = weights
		.iter()
		.enumerate()
		.filter(|(i, _)| resolved.get(*i).is_some_and(|c| c.is_some()))
		.max_by_key(|(_, w)| **w)
		.map(|(i, _)| i);
	let sample = main_entry.and_then(|entry| {
		plan.iter()
			.zip(&sign_index)
			.find(|(p, s)| p.entry == entry && s.is_some())
			.and_then(|(_, s)| s.and_then(|s| signed.get(s)))
	});
	let call_weight = match sample {
		Some(s) => query_weight(&chain, &s.bytes).await,
		None => None,
	};

	// Sends, in plan order.
	let sends: Vec<Send> = plan
		.iter()
		.zip(&sign_index)
		.enumerate()
		.map(|(seq, (p, s))| {
			let kind = match s.and_then(|s| signed.get(s)) {
				Some(Signed { bytes, hash }) => SendKind::Transaction {
					bytes: bytes.clone(),
					hash: *hash,
				},
				None => match profile.mix.get(p.entry).map(|m| &m.action) {
					Some(Action::Rpc { method, params }) => {
						let signer = seq % n_accounts;
						let slots = Slots {
							signer: &ids[signer],
							peer: &ids[(signer + 1) % n_accounts],
							seq: seq as u64,
							uid: signer as u64,
							random: splitmix(seq as u64),
						};
						SendKind::Read {
							method: method.clone(),
							params: params
								.iter()
								.map(|v| yaml_to_json(&calls::fill(v, &slots)))
								.collect(),
						}
					}
					_ => SendKind::Read {
						method: "system_health".into(),
						params: Vec::new(),
					},
				},
			};
			Send {
				at: p.at,
				entry: p.entry,
				kind,
			}
		})
		.collect();
	drop(signed);
	let hashes: HashMap<[u8; 32], usize> = sends
		.iter()
		.enumerate()
		.filter_map(|(i, s)| match &s.kind {
			SendKind::Transaction { hash, .. } => Some((*hash, i)),
			SendKind::Read { .. } => None,
		})
		.collect();
	tracker.expect(hashes);

	progress(&format!(
		"stress: sending {} over {} at {} on {connections} connection(s)",
		sends.len(),
		humantime::format_duration(duration),
		rate.label()
	));
	let started_at = crate::monitor::now_ms();
	let load_start = Instant::now();
	tracker.set_origin(load_start);
	let first_block = chain.best_number().await.map_err(infra("best block"))? + 1;
	let outcomes = match submit::run(
		&opts.url,
		connections,
		profile.bounds.max_in_flight.max(1) as usize,
		&sends,
		load_start,
		progress,
	)
	.await
	{
		Ok(o) => o,
		Err(e) => {
			watcher.stop().await;
			return Err(StressError::Infrastructure(e));
		}
	};
	let send_end = load_start.elapsed();

	// Drain: wait until every accepted transaction is included, or the drain time passes.
	let accepted: Vec<usize> = outcomes
		.iter()
		.enumerate()
		.filter(|(i, o)| {
			matches!(o.result, Some(Ok(())))
				&& matches!(sends[*i].kind, SendKind::Transaction { .. })
		})
		.map(|(i, _)| i)
		.collect();
	let drain_deadline = Instant::now() + profile.bounds.drain;
	loop {
		let missing = accepted
			.iter()
			.filter(|i| tracker.included(**i).is_none())
			.count();
		if missing == 0 || Instant::now() >= drain_deadline {
			break;
		}
		tokio::time::sleep(Duration::from_millis(250)).await;
	}
	let last_block = chain.best_number().await.map_err(infra("best block"))?;
	watcher.wait_for(last_block, Duration::from_secs(30)).await;
	let blocks_seen = watcher.stop().await;
	let finished_at = crate::monitor::now_ms();

	Ok(measure(Measure {
		opts,
		profile,
		rate: &rate,
		duration,
		connections,
		accounts: n_accounts,
		signed: count as u64,
		signing_ms,
		sends: &sends,
		outcomes: &outcomes,
		tracker: &tracker,
		blocks: blocks_seen,
		first_block,
		send_end,
		started_at,
		finished_at,
		call_weight,
		resolved: &resolved,
	}))
}

/// Send times for `rate` over `duration`, capped at `max`.
fn schedule(rate: &Rate, duration: Duration, max: Option<u64>) -> Vec<Planned> {
	let mut plan = Vec::new();
	let slice = Duration::from_millis(1);
	let mut t = Duration::ZERO;
	let mut acc = 0.0f64;
	let cap = max.unwrap_or(u64::MAX).min(MAX_SENDS + 1);
	while t < duration && (plan.len() as u64) < cap {
		acc += rate.at(t) * slice.as_secs_f64();
		while acc >= 1.0 && (plan.len() as u64) < cap {
			acc -= 1.0;
			plan.push(Planned { at: t, entry: 0 });
		}
		t += slice;
	}
	plan
}

/// Smooth weighted round robin: entries in proportion to their weights, evenly spread.
struct SmoothPicker {
	weights: Vec<i64>,
	current: Vec<i64>,
	total: i64,
}

impl SmoothPicker {
	fn new(weights: &[u32]) -> SmoothPicker {
		SmoothPicker {
			weights: weights.iter().map(|w| *w as i64).collect(),
			current: vec![0; weights.len()],
			total: weights.iter().map(|w| *w as i64).sum(),
		}
	}

	fn next(&mut self) -> usize {
		let mut best = 0;
		for i in 0..self.weights.len() {
			self.current[i] += self.weights[i];
			if self.current[i] > self.current[best] {
				best = i;
			}
		}
		if let Some(c) = self.current.get_mut(best) {
			*c -= self.total;
		}
		best
	}
}

fn splitmix(x: u64) -> u64 {
	let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
	z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
	z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
	z ^ (z >> 31)
}

fn yaml_to_json(v: &serde_yaml::Value) -> serde_json::Value {
	serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Next nonce of every account (`system_accountNextIndex`), 64 requests at a time.
async fn read_nonces(chain: &Chain, ids: &[[u8; 32]]) -> Result<Vec<u64>, StressError> {
	use futures_util::{stream, StreamExt, TryStreamExt};
	stream::iter(ids.iter().map(|id| {
		let chain = chain.clone();
		let address = stagenet_chain::keys::ss58(id);
		async move {
			chain
				.request::<u64>("system_accountNextIndex", vec![serde_json::json!(address)])
				.await
				.map_err(|e| StressError::Infrastructure(format!("nonce of `{address}`: {e}")))
		}
	}))
	.buffered(64)
	.try_collect()
	.await
}

/// The weight (`ref_time`) of an encoded extrinsic's call (`payment_queryInfo`).
async fn query_weight(chain: &Chain, extrinsic: &[u8]) -> Option<u64> {
	let info: serde_json::Value = chain
		.request(
			"payment_queryInfo",
			vec![serde_json::json!(format!("0x{}", hex::encode(extrinsic)))],
		)
		.await
		.ok()?;
	let w = info.get("weight")?;
	let rt = w.get("ref_time").or_else(|| w.get("refTime")).unwrap_or(w);
	rt.as_u64()
		.or_else(|| rt.as_str().and_then(|s| s.parse().ok()))
}

/// Setup calls: sudo ones first (signed by the sudo key), then per-account ones; each batch
/// waits until included. Failures are reported, not fatal (a second load on the same fork
/// finds its accounts already registered).
#[allow(clippy::too_many_arguments)]
async fn run_setup(
	chain: &Chain,
	at: &subxt::OnlineClientAtBlock<subxt::SubstrateConfig>,
	opts: &StressOptions,
	keys: &[subxt_signer::sr25519::Keypair],
	ids: &[[u8; 32]],
	setup: &[(ResolvedCall, bool, bool)],
	tracker: &Arc<watch::Tracker>,
	progress: &mut (dyn FnMut(&str) + std::marker::Send),
) -> Result<(), StressError> {
	let metadata = at.metadata();
	let sudo = sign::keypair(&opts.sudo_uri).map_err(StressError::BadInput)?;
	let sudo_id = sudo.public_key().0;
	let mut sudo_items = Vec::new();
	let mut account_items = Vec::new();
	let mut names = Vec::new();
	let mut sudo_nonce = None;
	let mut nonces = read_nonces(chain, ids).await?;
	for (call, is_sudo, each) in setup {
		names.push(call.name());
		let signers: Vec<usize> = if *is_sudo {
			vec![0]
		} else if *each {
			(0..keys.len()).collect()
		} else {
			vec![0]
		};
		for signer in signers {
			let slots = Slots {
				signer: if *is_sudo { &sudo_id } else { &ids[signer] },
				peer: &ids[(signer + 1) % ids.len()],
				seq: signer as u64,
				uid: signer as u64,
				random: splitmix(signer as u64),
			};
			let args = call
				.encode_args(&metadata, slots)
				.map_err(StressError::BadInput)?;
			if *is_sudo {
				let payload = call.payload(args);
				let inner = at
					.transactions()
					.call_data(&payload)
					.map_err(|e| StressError::BadInput(format!("`{}`: {e}", call.name())))?;
				let nonce = match sudo_nonce {
					Some(n) => n,
					None => read_nonces(chain, &[sudo_id]).await?[0],
				};
				sudo_nonce = Some(nonce + 1);
				sudo_items.push(ToSign {
					signer: 0,
					nonce,
					payload: calls::RawPayload::wrapping("Sudo", "sudo", inner),
				});
			} else {
				account_items.push(ToSign {
					signer,
					nonce: nonces[signer],
					payload: call.payload(args),
				});
				nonces[signer] += 1;
			}
		}
	}
	let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
	for (label, items, signers) in [
		("sudo", sudo_items, vec![sudo.clone()]),
		("accounts", account_items, keys.to_vec()),
	] {
		if items.is_empty() {
			continue;
		}
		let n = items.len();
		let at2 = at.clone();
		let signed =
			tokio::task::spawn_blocking(move || sign::sign_all(&at2, &signers, items, threads))
				.await
				.map_err(|e| StressError::Infrastructure(format!("signing task: {e}")))?
				.map_err(StressError::BadInput)?;
		let hashes: Vec<[u8; 32]> = signed.iter().map(|s| s.hash).collect();
		tracker.expect_setup(&hashes);
		let mut refused = BTreeMap::<String, u64>::new();
		for s in &signed {
			if let Err(e) = chain.submit_raw(&s.bytes).await {
				*refused.entry(submit::classify(&e.reason)).or_default() += 1;
			}
		}
		let deadline = Instant::now() + SETUP_TIMEOUT;
		let refused_total: u64 = refused.values().sum();
		loop {
			let (included, failed) = tracker.setup_status(&hashes);
			if included as u64 + refused_total >= n as u64 {
				let mut line = format!(
					"stress: setup ({label}: {}) {included}/{n} included",
					names.join(", ")
				);
				if !failed.is_empty() {
					line.push_str(&format!(
						", failed: {}",
						failed
							.iter()
							.map(|(e, c)| format!("{e} × {c}"))
							.collect::<Vec<_>>()
							.join(", ")
					));
				}
				if !refused.is_empty() {
					line.push_str(&format!(
						", refused by the pool: {}",
						refused
							.iter()
							.map(|(e, c)| format!("{e} × {c}"))
							.collect::<Vec<_>>()
							.join(", ")
					));
				}
				progress(&line);
				break;
			}
			if Instant::now() >= deadline {
				return Err(StressError::Infrastructure(format!(
					"setup ({label}): {included} of {n} transactions included after {SETUP_TIMEOUT:?} \
					 ({refused_total} refused by the pool; last block seen #{}) (hint: is the \
					 network producing blocks? `stagenet status`)",
					tracker.last_block()
				)));
			}
			tokio::time::sleep(Duration::from_millis(250)).await;
		}
	}
	Ok(())
}

struct Measure<'a> {
	opts: &'a StressOptions,
	profile: &'a StressProfile,
	rate: &'a Rate,
	duration: Duration,
	connections: usize,
	accounts: usize,
	signed: u64,
	signing_ms: u64,
	sends: &'a [Send],
	outcomes: &'a [Outcome],
	tracker: &'a watch::Tracker,
	blocks: Vec<StressBlock>,
	first_block: u64,
	send_end: Duration,
	started_at: i64,
	finished_at: i64,
	call_weight: Option<u64>,
	resolved: &'a [Option<ResolvedCall>],
}

fn measure(m: Measure<'_>) -> StressRecord {
	let mut submitted = 0u64;
	let mut accepted = 0u64;
	let mut included = 0u64;
	let mut failed = 0u64;
	let mut dropped = 0u64;
	let mut rejected = BTreeMap::<String, u64>::new();
	let mut failed_by = BTreeMap::<String, u64>::new();
	let mut latencies = Vec::new();
	let mut read_latencies = Vec::new();
	let mut per_call: BTreeMap<String, StressCall> = BTreeMap::new();
	for (i, (send, outcome)) in m.sends.iter().zip(m.outcomes).enumerate() {
		let name = match (
			&send.kind,
			m.resolved.get(send.entry).and_then(|c| c.as_ref()),
		) {
			(SendKind::Transaction { .. }, Some(call)) => call.name(),
			(SendKind::Read { method, .. }, _) => format!("rpc:{method}"),
			_ => "?".into(),
		};
		let tally = per_call.entry(name.clone()).or_insert_with(|| StressCall {
			call: name,
			submitted: 0,
			included: 0,
			failed: 0,
		});
		let Some(result) = &outcome.result else {
			continue;
		};
		tally.submitted += 1;
		match &send.kind {
			SendKind::Read { .. } => {
				match result {
					Ok(()) => tally.included += 1,
					Err(_) => tally.failed += 1,
				}
				if let Some(ms) = outcome.answered_ms {
					read_latencies.push(ms);
				}
			}
			SendKind::Transaction { .. } => {
				submitted += 1;
				match result {
					Err(reason) => {
						*rejected.entry(reason.clone()).or_default() += 1;
					}
					Ok(()) => {
						accepted += 1;
						match m.tracker.included(i) {
							Some(inc) => {
								included += 1;
								tally.included += 1;
								if let Some(e) = inc.error {
									failed += 1;
									tally.failed += 1;
									*failed_by.entry(e).or_default() += 1;
								}
								if let Some(sent) = outcome.sent_ms {
									latencies.push((inc.seen_ms - sent).max(0.0));
								}
							}
							None => dropped += 1,
						}
					}
				}
			}
		}
	}
	let latency = Percentiles::of(&latencies);
	let read_latency = (!read_latencies.is_empty()).then(|| Percentiles::of(&read_latencies));

	// Blocks of the load: from the first block after the load started.
	let blocks: Vec<StressBlock> = m
		.blocks
		.into_iter()
		.filter(|b| b.number >= m.first_block)
		.collect();
	let with_ours: Vec<&StressBlock> = blocks.iter().filter(|b| b.ours > 0).collect();
	let included_tps = match (with_ours.first(), with_ours.last()) {
		(Some(first), Some(last)) => {
			let before = blocks
				.iter()
				.rev()
				.find(|b| b.number < first.number)
				.and_then(|b| b.timestamp);
			let span_ms = match (
				before.or(first
					.timestamp
					.map(|t| t - first.block_time_ms.unwrap_or(0))),
				last.timestamp,
			) {
				(Some(a), Some(b)) if b > a => (b - a) as f64,
				_ => 0.0,
			};
			let ours: u64 = with_ours.iter().map(|b| b.ours).sum();
			if span_ms > 0.0 {
				ours as f64 * 1000.0 / span_ms
			} else {
				0.0
			}
		}
		_ => 0.0,
	};
	let submit_rate = if m.send_end.as_secs_f64() > 0.0 {
		(m.outcomes.iter().filter(|o| o.result.is_some()).count() as f64) / m.send_end.as_secs_f64()
	} else {
		0.0
	};

	// Theoretical maximum per block.
	let tx_len = m.sends.iter().find_map(|s| match &s.kind {
		SendKind::Transaction { bytes, .. } => Some(bytes.len() as u64),
		SendKind::Read { .. } => None,
	});
	let limits = blocks.first().map(|b| (b.normal_limit, b.length_limit));
	let base = m.tracker.base_extrinsic();
	let theoretical_per_block = match (m.call_weight, limits) {
		(Some(w), Some((wl, ll))) if w + base > 0 => {
			let by_weight = wl / (w + base);
			let by_length = tx_len
				.filter(|l| *l > 0)
				.map(|l| ll / l)
				.unwrap_or(u64::MAX);
			Some(by_weight.min(by_length))
		}
		_ => None,
	};

	let target_total = m.rate.expected(m.duration);
	let (limit, limit_detail) = which_limit(WhichLimit {
		blocks: &blocks,
		submitted,
		target_total,
		sent: m.outcomes.iter().filter(|o| o.result.is_some()).count() as u64,
		behind_ms: m
			.outcomes
			.iter()
			.filter_map(|o| o.behind_ms)
			.fold(0.0, f64::max),
		throttled: m.outcomes.iter().filter(|o| o.throttled).count() as u64,
		max_in_flight: m.profile.bounds.max_in_flight,
		rejected: &rejected,
		failed_by: &failed_by,
		dropped,
		theoretical_per_block,
		proposal_ends: m.tracker.proposal_ends(),
	});

	StressRecord {
		seq: m.opts.seq,
		profile: m.profile.name.clone(),
		profile_file: m.opts.profile_shown.clone(),
		started_at: m.started_at,
		finished_at: m.finished_at,
		target: m.rate.label(),
		duration_ms: m.duration.as_millis() as u64,
		accounts: m.accounts as u64,
		connections: m.connections as u64,
		signed: m.signed,
		signing_ms: m.signing_ms,
		submitted,
		accepted,
		included,
		failed,
		dropped,
		rejected: counts(rejected),
		failed_by: counts(failed_by),
		submit_rate,
		included_tps,
		latency,
		read_latency,
		theoretical_per_block,
		limit,
		limit_detail,
		calls: per_call.into_values().collect(),
		blocks,
		error: None,
	}
}

fn counts(map: BTreeMap<String, u64>) -> Vec<ReasonCount> {
	let mut v: Vec<ReasonCount> = map
		.into_iter()
		.map(|(reason, count)| ReasonCount { reason, count })
		.collect();
	v.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
	v
}

struct WhichLimit<'a> {
	blocks: &'a [StressBlock],
	submitted: u64,
	target_total: f64,
	sent: u64,
	behind_ms: f64,
	throttled: u64,
	max_in_flight: u64,
	rejected: &'a BTreeMap<String, u64>,
	failed_by: &'a BTreeMap<String, u64>,
	dropped: u64,
	theoretical_per_block: Option<u64>,
	/// Why the loaded node's proposer ended its proposals during the load.
	proposal_ends: BTreeMap<String, u64>,
}

/// Whether an error name is a rate limit.
pub(crate) fn is_rate_limit(name: &str) -> bool {
	let n = name.to_ascii_lowercase();
	[
		"ratelimit",
		"rate-limit",
		"rate limit",
		"toofast",
		"toomany",
	]
	.iter()
	.any(|k| n.contains(k))
}

/// Which limit stopped growth, with what backs it (and why the author's proposals ended,
/// when its metrics were read).
fn which_limit(w: WhichLimit<'_>) -> (String, String) {
	let ends = &w.proposal_ends;
	let (limit, mut detail) = which_limit_inner(&w);
	if !ends.is_empty() {
		detail.push_str(&format!(
			"; the author's proposals ended by {}",
			ends.iter()
				.map(|(k, v)| format!("{k} × {v}"))
				.collect::<Vec<_>>()
				.join(", ")
		));
	}
	(limit, detail)
}

fn which_limit_inner(w: &WhichLimit<'_>) -> (String, String) {
	let loaded: Vec<&StressBlock> = w.blocks.iter().filter(|b| b.ours > 0).collect();
	let n = loaded.len().max(1) as f64;
	let full = |f: &dyn Fn(&StressBlock) -> f64| loaded.iter().filter(|b| f(b) >= 0.9).count();
	let weight_full = full(&|b| {
		if b.normal_limit == 0 {
			0.0
		} else {
			b.normal_weight as f64 / b.normal_limit as f64
		}
	});
	let length_full = full(&|b| {
		if b.length_limit == 0 {
			0.0
		} else {
			b.length as f64 / b.length_limit as f64
		}
	});
	let best = loaded.iter().map(|b| b.ours).max().unwrap_or(0);
	let share = |x: u64, of: u64| {
		if of == 0 {
			0.0
		} else {
			x as f64 * 100.0 / of as f64
		}
	};
	let max_weight_pct = loaded
		.iter()
		.map(|b| share(b.normal_weight, b.normal_limit))
		.fold(0.0, f64::max);
	if !loaded.is_empty() && weight_full as f64 >= n * 0.3 {
		return (
			"weight".into(),
			format!(
				"{weight_full} of {} loaded blocks at ≥ 90 % of the normal-class weight limit \
				 (best block: {best} of the load's transactions{})",
				loaded.len(),
				w.theoretical_per_block
					.map(|t| format!(", theoretical maximum {t}"))
					.unwrap_or_default()
			),
		);
	}
	if !loaded.is_empty() && length_full as f64 >= n * 0.3 {
		return (
			"length".into(),
			format!(
				"{length_full} of {} loaded blocks at ≥ 90 % of the normal-class length limit",
				loaded.len()
			),
		);
	}
	let rate_limited: u64 = w
		.rejected
		.iter()
		.filter(|(k, _)| k.as_str() == "rate-limited")
		.map(|(_, v)| *v)
		.sum::<u64>()
		+ w.failed_by
			.iter()
			.filter(|(k, _)| is_rate_limit(k))
			.map(|(_, v)| *v)
			.sum::<u64>();
	if rate_limited * 20 > w.submitted.max(1) {
		return (
			"rate-limit".into(),
			format!(
				"{rate_limited} of {} transactions refused or failed by a rate limit",
				w.submitted
			),
		);
	}
	let pool: u64 = w
		.rejected
		.iter()
		.filter(|(k, _)| matches!(k.as_str(), "pool-full" | "priority-too-low"))
		.map(|(_, v)| *v)
		.sum::<u64>()
		+ w.dropped;
	if pool * 20 > w.submitted.max(1) {
		return (
			"pool".into(),
			format!(
				"{pool} of {} transactions refused as pool full / priority too low or dropped",
				w.submitted
			),
		);
	}
	let behind = (w.sent as f64) < w.target_total * 0.95 || w.behind_ms > 1000.0;
	if behind && w.throttled * 20 > w.sent.max(1) {
		return (
			"pool".into(),
			format!(
				"the node took submissions more slowly than the target: {} sends waited for the \
				 {} unanswered before them (at worst {:.0} ms behind schedule); its pool intake, \
				 not stagenet, set the pace",
				w.throttled, w.max_in_flight, w.behind_ms
			),
		);
	}
	if behind {
		return (
			"generator".into(),
			format!(
				"sent {} of the {:.0} the target asked for; at worst {:.0} ms behind schedule",
				w.sent, w.target_total, w.behind_ms
			),
		);
	}
	let pool_backlog = loaded
		.iter()
		.filter(|b| b.pool_ready.is_some_and(|r| r > b.ours))
		.count();
	let deadline = w.proposal_ends.get("hit_deadline").copied().unwrap_or(0);
	let proposals: u64 = w.proposal_ends.values().sum();
	if !loaded.is_empty()
		&& max_weight_pct < 90.0
		&& (pool_backlog as f64 >= n * 0.5 || (proposals > 0 && deadline * 2 >= proposals))
	{
		return (
			"authoring-time".into(),
			format!(
				"in {pool_backlog} of {} loaded blocks the pool held more ready transactions than \
				 the block took, while no block passed {max_weight_pct:.0} % of the normal weight \
				 limit: the author ran out of proposal time",
				loaded.len()
			),
		);
	}
	(
		"none".into(),
		format!(
			"the target was met: {} sent as scheduled (at worst {:.0} ms behind), blocks at most \
			 {max_weight_pct:.0} % of the normal weight limit",
			w.sent, w.behind_ms
		),
	)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn schedules_follow_the_rate_and_stop_at_the_bound() {
		let plan = schedule(&Rate::Constant(100.0), Duration::from_secs(2), None);
		assert!((199..=201).contains(&plan.len()), "{}", plan.len());
		assert!(plan.windows(2).all(|w| w[0].at <= w[1].at));
		let capped = schedule(&Rate::Constant(100.0), Duration::from_secs(2), Some(50));
		assert_eq!(capped.len(), 50);
		let ramp = schedule(
			&Rate::Ramp {
				from: 0.0,
				to: 200.0,
				over: Duration::from_secs(2),
			},
			Duration::from_secs(2),
			None,
		);
		assert!((198..=201).contains(&ramp.len()), "{}", ramp.len());
		// A ramp sends more in its second half.
		let half = ramp
			.iter()
			.filter(|p| p.at < Duration::from_secs(1))
			.count();
		assert!(half * 2 < ramp.len(), "{half} of {}", ramp.len());
	}

	#[test]
	fn the_picker_keeps_the_mix_weights() {
		let mut p = SmoothPicker::new(&[3, 1]);
		let picks: Vec<usize> = (0..8).map(|_| p.next()).collect();
		assert_eq!(picks.iter().filter(|i| **i == 0).count(), 6);
		assert_eq!(picks.iter().filter(|i| **i == 1).count(), 2);
	}

	#[test]
	fn percentiles_are_nearest_rank() {
		let v: Vec<f64> = (1..=100).map(|x| x as f64).collect();
		let p = Percentiles::of(&v);
		assert_eq!(
			(p.p50, p.p95, p.p99, p.max, p.count),
			(50.0, 95.0, 99.0, 100.0, 100)
		);
		assert_eq!(Percentiles::of(&[]).count, 0);
	}

	fn block(ours: u64, weight: u64, pool: Option<u64>) -> StressBlock {
		StressBlock {
			number: 1,
			timestamp: None,
			block_time_ms: None,
			extrinsics: ours + 1,
			ours,
			normal_weight: weight,
			normal_limit: 100,
			length: 10,
			length_limit: 1000,
			finality_lag: None,
			pool_ready: pool,
		}
	}

	#[test]
	fn the_limit_is_named_from_what_was_measured() {
		let none = BTreeMap::new();
		let args = |blocks: &'static [StressBlock]| WhichLimit {
			blocks,
			submitted: 1000,
			target_total: 1000.0,
			sent: 1000,
			behind_ms: 5.0,
			throttled: 0,
			max_in_flight: 100,
			rejected: &none,
			failed_by: &none,
			dropped: 0,
			theoretical_per_block: Some(100),
			proposal_ends: BTreeMap::new(),
		};
		let full: &'static [StressBlock] =
			Box::leak(vec![block(95, 95, Some(500)), block(96, 96, Some(400))].into_boxed_slice());
		assert_eq!(which_limit(args(full)).0, "weight");
		let light: &'static [StressBlock] =
			Box::leak(vec![block(10, 10, Some(0)), block(10, 10, Some(0))].into_boxed_slice());
		assert_eq!(which_limit(args(light)).0, "none");
		let mut behind = args(light);
		behind.sent = 500;
		assert_eq!(which_limit(behind).0, "generator");
		let mut slow_node = args(light);
		slow_node.sent = 500;
		slow_node.throttled = 400;
		assert_eq!(which_limit(slow_node).0, "pool");
		let mut pool = BTreeMap::new();
		pool.insert("pool-full".to_string(), 300u64);
		let mut refused = args(light);
		refused.rejected = &pool;
		assert_eq!(which_limit(refused).0, "pool");
		let mut rl = BTreeMap::new();
		rl.insert("Subnets::SettingWeightsTooFast".to_string(), 300u64);
		let mut limited = args(light);
		limited.failed_by = &rl;
		assert_eq!(which_limit(limited).0, "rate-limit");
		let backlog: &'static [StressBlock] =
			Box::leak(vec![block(10, 10, Some(900)), block(10, 10, Some(800))].into_boxed_slice());
		assert_eq!(which_limit(args(backlog)).0, "authoring-time");
	}
}
