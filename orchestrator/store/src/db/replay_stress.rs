//! Replays and stress loads: one row each (table `replays`, `stresses`, migration 2), keyed by
//! `(run_id, seq)`, scalar columns plus JSON text for their lists and latency percentiles.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{to_json, u64_to_db, Fields, Store};
use crate::error::StoreError;
use crate::model::{Percentiles, ReplayRecord, StressRecord};

/// The two kinds of record numbered by `seq` here.
#[derive(Clone, Copy)]
enum Numbered {
	Replay,
	Stress,
}

impl Numbered {
	fn table(self) -> &'static str {
		match self {
			Numbered::Replay => "replays",
			Numbered::Stress => "stresses",
		}
	}

	fn noun(self) -> &'static str {
		match self {
			Numbered::Replay => "replay",
			Numbered::Stress => "stress load",
		}
	}
}

const REPLAY_COLUMNS: &str = "SELECT seq, capture, capture_chain, from_block, to_block, rate, \
	started_at, finished_at, fork_runtime, captured_blocks, fork_from, fork_to, replayed, \
	matched, skipped_unsigned, skipped_inherents, undecodable, divergences, calls, semantics, \
	error FROM replays";

const STRESS_COLUMNS: &str = "SELECT seq, profile, profile_file, started_at, finished_at, \
	load_target, duration_ms, accounts, connections, signed_count, signing_ms, submitted, \
	accepted, included, failed, dropped, rejected, failed_by, submit_rate, included_tps, latency, \
	read_latency, theoretical_per_block, limit_kind, limit_detail, calls, blocks, error \
	FROM stresses";

