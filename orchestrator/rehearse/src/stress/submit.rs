//! The open-loop submitter: every send leaves at its scheduled time whatever the node answered
//! to earlier ones, spread over several WebSocket connections, with a bound on the sends
//! awaiting an answer. When that bound or the machine holds it back, the delay is recorded
//! (the generator is then the limit, and the report says so).

use jsonrpsee::{
	core::{client::ClientT, params::ArrayParams},
	ws_client::WsClientBuilder,
};
use std::{
	sync::Arc,
	time::{Duration, Instant},
};
use tokio::{sync::Semaphore, task::JoinSet};

/// What a send carries.
#[derive(Debug, Clone)]
pub(crate) enum SendKind {
	/// A signed transaction.
	Transaction {
		/// Its encoding.
		bytes: Vec<u8>,
		/// blake2-256 of `bytes`.
		hash: [u8; 32],
	},
	/// A JSON-RPC read.
	Read {
		/// Method.
		method: String,
		/// Parameters.
		params: Vec<serde_json::Value>,
	},
}

/// One scheduled send.
#[derive(Debug, Clone)]
pub(crate) struct Send {
	/// Offset from the start of the load.
	pub at: Duration,
	/// Index into the profile's mix.
	pub entry: usize,
	/// What it carries.
	pub kind: SendKind,
}

/// What happened to a send.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
	/// `None`: never sent (the load stopped first); `Ok`: accepted (answered); `Err`: the
	/// rejection reason.
	pub result: Option<Result<(), String>>,
	/// When it was sent (ms since the start).
	pub sent_ms: Option<f64>,
	/// Time to the answer (ms).
	pub answered_ms: Option<f64>,
	/// How late it left against its schedule (ms).
	pub behind_ms: Option<f64>,
	/// Whether it had to wait for an earlier send's answer (the in-flight bound was reached:
	/// the node took submissions more slowly than they were sent).
	pub throttled: bool,
}

/// A pool rejection (or RPC failure) by reason: `pool-full`, `priority-too-low`,
/// `rate-limited`, `already-imported`, `banned`, `invalid: <why>`, `rpc: <why>`.
pub(crate) fn classify(message: &str) -> String {
	let m = message.to_ascii_lowercase();
	if m.contains("1016") || m.contains("immediately dropped") || m.contains("pool is full") {
		"pool-full".into()
	} else if m.contains("1014") || m.contains("priority is too low") {
		"priority-too-low".into()
	} else if m.contains("rate limit") || m.contains("ratelimit") || m.contains("rate-limit") {
		"rate-limited".into()
	} else if m.contains("1013") || m.contains("already imported") {
		"already-imported".into()
	} else if m.contains("1012") || m.contains("temporarily banned") {
		"banned".into()
	} else if m.contains("1010") || m.contains("invalid transaction") {
		let why = [
			"exhaust",
			"outdated",
			"stale",
			"future",
			"pay",
			"bad signature",
			"custom",
		]
		.iter()
		.find(|k| m.contains(*k))
		.map(|k| match *k {
			"exhaust" => "exhausts resources",
			"outdated" | "stale" => "stale nonce",
			"future" => "future",
			"pay" => "cannot pay fees",
			"bad signature" => "bad signature",
			_ => "custom",
		})
		.unwrap_or("other");
		format!("invalid: {why}")
	} else {
		let short: String = message.chars().take(60).collect();
		format!("rpc: {short}")
	}
}