impl Store {
	/// Records a replay, replacing a previous record with the same `seq` (a replay's record is
	/// completed as it progresses).
	pub async fn put_replay(&self, run_id: &str, replay: &ReplayRecord) -> Result<(), StoreError> {
		let invalid = |reason| StoreError::InvalidRecord {
			run: run_id.to_string(),
			record: format!("replay #{}", replay.seq),
			reason,
		};
		let divergences = to_json(&replay.divergences).map_err(invalid)?;
		let calls = to_json(&replay.calls).map_err(invalid)?;
		let semantics = to_json(&replay.semantics).map_err(invalid)?;
		let result = sqlx::query(
			"INSERT INTO replays (run_id, seq, capture, capture_chain, from_block, to_block, \
			 rate, started_at, finished_at, fork_runtime, captured_blocks, fork_from, fork_to, \
			 replayed, matched, skipped_unsigned, skipped_inherents, undecodable, divergences, \
			 calls, semantics, error) \
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
			 $17, $18, $19, $20, $21, $22) \
			 ON CONFLICT (run_id, seq) DO UPDATE SET capture = excluded.capture, \
			 capture_chain = excluded.capture_chain, from_block = excluded.from_block, \
			 to_block = excluded.to_block, rate = excluded.rate, \
			 started_at = excluded.started_at, finished_at = excluded.finished_at, \
			 fork_runtime = excluded.fork_runtime, captured_blocks = excluded.captured_blocks, \
			 fork_from = excluded.fork_from, fork_to = excluded.fork_to, \
			 replayed = excluded.replayed, matched = excluded.matched, \
			 skipped_unsigned = excluded.skipped_unsigned, \
			 skipped_inherents = excluded.skipped_inherents, \
			 undecodable = excluded.undecodable, divergences = excluded.divergences, \
			 calls = excluded.calls, semantics = excluded.semantics, error = excluded.error",
		)
		.bind(run_id)
		.bind(i64::from(replay.seq))
		.bind(&replay.capture)
		.bind(&replay.capture_chain)
		.bind(u64_to_db(replay.from_block))
		.bind(u64_to_db(replay.to_block))
		.bind(&replay.rate)
		.bind(replay.started_at)
		.bind(replay.finished_at)
		.bind(&replay.fork_runtime)
		.bind(u64_to_db(replay.blocks))
		.bind(replay.fork_from.map(u64_to_db))
		.bind(replay.fork_to.map(u64_to_db))
		.bind(u64_to_db(replay.replayed))
		.bind(u64_to_db(replay.matched))
		.bind(u64_to_db(replay.skipped_unsigned))
		.bind(u64_to_db(replay.skipped_inherents))
		.bind(u64_to_db(replay.undecodable))
		.bind(&divergences)
		.bind(&calls)
		.bind(&semantics)
		.bind(replay.error.as_deref())
		.execute(&self.pool)
		.await;
		match result {
			Ok(_) => Ok(()),
			Err(e) => Err(self
				.write_error(
					run_id,
					format!("record replay #{} of run `{run_id}`", replay.seq),
					None,
					e,
				)
				.await),
		}
	}

	/// Records a stress load, replacing a previous record with the same `seq` (a load's record
	/// is completed as it progresses). Its rates and latencies must be finite numbers.
	pub async fn put_stress(&self, run_id: &str, stress: &StressRecord) -> Result<(), StoreError> {
		let invalid = |reason| StoreError::InvalidRecord {
			run: run_id.to_string(),
			record: format!("stress load #{}", stress.seq),
			reason,
		};
		finite_stress(stress).map_err(invalid)?;
		let rejected = to_json(&stress.rejected).map_err(invalid)?;
		let failed_by = to_json(&stress.failed_by).map_err(invalid)?;
		let latency = to_json(&stress.latency).map_err(invalid)?;
		let read_latency = match &stress.read_latency {
			Some(p) => Some(to_json(p).map_err(invalid)?),
			None => None,
		};
		let calls = to_json(&stress.calls).map_err(invalid)?;
		let blocks = to_json(&stress.blocks).map_err(invalid)?;
		let result = sqlx::query(
			"INSERT INTO stresses (run_id, seq, profile, profile_file, started_at, finished_at, \
			 load_target, duration_ms, accounts, connections, signed_count, signing_ms, \
			 submitted, accepted, included, failed, dropped, rejected, failed_by, submit_rate, \
			 included_tps, latency, read_latency, theoretical_per_block, limit_kind, \
			 limit_detail, calls, blocks, error) \
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
			 $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29) \
			 ON CONFLICT (run_id, seq) DO UPDATE SET profile = excluded.profile, \
			 profile_file = excluded.profile_file, started_at = excluded.started_at, \
			 finished_at = excluded.finished_at, load_target = excluded.load_target, \
			 duration_ms = excluded.duration_ms, accounts = excluded.accounts, \
			 connections = excluded.connections, signed_count = excluded.signed_count, \
			 signing_ms = excluded.signing_ms, submitted = excluded.submitted, \
			 accepted = excluded.accepted, included = excluded.included, \
			 failed = excluded.failed, dropped = excluded.dropped, \
			 rejected = excluded.rejected, failed_by = excluded.failed_by, \
			 submit_rate = excluded.submit_rate, included_tps = excluded.included_tps, \
			 latency = excluded.latency, read_latency = excluded.read_latency, \
			 theoretical_per_block = excluded.theoretical_per_block, \
			 limit_kind = excluded.limit_kind, limit_detail = excluded.limit_detail, \
			 calls = excluded.calls, blocks = excluded.blocks, error = excluded.error",
		)
		.bind(run_id)
		.bind(i64::from(stress.seq))
		.bind(&stress.profile)
		.bind(&stress.profile_file)
		.bind(stress.started_at)
		.bind(stress.finished_at)
		.bind(&stress.target)
		.bind(u64_to_db(stress.duration_ms))
		.bind(u64_to_db(stress.accounts))
		.bind(u64_to_db(stress.connections))
		.bind(u64_to_db(stress.signed))
		.bind(u64_to_db(stress.signing_ms))
		.bind(u64_to_db(stress.submitted))
		.bind(u64_to_db(stress.accepted))
		.bind(u64_to_db(stress.included))
		.bind(u64_to_db(stress.failed))
		.bind(u64_to_db(stress.dropped))
		.bind(&rejected)
		.bind(&failed_by)
		.bind(stress.submit_rate)
		.bind(stress.included_tps)
		.bind(&latency)
		.bind(read_latency.as_deref())
		.bind(stress.theoretical_per_block.map(u64_to_db))
		.bind(&stress.limit)
		.bind(&stress.limit_detail)
		.bind(&calls)
		.bind(&blocks)
		.bind(stress.error.as_deref())
		// `FLOAT_NULL` does not apply: both `f64`s are always bound (never `None`), and the
		// optional percentiles are JSON text.
		.execute(&self.pool)
		.await;
		match result {
			Ok(_) => Ok(()),
			Err(e) => Err(self
				.write_error(
					run_id,
					format!("record stress load #{} of run `{run_id}`", stress.seq),
					None,
					e,
				)
				.await),
		}
	}

	/// The `seq` of the run's next replay: one more than the highest recorded, 0 when none is.
	pub async fn next_replay_seq(&self, run_id: &str) -> Result<u32, StoreError> {
		self.next_seq(run_id, Numbered::Replay).await
	}

	/// The `seq` of the run's next stress load: one more than the highest recorded, 0 when none
	/// is.
	pub async fn next_stress_seq(&self, run_id: &str) -> Result<u32, StoreError> {
		self.next_seq(run_id, Numbered::Stress).await
	}

	async fn next_seq(&self, run_id: &str, what: Numbered) -> Result<u32, StoreError> {
		let rows = sqlx::query(&format!(
			"SELECT seq FROM {} WHERE run_id = $1 ORDER BY seq DESC LIMIT 1",
			what.table()
		))
		.bind(run_id)
		.fetch_all(&self.pool)
		.await
		.map_err(|source| StoreError::Query {
			action: format!("number the next {} of run `{run_id}`", what.noun()),
			source,
		})?;
		let Some(row) = rows.first() else {
			if !self.run_exists(run_id).await? {
				return Err(self.run_not_found(run_id).await);
			}
			return Ok(0);
		};
		let last = Fields::new(row, run_id, what.noun()).u32("seq")?;
		last.checked_add(1)
			.ok_or_else(|| StoreError::InvalidRecord {
				run: run_id.to_string(),
				record: format!("the next {}", what.noun()),
				reason: format!("{} #{last} is recorded and is the last number", what.noun()),
			})
	}
}

/// Why a stress record cannot be stored faithfully, if so: SQLite stores a `NaN` as `NULL`,
/// and JSON has no infinities.
fn finite_stress(stress: &StressRecord) -> Result<(), String> {
	let mut values = vec![
		("submit_rate", stress.submit_rate),
		("included_tps", stress.included_tps),
	];
	let mut percentiles = |name: &'static str, p: &Percentiles| {
		values.extend([(name, p.p50), (name, p.p95), (name, p.p99), (name, p.max)]);
	};
	percentiles("latency", &stress.latency);
	if let Some(p) = &stress.read_latency {
		percentiles("read_latency", p);
	}
	match values.into_iter().find(|(_, v)| !v.is_finite()) {
		Some((name, v)) => Err(format!("`{name}` holds `{v}`, not a finite number")),
		None => Ok(()),
	}
}

/// The replays of a run, by `seq`.
pub(super) async fn read_replays(
	conn: &mut AnyConnection,
	run_id: &str,
) -> Result<Vec<ReplayRecord>, StoreError> {
	let rows = sqlx::query(&format!("{REPLAY_COLUMNS} WHERE run_id = $1 ORDER BY seq"))
		.bind(run_id)
		.fetch_all(&mut *conn)
		.await
		.map_err(|source| StoreError::Query {
			action: format!("read the replays of run `{run_id}`"),
			source,
		})?;
	rows.iter().map(|row| read_replay(row, run_id)).collect()
}

/// The stress loads of a run, by `seq`.
pub(super) async fn read_stresses(
	conn: &mut AnyConnection,
	run_id: &str,
) -> Result<Vec<StressRecord>, StoreError> {
	let rows = sqlx::query(&format!("{STRESS_COLUMNS} WHERE run_id = $1 ORDER BY seq"))
		.bind(run_id)
		.fetch_all(&mut *conn)
		.await
		.map_err(|source| StoreError::Query {
			action: format!("read the stress loads of run `{run_id}`"),
			source,
		})?;
	rows.iter().map(|row| read_stress(row, run_id)).collect()
}

fn read_replay(row: &AnyRow, run_id: &str) -> Result<ReplayRecord, StoreError> {
	let f = Fields::new(row, run_id, "replay");
	Ok(ReplayRecord {
		seq: f.u32("seq")?,
		capture: f.text("capture")?,
		capture_chain: f.text("capture_chain")?,
		from_block: f.u64("from_block")?,
		to_block: f.u64("to_block")?,
		rate: f.text("rate")?,
		started_at: f.i64("started_at")?,
		finished_at: f.i64("finished_at")?,
		fork_runtime: f.text("fork_runtime")?,
		blocks: f.u64("captured_blocks")?,
		fork_from: f.opt_u64("fork_from")?,
		fork_to: f.opt_u64("fork_to")?,
		replayed: f.u64("replayed")?,
		matched: f.u64("matched")?,
		skipped_unsigned: f.u64("skipped_unsigned")?,
		skipped_inherents: f.u64("skipped_inherents")?,
		undecodable: f.u64("undecodable")?,
		divergences: f.json("divergences")?,
		calls: f.json("calls")?,
		semantics: f.json("semantics")?,
		error: f.opt_text("error")?,
	})
}

fn read_stress(row: &AnyRow, run_id: &str) -> Result<StressRecord, StoreError> {
	let f = Fields::new(row, run_id, "stress load");
	Ok(StressRecord {
		seq: f.u32("seq")?,
		profile: f.text("profile")?,
		profile_file: f.text("profile_file")?,
		started_at: f.i64("started_at")?,
		finished_at: f.i64("finished_at")?,
		target: f.text("load_target")?,
		duration_ms: f.u64("duration_ms")?,
		accounts: f.u64("accounts")?,
		connections: f.u64("connections")?,
		signed: f.u64("signed_count")?,
		signing_ms: f.u64("signing_ms")?,
		submitted: f.u64("submitted")?,
		accepted: f.u64("accepted")?,
		included: f.u64("included")?,
		failed: f.u64("failed")?,
		dropped: f.u64("dropped")?,
		rejected: f.json("rejected")?,
		failed_by: f.json("failed_by")?,
		submit_rate: f.f64("submit_rate")?,
		included_tps: f.f64("included_tps")?,
		latency: f.json("latency")?,
		read_latency: f.opt_json("read_latency")?,
		theoretical_per_block: f.opt_u64("theoretical_per_block")?,
		limit: f.text("limit_kind")?,
		limit_detail: f.text("limit_detail")?,
		calls: f.json("calls")?,
		blocks: f.json("blocks")?,
		error: f.opt_text("error")?,
	})
}