/// Sends every item of `sends` at `start + at`, over `connections` connections to `url`,
/// with at most `max_in_flight` unanswered. Returns one outcome per send.
pub(crate) async fn run(
	url: &str,
	connections: usize,
	max_in_flight: usize,
	sends: &[Send],
	start: Instant,
	progress: &mut (dyn FnMut(&str) + std::marker::Send),
) -> Result<Vec<Outcome>, String> {
	let mut clients = Vec::new();
	for c in 0..connections.max(1) {
		let client = WsClientBuilder::default()
			.max_concurrent_requests(max_in_flight.max(1))
			.request_timeout(Duration::from_secs(60))
			.max_request_size(16 * 1024 * 1024)
			.build(url)
			.await
			.map_err(|e| format!("open connection {} of {connections} to {url}: {e}", c + 1))?;
		clients.push(Arc::new(client));
	}
	let permits = Arc::new(Semaphore::new(max_in_flight.max(1)));
	let mut outcomes = vec![Outcome::default(); sends.len()];
	let mut tasks: JoinSet<(usize, Result<(), String>, f64)> = JoinSet::new();
	let mut last_report = Instant::now();
	let (mut sent, mut ok, mut refused) = (0u64, 0u64, 0u64);
	let collect = |r: (usize, Result<(), String>, f64),
	               outcomes: &mut Vec<Outcome>,
	               ok: &mut u64,
	               refused: &mut u64| {
		let (i, result, answered) = r;
		if result.is_ok() {
			*ok += 1;
		} else {
			*refused += 1;
		}
		if let Some(o) = outcomes.get_mut(i) {
			o.result = Some(result);
			o.answered_ms = Some(answered);
		}
	};
	for (i, send) in sends.iter().enumerate() {
		let due = start + send.at;
		let now = Instant::now();
		if due > now + Duration::from_millis(1) {
			tokio::time::sleep_until(due.into()).await;
		}
		while let Some(Ok(r)) = tasks.try_join_next() {
			collect(r, &mut outcomes, &mut ok, &mut refused);
		}
		let mut throttled = false;
		let permit = match permits.clone().try_acquire_owned() {
			Ok(p) => p,
			Err(_) => {
				throttled = true;
				permits
					.clone()
					.acquire_owned()
					.await
					.map_err(|e| format!("in-flight bound: {e}"))?
			}
		};
		let left = Instant::now();
		if let Some(o) = outcomes.get_mut(i) {
			o.sent_ms = Some(left.duration_since(start).as_secs_f64() * 1000.0);
			o.behind_ms = Some(left.saturating_duration_since(due).as_secs_f64() * 1000.0);
			o.throttled = throttled;
		}
		let client = clients[i % clients.len()].clone();
		let (method, params) = match &send.kind {
			SendKind::Transaction { bytes, .. } => {
				let mut p = ArrayParams::new();
				p.insert(format!("0x{}", hex::encode(bytes)))
					.map_err(|e| format!("encode a request: {e}"))?;
				("author_submitExtrinsic".to_string(), p)
			}
			SendKind::Read { method, params } => {
				let mut p = ArrayParams::new();
				for v in params {
					p.insert(v).map_err(|e| format!("encode a request: {e}"))?;
				}
				(method.clone(), p)
			}
		};
		tasks.spawn(async move {
			let asked = Instant::now();
			let r = client
				.request::<serde_json::Value, _>(&method, params)
				.await
				.map(|_| ())
				.map_err(|e| classify(&e.to_string()));
			drop(permit);
			(i, r, asked.elapsed().as_secs_f64() * 1000.0)
		});
		sent += 1;
		if last_report.elapsed() >= Duration::from_secs(5) {
			last_report = Instant::now();
			progress(&format!(
				"stress: {:.0} s: {sent} sent, {ok} accepted, {refused} refused, {} awaiting an answer",
				start.elapsed().as_secs_f64(),
				tasks.len()
			));
		}
	}
	while let Some(r) = tasks.join_next().await {
		match r {
			Ok(r) => collect(r, &mut outcomes, &mut ok, &mut refused),
			Err(e) => return Err(format!("a submission task failed: {e}")),
		}
	}
	progress(&format!(
		"stress: sending done after {:.1} s: {sent} sent, {ok} accepted, {refused} refused",
		start.elapsed().as_secs_f64()
	));
	drop(clients);
	Ok(outcomes)
}

#[cfg(test)]
mod tests {
	use super::classify;

	#[test]
	fn pool_rejections_are_classified() {
		assert_eq!(
			classify("ErrorObject { code: ServerError(1016), message: \"Immediately Dropped\" }"),
			"pool-full"
		);
		assert_eq!(
			classify("code 1014: Priority is too low: (1 vs 1)"),
			"priority-too-low"
		);
		assert_eq!(
			classify("1010: Invalid Transaction: Transaction is outdated"),
			"invalid: stale nonce"
		);
		assert_eq!(
			classify("1010: Invalid Transaction: Custom error: 6 (rate limit exceeded)"),
			"rate-limited"
		);
		assert_eq!(
			classify("1013: Transaction Already Imported"),
			"already-imported"
		);
		assert!(classify("connection closed").starts_with("rpc: "));
	}
}
