//! The sqlx store: one code path (`sqlx::Any`) for SQLite (a file, the default) and Postgres
//! (a `postgres://` URL).
//!
//! # Representation
//!
//! - Every integer column is `BIGINT`. A `u64` (block number, weight, length, limit) is stored
//!   as its 64 bits reinterpreted as an `i64` ([`u64_to_db`]), so `u64::MAX` ("no limit") is
//!   stored as `-1` and reads back as `u64::MAX`. Block numbers sort correctly below `2^63`.
//! - Booleans are `BIGINT` 0/1 (`NULL` for an unknown `Option<bool>`), the same on both
//!   backends.
//! - Nested lists (node heights, finding context, upgrade events and diff, replay divergences,
//!   stress blocks, …), latency percentiles and event fields are JSON in `TEXT` columns.
//! - Enums ([`Verdict`], [`FindingKind`]) are stored by their kebab-case names.
//!
//! Placeholders are `$1`, `$2`, …: Postgres' own syntax, and SQLite reads `$NNN` as the
//! NNN-th argument.
//!
//! The schema is in `migrations/` (versioned, applied on [`Store::open`]). A database that
//! has a migration this build does not know was written by a newer stagenet and is refused.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Row};

use crate::error::StoreError;
use crate::model::{
	BlockLimits, BlockRecord, EventRecord, ExtrinsicRecord, Finding, FindingKind, GateResult,
	NodeRecord, PerClass, RunRecord, RunReport, StepRecord, UpgradeRecord, Verdict,
	REPORT_SCHEMA_VERSION,
};

mod replay_stress;

/// The store's schema migrations (`orchestrator/store/migrations`).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

// FLOAT_NULL: sqlx 0.8's `Any` binds a `None::<f64>` as a `float4` NULL on Postgres (and a
// `Some` as `float8`). A cached prepared statement keeps the parameter types of its first
// execution, so a statement first run with `None` then fails with `Some` ("incorrect binary
// data format"). Statements that bind an `Option<f64>` are therefore not cached
// (`.persistent(false)`): each execution is prepared with its own types.

/// How long a query waits for a free connection of the pool (connecting included).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Store::open`] waits for the database to answer the connection (the protocol
/// handshake and the log-in): something that accepts TCP but is not a database server never
/// answers.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`Store::open`] waits for the schema check and migrations once connected.
pub const PREPARE_TIMEOUT: Duration = Duration::from_secs(30);

/// Stores a `u64` in a `BIGINT` column: its bits reinterpreted as an `i64` (`u64::MAX` → -1).
pub fn u64_to_db(value: u64) -> i64 {
	value as i64
}

/// Reads back what [`u64_to_db`] stored.
pub fn u64_from_db(value: i64) -> u64 {
	value as u64
}

/// The database behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
	Sqlite,
	Postgres,
}

impl Backend {
	fn as_str(self) -> &'static str {
		match self {
			Backend::Sqlite => "sqlite",
			Backend::Postgres => "postgres",
		}
	}
}

/// A parsed `Store::open` target.
struct Target {
	backend: Backend,
	/// The URL sqlx connects to.
	url: String,
	/// The file path, or the URL with its password hidden: for messages.
	display: String,
}

/// The run record in a SQLite file or a Postgres database.
///
/// Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
	pool: AnyPool,
	backend: Backend,
	target: String,
}

impl Store {
	/// Opens the store at `target` and brings its schema up to date.
	///
	/// `target` is a file path (`runs.db`), a `sqlite:` URL (`sqlite:runs.db`,
	/// `sqlite:///abs/runs.db`) or a `postgres://` URL (`postgres://user:pw@host:5432/db`).
	/// A SQLite file and its directory are created when missing. A database with a schema
	/// migration this stagenet does not know is refused ([`StoreError::NewerSchema`]).
	pub async fn open(target: &str) -> Result<Store, StoreError> {
		Self::open_with(target, true).await
	}

	/// Opens a store that must exist already, for a reader (a report): a SQLite file that is
	/// not there is refused ([`StoreError::Absent`]) instead of being created empty. A
	/// Postgres database is opened as by [`Store::open`].
	pub async fn open_existing(target: &str) -> Result<Store, StoreError> {
		Self::open_with(target, false).await
	}

	async fn open_with(target: &str, create: bool) -> Result<Store, StoreError> {
		let target = parse_target(target, create)?;
		sqlx::any::install_default_drivers();
		let timeout = |awaited: &'static str, after: Duration| StoreError::Timeout {
			backend: target.backend.as_str(),
			target: target.display.clone(),
			awaited,
			after_secs: after.as_secs(),
		};
		let connect_error = |source: sqlx::Error| StoreError::Connect {
			backend: target.backend.as_str(),
			target: target.display.clone(),
			source,
		};
		let options = AnyConnectOptions::from_str(&target.url)
			.map_err(connect_error)?
			.disable_statement_logging();
		// One connection first: its error is the real cause (the pool would retry a refused
		// connection until its timeout and then only say that it timed out).
		let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect_with(&options))
			.await
			.map_err(|_| {
				timeout(
					"its answer to the connection (the database protocol's handshake and log-in)",
					CONNECT_TIMEOUT,
				)
			})?
			.map_err(connect_error)?;
		let prepared = tokio::time::timeout(PREPARE_TIMEOUT, prepare(&mut conn, &target))
			.await
			.unwrap_or_else(|_| {
				Err(timeout(
					"the schema check and migrations to finish",
					PREPARE_TIMEOUT,
				))
			});
		// Closing is best effort: the schema is in place or the error is known.
		let _ = conn.close().await;
		prepared?;
		let max_connections = match target.backend {
			Backend::Sqlite => 4,
			Backend::Postgres => 8,
		};
		let pool = AnyPoolOptions::new()
			.max_connections(max_connections)
			.acquire_timeout(ACQUIRE_TIMEOUT)
			.connect_lazy_with(options);
		Ok(Store {
			pool,
			backend: target.backend,
			target: target.display,
		})
	}

	/// `sqlite` or `postgres`.
	pub fn backend(&self) -> &str {
		self.backend.as_str()
	}

	/// The file path or URL of the store (password hidden).
	pub fn target(&self) -> &str {
		&self.target
	}

	/// Closes the store's connections, waiting for queries in flight.
	pub async fn close(self) -> Result<(), StoreError> {
		self.pool.close().await;
		Ok(())
	}

	/// Records a new run. Fails with [`StoreError::RunExists`] when its id is taken.
	pub async fn create_run(&self, run: &RunRecord) -> Result<(), StoreError> {
		let result = sqlx::query(
			"INSERT INTO runs (id, scenario, scenario_file, provider, chain, genesis_hash, \
			 tool_version, started_at, finished_at, verdict, error) \
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		)
		.bind(&run.id)
		.bind(run.scenario.as_deref())
		.bind(run.scenario_file.as_deref())
		.bind(&run.provider)
		.bind(&run.chain)
		.bind(&run.genesis_hash)
		.bind(&run.tool_version)
		.bind(run.started_at)
		.bind(run.finished_at)
		.bind(run.verdict.map(Verdict::as_str))
		.bind(run.error.as_deref())
		.execute(&self.pool)
		.await;
		match result {
			Ok(_) => Ok(()),
			Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
				Err(StoreError::RunExists {
					run: run.id.clone(),
				})
			}
			Err(source) => Err(StoreError::Query {
				action: format!("create run `{}`", run.id),
				source,
			}),
		}
	}

	/// Records the end of a run: when, the verdict and why it could not be carried out.
	pub async fn finish_run(
		&self,
		run_id: &str,
		finished_at: i64,
		verdict: Option<Verdict>,
		error: Option<String>,
	) -> Result<(), StoreError> {
		let done =
			sqlx::query("UPDATE runs SET finished_at = $2, verdict = $3, error = $4 WHERE id = $1")
				.bind(run_id)
				.bind(finished_at)
				.bind(verdict.map(Verdict::as_str))
				.bind(error)
				.execute(&self.pool)
				.await
				.map_err(|source| StoreError::Query {
					action: format!("finish run `{run_id}`"),
					source,
				})?;
		if done.rows_affected() == 0 {
			return Err(self.run_not_found(run_id).await);
		}
		Ok(())
	}

	/// Sets the chain name and genesis hash of a run, once its network answers.
	pub async fn set_run_chain(
		&self,
		run_id: &str,
		chain: &str,
		genesis_hash: &str,
	) -> Result<(), StoreError> {
		let done = sqlx::query("UPDATE runs SET chain = $2, genesis_hash = $3 WHERE id = $1")
			.bind(run_id)
			.bind(chain)
			.bind(genesis_hash)
			.execute(&self.pool)
			.await
			.map_err(|source| StoreError::Query {
				action: format!("set the chain of run `{run_id}`"),
				source,
			})?;
		if done.rows_affected() == 0 {
			return Err(self.run_not_found(run_id).await);
		}
		Ok(())
	}

	/// Records a node of the run, replacing a previous record of the same name (it keeps its
	/// place in the list).
	pub async fn add_node(&self, run_id: &str, node: &NodeRecord) -> Result<(), StoreError> {
		let result = sqlx::query(
			"INSERT INTO nodes (run_id, ord, name, role, rpc_url, prometheus_url, log_file) \
			 VALUES ($1, (SELECT COALESCE(MAX(ord) + 1, 0) FROM nodes WHERE run_id = $1), \
			 $2, $3, $4, $5, $6) \
			 ON CONFLICT (run_id, name) DO UPDATE SET role = excluded.role, \
			 rpc_url = excluded.rpc_url, prometheus_url = excluded.prometheus_url, \
			 log_file = excluded.log_file",
		)
		.bind(run_id)
		.bind(&node.name)
		.bind(&node.role)
		.bind(&node.rpc_url)
		.bind(node.prometheus_url.as_deref())
		.bind(&node.log_file)
		.execute(&self.pool)
		.await;
		match result {
			Ok(_) => Ok(()),
			Err(e) => Err(self
				.write_error(
					run_id,
					format!("add node `{}` to run `{run_id}`", node.name),
					None,
					e,
				)
				.await),
		}
	}

	/// Records a block with its extrinsics and events, in one transaction. A previous record
	/// of the same block number (and its extrinsics and events) is replaced: a reorg
	/// re-records it.
	pub async fn add_block(
		&self,
		run_id: &str,
		block: &BlockRecord,
		extrinsics: &[ExtrinsicRecord],
		events: &[EventRecord],
	) -> Result<(), StoreError> {
		let invalid = |record: String, reason: String| StoreError::InvalidRecord {
			run: run_id.to_string(),
			record,
			reason,
		};
		let mut seen = std::collections::BTreeSet::new();
		for x in extrinsics {
			if !seen.insert(x.index) {
				return Err(invalid(
					format!("extrinsic #{} of block #{}", x.index, block.number),
					"its index appears twice".to_string(),
				));
			}
			if x.block != block.number {
				return Err(invalid(
					format!("extrinsic #{} of block #{}", x.index, block.number),
					format!("it says it is in block #{}", x.block),
				));
			}
		}
		seen.clear();
		for e in events {
			if !seen.insert(e.index) {
				return Err(invalid(
					format!("event #{} of block #{}", e.index, block.number),
					"its index appears twice".to_string(),
				));
			}
			if e.block != block.number {
				return Err(invalid(
					format!("event #{} of block #{}", e.index, block.number),
					format!("it says it is in block #{}", e.block),
				));
			}
		}
		let heights = to_json(&block.heights)
			.map_err(|reason| invalid(format!("block #{}", block.number), reason))?;
		let mut fields = Vec::with_capacity(events.len());
		for e in events {
			fields.push(to_json(&e.fields).map_err(|reason| {
				invalid(
					format!("event #{} of block #{}", e.index, block.number),
					reason,
				)
			})?);
		}

		let action = || format!("add block #{} to run `{run_id}`", block.number);
		let result = async {
			let mut tx = self.pool.begin().await?;
			let number = u64_to_db(block.number);
			for table in ["events", "extrinsics"] {
				sqlx::query(&format!(
					"DELETE FROM {table} WHERE run_id = $1 AND block_number = $2"
				))
				.bind(run_id)
				.bind(number)
				.execute(&mut *tx)
				.await?;
			}
			sqlx::query("DELETE FROM blocks WHERE run_id = $1 AND number = $2")
				.bind(run_id)
				.bind(number)
				.execute(&mut *tx)
				.await?;
			sqlx::query(
				"INSERT INTO blocks (run_id, number, hash, parent_hash, author, spec_version, \
				 block_timestamp, seen_at, weight_normal, weight_operational, weight_mandatory, \
				 max_block, max_total_normal, max_total_operational, max_total_mandatory, \
				 max_length_normal, max_length_operational, max_length_mandatory, length, \
				 extrinsic_count, failed_extrinsic_count, event_count, authoring_ms, import_ms, \
				 heights) \
				 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
				 $17, $18, $19, $20, $21, $22, $23, $24, $25)",
			)
			.bind(run_id)
			.bind(number)
			.bind(&block.hash)
			.bind(&block.parent_hash)
			.bind(block.author.as_deref())
			.bind(i64::from(block.spec_version))
			.bind(block.timestamp)
			.bind(block.seen_at)
			.bind(u64_to_db(block.weight.normal))
			.bind(u64_to_db(block.weight.operational))
			.bind(u64_to_db(block.weight.mandatory))
			.bind(u64_to_db(block.limits.max_block))
			.bind(u64_to_db(block.limits.max_total.normal))
			.bind(u64_to_db(block.limits.max_total.operational))
			.bind(u64_to_db(block.limits.max_total.mandatory))
			.bind(u64_to_db(block.limits.max_length.normal))
			.bind(u64_to_db(block.limits.max_length.operational))
			.bind(u64_to_db(block.limits.max_length.mandatory))
			.bind(u64_to_db(block.length))
			.bind(i64::from(block.extrinsics))
			.bind(i64::from(block.failed_extrinsics))
			.bind(i64::from(block.events))
			.bind(block.authoring_ms)
			.bind(block.import_ms)
			.bind(&heights)
			// See `FLOAT_NULL`.
			.persistent(false)
			.execute(&mut *tx)
			.await?;
			for x in extrinsics {
				sqlx::query(
					"INSERT INTO extrinsics (run_id, block_number, idx, call_name, signer, \
					 success, error, weight, dispatch_class) \
					 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
				)
				.bind(run_id)
				.bind(number)
				.bind(i64::from(x.index))
				.bind(x.call.as_deref())
				.bind(x.signer.as_deref())
				.bind(x.success.map(i64::from))
				.bind(x.error.as_deref())
				.bind(x.weight.map(u64_to_db))
				.bind(x.class.as_deref())
				.execute(&mut *tx)
				.await?;
			}
			for (e, fields) in events.iter().zip(&fields) {
				sqlx::query(
					"INSERT INTO events (run_id, block_number, idx, phase, extrinsic, pallet, \
					 variant, fields) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
				)
				.bind(run_id)
				.bind(number)
				.bind(i64::from(e.index))
				.bind(&e.phase)
				.bind(e.extrinsic.map(i64::from))
				.bind(&e.pallet)
				.bind(&e.variant)
				.bind(fields)
				.execute(&mut *tx)
				.await?;
			}
			tx.commit().await
		}
		.await;
		match result {
			Ok(()) => Ok(()),
			Err(e) => Err(self.write_error(run_id, action(), None, e).await),
		}
	}

	/// Records a finding. Its `seq` must be new within the run.
	pub async fn add_finding(&self, run_id: &str, finding: &Finding) -> Result<(), StoreError> {
		let context = to_json(&finding.context).map_err(|reason| StoreError::InvalidRecord {
			run: run_id.to_string(),
			record: format!("finding #{}", finding.seq),
			reason,
		})?;
		let result = sqlx::query(
			"INSERT INTO findings (run_id, seq, kind, node, block_number, seen_at, message, \
			 context) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		)
		.bind(run_id)
		.bind(i64::from(finding.seq))
		.bind(finding.kind.as_str())
		.bind(finding.node.as_deref())
		.bind(finding.block.map(u64_to_db))
		.bind(finding.at)
		.bind(&finding.message)
		.bind(&context)
		.execute(&self.pool)
		.await;
		match result {
			Ok(_) => Ok(()),
			Err(e) => Err(self
				.write_error(
					run_id,
					format!("add finding #{} to run `{run_id}`", finding.seq),
					Some(("finding", format!("finding #{}", finding.seq))),
					e,
				)
				.await),
		}
	}

	/// Records an upgrade, replacing a previous record with the same `seq` (an upgrade's
	/// record is completed as it progresses).
	pub async fn put_upgrade(
		&self,
		run_id: &str,
		upgrade: &UpgradeRecord,
	) -> Result<(), StoreError> {
		let invalid = |reason| StoreError::InvalidRecord {
			run: run_id.to_string(),
			record: format!("upgrade #{}", upgrade.seq),
			reason,
		};
		let first_block_events = to_json(&upgrade.first_block_events).map_err(invalid)?;
		let diff = to_json(&upgrade.diff).map_err(invalid)?;
		let result = sqlx::query(
			"INSERT INTO upgrades (run_id, seq, via, wasm, code_hash, old_version, new_version, \
			 included_in, code_updated, last_runtime_upgrade, first_block, \
			 first_block_mandatory, baseline_mandatory, migration_weight, max_block, \
			 migration_percent, first_block_events, diff_from, diff_to, diff, error) \
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
			 $17, $18, $19, $20, $21) \
			 ON CONFLICT (run_id, seq) DO UPDATE SET via = excluded.via, wasm = excluded.wasm, \
			 code_hash = excluded.code_hash, old_version = excluded.old_version, \
			 new_version = excluded.new_version, included_in = excluded.included_in, \
			 code_updated = excluded.code_updated, \
			 last_runtime_upgrade = excluded.last_runtime_upgrade, \
			 first_block = excluded.first_block, \
			 first_block_mandatory = excluded.first_block_mandatory, \
			 baseline_mandatory = excluded.baseline_mandatory, \
			 migration_weight = excluded.migration_weight, max_block = excluded.max_block, \
			 migration_percent = excluded.migration_percent, \
			 first_block_events = excluded.first_block_events, diff_from = excluded.diff_from, \
			 diff_to = excluded.diff_to, diff = excluded.diff, error = excluded.error",
		)
		.bind(run_id)
		.bind(i64::from(upgrade.seq))
		.bind(&upgrade.via)
		.bind(&upgrade.wasm)
		.bind(&upgrade.code_hash)
		.bind(&upgrade.old_version)
		.bind(upgrade.new_version.as_deref())
		.bind(u64_to_db(upgrade.included_in))
		.bind(i64::from(upgrade.code_updated))
		.bind(upgrade.last_runtime_upgrade.as_deref())
		.bind(upgrade.first_block.map(u64_to_db))
		.bind(upgrade.first_block_mandatory.map(u64_to_db))
		.bind(upgrade.baseline_mandatory.map(u64_to_db))
		.bind(upgrade.migration_weight.map(u64_to_db))
		.bind(upgrade.max_block.map(u64_to_db))
		.bind(upgrade.migration_percent)
		.bind(&first_block_events)
		.bind(upgrade.diff_from.map(u64_to_db))
		.bind(upgrade.diff_to.map(u64_to_db))
		.bind(&diff)
		.bind(upgrade.error.as_deref())
		// See `FLOAT_NULL`.
		.persistent(false)
		.execute(&self.pool)
		.await;
		match result {
			Ok(_) => Ok(()),
			Err(e) => Err(self
				.write_error(
					run_id,
					format!("record upgrade #{} of run `{run_id}`", upgrade.seq),
					None,
					e,
				)
				.await),
		}
	}

	/// Records a scenario step. Its `index` must be new within the run.
	pub async fn add_step(&self, run_id: &str, step: &StepRecord) -> Result<(), StoreError> {
		let result = sqlx::query(
			"INSERT INTO steps (run_id, idx, kind, description, started_at, finished_at, \
			 block_number, ok, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		)
		.bind(run_id)
		.bind(i64::from(step.index))
		.bind(&step.kind)
		.bind(&step.description)
		.bind(step.started_at)
		.bind(step.finished_at)
		.bind(step.block.map(u64_to_db))
		.bind(i64::from(step.ok))
		.bind(&step.outcome)
		.execute(&self.pool)
		.await;
		match result {
			Ok(_) => Ok(()),
			Err(e) => Err(self
				.write_error(
					run_id,
					format!("add step #{} to run `{run_id}`", step.index),
					Some(("step", format!("step #{}", step.index))),
					e,
				)
				.await),
		}
	}

	/// Sets the run's gates, in order, replacing the ones recorded before.
	pub async fn set_gates(&self, run_id: &str, gates: &[GateResult]) -> Result<(), StoreError> {
		if !self.run_exists(run_id).await? {
			return Err(self.run_not_found(run_id).await);
		}
		let result = async {
			let mut tx = self.pool.begin().await?;
			sqlx::query("DELETE FROM gates WHERE run_id = $1")
				.bind(run_id)
				.execute(&mut *tx)
				.await?;
			for (ord, gate) in (0_i64..).zip(gates) {
				sqlx::query(
					"INSERT INTO gates (run_id, ord, name, description, threshold, measured, \
					 passed, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
				)
				.bind(run_id)
				.bind(ord)
				.bind(&gate.name)
				.bind(&gate.description)
				.bind(&gate.threshold)
				.bind(&gate.measured)
				.bind(i64::from(gate.passed))
				.bind(gate.detail.as_deref())
				.execute(&mut *tx)
				.await?;
			}
			tx.commit().await
		}
		.await;
		match result {
			Ok(()) => Ok(()),
			Err(e) => Err(self
				.write_error(run_id, format!("set the gates of run `{run_id}`"), None, e)
				.await),
		}
	}

	/// One run's record.
	pub async fn run(&self, run_id: &str) -> Result<RunRecord, StoreError> {
		let row = sqlx::query(&format!("{RUN_COLUMNS} WHERE id = $1"))
			.bind(run_id)
			.fetch_optional(&self.pool)
			.await
			.map_err(|source| StoreError::Query {
				action: format!("read run `{run_id}`"),
				source,
			})?;
		match row {
			Some(row) => read_run(&row, run_id),
			None => Err(self.run_not_found(run_id).await),
		}
	}

	/// Every run, newest first (by start time, then id).
	pub async fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
		let rows = sqlx::query(&format!("{RUN_COLUMNS} ORDER BY started_at DESC, id DESC"))
			.fetch_all(&self.pool)
			.await
			.map_err(|source| StoreError::Query {
				action: "list the runs".to_string(),
				source,
			})?;
		rows.iter()
			.map(|row| {
				let id: String = row.try_get("id").unwrap_or_default();
				read_run(row, &id)
			})
			.collect()
	}

	/// The events of one block, by index.
	pub async fn events(&self, run_id: &str, block: u64) -> Result<Vec<EventRecord>, StoreError> {
		let rows = sqlx::query(
			"SELECT block_number, idx, phase, extrinsic, pallet, variant, fields FROM events \
			 WHERE run_id = $1 AND block_number = $2 ORDER BY idx",
		)
		.bind(run_id)
		.bind(u64_to_db(block))
		.fetch_all(&self.pool)
		.await
		.map_err(|source| StoreError::Query {
			action: format!("read the events of block #{block} of run `{run_id}`"),
			source,
		})?;
		if rows.is_empty() && !self.run_exists(run_id).await? {
			return Err(self.run_not_found(run_id).await);
		}
		rows.iter().map(|row| read_event(row, run_id)).collect()
	}

	/// The extrinsics of one block, by index.
	pub async fn extrinsics(
		&self,
		run_id: &str,
		block: u64,
	) -> Result<Vec<ExtrinsicRecord>, StoreError> {
		let rows = sqlx::query(&format!(
			"{EXTRINSIC_COLUMNS} WHERE run_id = $1 AND block_number = $2 ORDER BY idx"
		))
		.bind(run_id)
		.bind(u64_to_db(block))
		.fetch_all(&self.pool)
		.await
		.map_err(|source| StoreError::Query {
			action: format!("read the extrinsics of block #{block} of run `{run_id}`"),
			source,
		})?;
		if rows.is_empty() && !self.run_exists(run_id).await? {
			return Err(self.run_not_found(run_id).await);
		}
		rows.iter().map(|row| read_extrinsic(row, run_id)).collect()
	}

	/// Everything recorded of a run, read in one transaction (a consistent snapshot).
	pub async fn report(&self, run_id: &str) -> Result<RunReport, StoreError> {
		let query_error = |what: &str| {
			let action = format!("read the {what} of run `{run_id}`");
			move |source| StoreError::Query { action, source }
		};
		let mut tx = self.pool.begin().await.map_err(query_error("report"))?;
		if self.backend == Backend::Postgres {
			sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
				.execute(&mut *tx)
				.await
				.map_err(query_error("report"))?;
		}
		let Some(run) = sqlx::query(&format!("{RUN_COLUMNS} WHERE id = $1"))
			.bind(run_id)
			.fetch_optional(&mut *tx)
			.await
			.map_err(query_error("record"))?
		else {
			// Ends the transaction before the pool is asked for the known runs.
			let _ = tx.rollback().await;
			return Err(self.run_not_found(run_id).await);
		};
		let run = read_run(&run, run_id)?;

		let rows = sqlx::query(
			"SELECT name, role, rpc_url, prometheus_url, log_file FROM nodes \
			 WHERE run_id = $1 ORDER BY ord, name",
		)
		.bind(run_id)
		.fetch_all(&mut *tx)
		.await
		.map_err(query_error("nodes"))?;
		let nodes = rows
			.iter()
			.map(|row| read_node(row, run_id))
			.collect::<Result<_, _>>()?;

		let rows = sqlx::query(
			"SELECT number, hash, parent_hash, author, spec_version, block_timestamp, seen_at, \
			 weight_normal, weight_operational, weight_mandatory, max_block, max_total_normal, \
			 max_total_operational, max_total_mandatory, max_length_normal, \
			 max_length_operational, max_length_mandatory, length, extrinsic_count, \
			 failed_extrinsic_count, event_count, authoring_ms, import_ms, heights \
			 FROM blocks WHERE run_id = $1 ORDER BY number",
		)
		.bind(run_id)
		.fetch_all(&mut *tx)
		.await
		.map_err(query_error("blocks"))?;
		let blocks = rows
			.iter()
			.map(|row| read_block(row, run_id))
			.collect::<Result<_, _>>()?;

		let rows = sqlx::query(&format!(
			"{EXTRINSIC_COLUMNS} WHERE run_id = $1 AND success = 0 ORDER BY block_number, idx"
		))
		.bind(run_id)
		.fetch_all(&mut *tx)
		.await
		.map_err(query_error("failed extrinsics"))?;
		let failed_extrinsics = rows
			.iter()
			.map(|row| read_extrinsic(row, run_id))
			.collect::<Result<_, _>>()?;

		let rows = sqlx::query(
			"SELECT seq, kind, node, block_number, seen_at, message, context FROM findings \
			 WHERE run_id = $1 ORDER BY seq",
		)
		.bind(run_id)
		.fetch_all(&mut *tx)
		.await
		.map_err(query_error("findings"))?;
		let findings = rows
			.iter()
			.map(|row| read_finding(row, run_id))
			.collect::<Result<_, _>>()?;

		let rows = sqlx::query(
			"SELECT seq, via, wasm, code_hash, old_version, new_version, included_in, \
			 code_updated, last_runtime_upgrade, first_block, first_block_mandatory, \
			 baseline_mandatory, migration_weight, max_block, migration_percent, \
			 first_block_events, diff_from, diff_to, diff, error FROM upgrades \
			 WHERE run_id = $1 ORDER BY seq",
		)
		.bind(run_id)
		.fetch_all(&mut *tx)
		.await
		.map_err(query_error("upgrades"))?;
		let upgrades = rows
			.iter()
			.map(|row| read_upgrade(row, run_id))
			.collect::<Result<_, _>>()?;

		let rows = sqlx::query(
			"SELECT idx, kind, description, started_at, finished_at, block_number, ok, outcome \
			 FROM steps WHERE run_id = $1 ORDER BY idx",
		)
		.bind(run_id)
		.fetch_all(&mut *tx)
		.await
		.map_err(query_error("steps"))?;
		let steps = rows
			.iter()
			.map(|row| read_step(row, run_id))
			.collect::<Result<_, _>>()?;

		let rows = sqlx::query(
			"SELECT name, description, threshold, measured, passed, detail FROM gates \
			 WHERE run_id = $1 ORDER BY ord",
		)
		.bind(run_id)
		.fetch_all(&mut *tx)
		.await
		.map_err(query_error("gates"))?;
		let gates = rows
			.iter()
			.map(|row| read_gate(row, run_id))
			.collect::<Result<_, _>>()?;

		let replays = replay_stress::read_replays(&mut tx, run_id).await?;
		let stresses = replay_stress::read_stresses(&mut tx, run_id).await?;

		tx.commit().await.map_err(query_error("report"))?;
		Ok(RunReport {
			schema_version: REPORT_SCHEMA_VERSION,
			run,
			nodes,
			blocks,
			failed_extrinsics,
			findings,
			upgrades,
			steps,
			gates,
			replays,
			stresses,
		})
	}

	/// Whether the run is in the store.
	async fn run_exists(&self, run_id: &str) -> Result<bool, StoreError> {
		let row = sqlx::query("SELECT id FROM runs WHERE id = $1")
			.bind(run_id)
			.fetch_optional(&self.pool)
			.await
			.map_err(|source| StoreError::Query {
				action: format!("look up run `{run_id}`"),
				source,
			})?;
		Ok(row.is_some())
	}

	/// [`StoreError::RunNotFound`], with the runs the store holds (none if they cannot be
	/// read: the error is about the missing run).
	async fn run_not_found(&self, run_id: &str) -> StoreError {
		let known = sqlx::query("SELECT id FROM runs ORDER BY started_at DESC, id DESC")
			.fetch_all(&self.pool)
			.await
			.map(|rows| {
				rows.iter()
					.filter_map(|row| row.try_get::<String, _>("id").ok())
					.collect()
			})
			.unwrap_or_default();
		StoreError::RunNotFound {
			run: run_id.to_string(),
			known,
		}
	}

	/// Maps a failed write: a missing run (foreign key) is [`StoreError::RunNotFound`]; a
	/// taken number (primary key) is [`StoreError::Duplicate`] when `duplicate` names the
	/// record (kind, description).
	async fn write_error(
		&self,
		run_id: &str,
		action: String,
		duplicate: Option<(&'static str, String)>,
		error: sqlx::Error,
	) -> StoreError {
		if let sqlx::Error::Database(e) = &error {
			if e.is_foreign_key_violation() {
				return self.run_not_found(run_id).await;
			}
			if e.is_unique_violation() {
				if let Some((kind, record)) = duplicate {
					return StoreError::Duplicate {
						run: run_id.to_string(),
						record,
						kind,
					};
				}
			}
		}
		StoreError::Query {
			action,
			source: error,
		}
	}
}

/// Checks that the database is a store (or empty) and applies the migrations.
async fn prepare(conn: &mut AnyConnection, target: &Target) -> Result<(), StoreError> {
	let tables_sql = match target.backend {
		Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
		Backend::Postgres => {
			"SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
			 WHERE table_schema = current_schema()"
		}
	};
	let tables: Vec<String> = sqlx::query(tables_sql)
		.fetch_all(&mut *conn)
		.await
		.map_err(|source| StoreError::Connect {
			backend: target.backend.as_str(),
			target: target.display.clone(),
			source,
		})?
		.iter()
		.filter_map(|row| row.try_get::<String, _>("name").ok())
		.collect();
	let has = |name: &str| tables.iter().any(|t| t == name);
	if has("_sqlx_migrations") && !has("runs") {
		return Err(StoreError::NotAStore {
			backend: target.backend.as_str(),
			target: target.display.clone(),
		});
	}
	MIGRATOR
		.run(&mut *conn)
		.await
		.map_err(|e| migrate_error(e, &target.display))?;
	if target.backend == Backend::Sqlite {
		// Readers (reports, the API) do not block the monitor's writes. Persistent in the file.
		sqlx::query("PRAGMA journal_mode = WAL")
			.execute(&mut *conn)
			.await
			.map_err(|source| StoreError::Query {
				action: format!("switch `{}` to WAL mode", target.display),
				source,
			})?;
	}
	Ok(())
}

/// The newest migration this build ships.
pub fn latest_migration() -> i64 {
	MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

fn migrate_error(error: MigrateError, target: &str) -> StoreError {
	let target = target.to_string();
	match error {
		MigrateError::VersionMissing(version) => {
			let latest = latest_migration();
			if version > latest {
				StoreError::NewerSchema {
					target,
					version,
					latest,
				}
			} else {
				StoreError::SchemaMismatch {
					target,
					version,
					reason: "is recorded in the database but unknown to this stagenet",
				}
			}
		}
		MigrateError::VersionMismatch(version) => StoreError::SchemaMismatch {
			target,
			version,
			reason: "was applied with different contents than this stagenet ships",
		},
		MigrateError::Dirty(version) => StoreError::DirtySchema { target, version },
		source => StoreError::Migrate { target, source },
	}
}

/// Parses `Store::open`'s target.
fn parse_target(target: &str, create: bool) -> Result<Target, StoreError> {
	let invalid = |reason: &str| StoreError::InvalidTarget {
		target: stagenet_chain::url::redact(target),
		reason: reason.to_string(),
	};
	if target.trim().is_empty() {
		return Err(invalid("it is empty"));
	}
	let lower = target.to_ascii_lowercase();
	if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
		return Ok(Target {
			backend: Backend::Postgres,
			url: target.to_string(),
			display: stagenet_chain::url::redact(target),
		});
	}
	let (path, params) = if lower.starts_with("sqlite:") {
		let rest = &target["sqlite:".len()..];
		let rest = rest.strip_prefix("//").unwrap_or(rest);
		let (path, params) = match rest.split_once('?') {
			Some((path, params)) => (path, Some(params)),
			None => (rest, None),
		};
		let path = percent_decode(path)
			.ok_or_else(|| invalid("its path is not valid percent-encoded UTF-8"))?;
		(PathBuf::from(path), params)
	} else if let Some((scheme, _)) = target.split_once("://") {
		return Err(invalid(&format!(
			"the URL scheme `{scheme}` is not supported"
		)));
	} else {
		(PathBuf::from(target), None)
	};
	if path.as_os_str().is_empty() {
		return Err(invalid("it names no file"));
	}
	let memory = path.as_os_str() == ":memory:"
		|| params.is_some_and(|p| p.split('&').any(|kv| kv == "mode=memory"));
	if memory {
		return Err(invalid(
			"an in-memory database would be lost between connections; use a file (a temporary one for tests)",
		));
	}
	let path = std::path::absolute(&path).map_err(|e| StoreError::CreateDir {
		path: path.clone(),
		source: e,
	})?;
	if !create && !path.exists() {
		return Err(StoreError::Absent { path });
	}
	if let Some(dir) = path.parent().filter(|_| create) {
		std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
			path: dir.to_path_buf(),
			source,
		})?;
	}
	let encoded = percent_encode_path(&path).ok_or_else(|| invalid("its path is not UTF-8"))?;
	// A reader never creates the file (it was checked above; `rw` keeps it so if it vanishes).
	let mode = if create { "rwc" } else { "rw" };
	let params: Cow<'_, str> = match params {
		Some(p) if p.split('&').any(|kv| kv.starts_with("mode=")) => Cow::Borrowed(p),
		Some(p) if !p.is_empty() => Cow::Owned(format!("{p}&mode={mode}")),
		_ => Cow::Owned(format!("mode={mode}")),
	};
	Ok(Target {
		backend: Backend::Sqlite,
		url: format!("sqlite://{encoded}?{params}"),
		display: path.display().to_string(),
	})
}

/// Percent-encodes a path for a `sqlite:` URL (sqlx decodes it).
fn percent_encode_path(path: &Path) -> Option<String> {
	let s = path.to_str()?;
	let mut out = String::with_capacity(s.len());
	for b in s.bytes() {
		if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'~') {
			out.push(char::from(b));
		} else {
			out.push_str(&format!("%{b:02X}"));
		}
	}
	Some(out)
}

/// Decodes `%XX` escapes; `None` when the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
	let bytes = s.as_bytes();
	let mut out = Vec::with_capacity(bytes.len());
	let mut i = 0;
	while i < bytes.len() {
		let hex = |b: u8| char::from(b).to_digit(16);
		match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
			(b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
				let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
				out.push(u8::try_from(value).unwrap_or(0));
				i += 3;
			}
			(b, _, _) => {
				out.push(b);
				i += 1;
			}
		}
	}
	String::from_utf8(out).ok()
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
	serde_json::to_string(value).map_err(|e| format!("cannot encode it as JSON: {e}"))
}

const RUN_COLUMNS: &str = "SELECT id, scenario, scenario_file, provider, chain, genesis_hash, \
	tool_version, started_at, finished_at, verdict, error FROM runs";

const EXTRINSIC_COLUMNS: &str = "SELECT block_number, idx, call_name, signer, success, error, \
	weight, dispatch_class FROM extrinsics";

/// Typed access to one row's columns; every failure names the run, the record and the column.
struct Fields<'r> {
	row: &'r AnyRow,
	run: &'r str,
	record: &'static str,
}

impl<'r> Fields<'r> {
	fn new(row: &'r AnyRow, run: &'r str, record: &'static str) -> Self {
		Fields { row, run, record }
	}

	fn corrupt(&self, column: &str, reason: impl std::fmt::Display) -> StoreError {
		StoreError::Corrupt {
			run: self.run.to_string(),
			record: format!("a {} (column `{column}`)", self.record),
			reason: reason.to_string(),
		}
	}

	fn get<T>(&self, column: &str) -> Result<T, StoreError>
	where
		T: for<'a> sqlx::Decode<'a, Any> + sqlx::Type<Any>,
	{
		self.row
			.try_get::<T, _>(column)
			.map_err(|e| self.corrupt(column, e))
	}

	fn text(&self, column: &str) -> Result<String, StoreError> {
		self.get(column)
	}

	fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
		self.get(column)
	}

	fn i64(&self, column: &str) -> Result<i64, StoreError> {
		self.get(column)
	}

	fn opt_i64(&self, column: &str) -> Result<Option<i64>, StoreError> {
		self.get(column)
	}

	fn u64(&self, column: &str) -> Result<u64, StoreError> {
		self.i64(column).map(u64_from_db)
	}

	fn opt_u64(&self, column: &str) -> Result<Option<u64>, StoreError> {
		Ok(self.opt_i64(column)?.map(u64_from_db))
	}

	fn u32(&self, column: &str) -> Result<u32, StoreError> {
		let v = self.i64(column)?;
		u32::try_from(v).map_err(|_| self.corrupt(column, format!("`{v}` is not a u32")))
	}

	fn opt_u32(&self, column: &str) -> Result<Option<u32>, StoreError> {
		match self.opt_i64(column)? {
			None => Ok(None),
			Some(v) => u32::try_from(v)
				.map(Some)
				.map_err(|_| self.corrupt(column, format!("`{v}` is not a u32"))),
		}
	}

	fn f64(&self, column: &str) -> Result<f64, StoreError> {
		self.get(column)
	}

	fn opt_f64(&self, column: &str) -> Result<Option<f64>, StoreError> {
		self.get(column)
	}

	fn flag(&self, column: &str) -> Result<bool, StoreError> {
		match self.i64(column)? {
			0 => Ok(false),
			1 => Ok(true),
			v => Err(self.corrupt(column, format!("`{v}` is not a boolean (0 or 1)"))),
		}
	}

	fn opt_flag(&self, column: &str) -> Result<Option<bool>, StoreError> {
		match self.opt_i64(column)? {
			None => Ok(None),
			Some(0) => Ok(Some(false)),
			Some(1) => Ok(Some(true)),
			Some(v) => Err(self.corrupt(column, format!("`{v}` is not a boolean (0 or 1)"))),
		}
	}

	fn json<T: DeserializeOwned>(&self, column: &str) -> Result<T, StoreError> {
		let text = self.text(column)?;
		serde_json::from_str(&text).map_err(|e| self.corrupt(column, format!("bad JSON: {e}")))
	}

	fn opt_json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>, StoreError> {
		match self.opt_text(column)? {
			None => Ok(None),
			Some(text) => serde_json::from_str(&text)
				.map(Some)
				.map_err(|e| self.corrupt(column, format!("bad JSON: {e}"))),
		}
	}
}

fn read_run(row: &AnyRow, run_id: &str) -> Result<RunRecord, StoreError> {
	let f = Fields::new(row, run_id, "run");
	let verdict = match f.opt_text("verdict")? {
		None => None,
		Some(v) => Some(
			Verdict::parse(&v)
				.ok_or_else(|| f.corrupt("verdict", format!("unknown verdict `{v}`")))?,
		),
	};
	Ok(RunRecord {
		id: f.text("id")?,
		scenario: f.opt_text("scenario")?,
		scenario_file: f.opt_text("scenario_file")?,
		provider: f.text("provider")?,
		chain: f.text("chain")?,
		genesis_hash: f.text("genesis_hash")?,
		tool_version: f.text("tool_version")?,
		started_at: f.i64("started_at")?,
		finished_at: f.opt_i64("finished_at")?,
		verdict,
		error: f.opt_text("error")?,
	})
}

fn read_node(row: &AnyRow, run_id: &str) -> Result<NodeRecord, StoreError> {
	let f = Fields::new(row, run_id, "node");
	Ok(NodeRecord {
		name: f.text("name")?,
		role: f.text("role")?,
		rpc_url: f.text("rpc_url")?,
		prometheus_url: f.opt_text("prometheus_url")?,
		log_file: f.text("log_file")?,
	})
}

fn read_block(row: &AnyRow, run_id: &str) -> Result<BlockRecord, StoreError> {
	let f = Fields::new(row, run_id, "block");
	Ok(BlockRecord {
		number: f.u64("number")?,
		hash: f.text("hash")?,
		parent_hash: f.text("parent_hash")?,
		author: f.opt_text("author")?,
		spec_version: f.u32("spec_version")?,
		timestamp: f.opt_i64("block_timestamp")?,
		seen_at: f.i64("seen_at")?,
		weight: PerClass {
			normal: f.u64("weight_normal")?,
			operational: f.u64("weight_operational")?,
			mandatory: f.u64("weight_mandatory")?,
		},
		limits: BlockLimits {
			max_block: f.u64("max_block")?,
			max_total: PerClass {
				normal: f.u64("max_total_normal")?,
				operational: f.u64("max_total_operational")?,
				mandatory: f.u64("max_total_mandatory")?,
			},
			max_length: PerClass {
				normal: f.u64("max_length_normal")?,
				operational: f.u64("max_length_operational")?,
				mandatory: f.u64("max_length_mandatory")?,
			},
		},
		length: f.u64("length")?,
		extrinsics: f.u32("extrinsic_count")?,
		failed_extrinsics: f.u32("failed_extrinsic_count")?,
		events: f.u32("event_count")?,
		authoring_ms: f.opt_f64("authoring_ms")?,
		import_ms: f.opt_f64("import_ms")?,
		heights: f.json("heights")?,
	})
}

fn read_extrinsic(row: &AnyRow, run_id: &str) -> Result<ExtrinsicRecord, StoreError> {
	let f = Fields::new(row, run_id, "extrinsic");
	Ok(ExtrinsicRecord {
		block: f.u64("block_number")?,
		index: f.u32("idx")?,
		call: f.opt_text("call_name")?,
		signer: f.opt_text("signer")?,
		success: f.opt_flag("success")?,
		error: f.opt_text("error")?,
		weight: f.opt_u64("weight")?,
		class: f.opt_text("dispatch_class")?,
	})
}

fn read_event(row: &AnyRow, run_id: &str) -> Result<EventRecord, StoreError> {
	let f = Fields::new(row, run_id, "event");
	Ok(EventRecord {
		block: f.u64("block_number")?,
		index: f.u32("idx")?,
		phase: f.text("phase")?,
		extrinsic: f.opt_u32("extrinsic")?,
		pallet: f.text("pallet")?,
		variant: f.text("variant")?,
		fields: f.json("fields")?,
	})
}

fn read_finding(row: &AnyRow, run_id: &str) -> Result<Finding, StoreError> {
	let f = Fields::new(row, run_id, "finding");
	let kind = f.text("kind")?;
	let kind = FindingKind::parse(&kind)
		.ok_or_else(|| f.corrupt("kind", format!("unknown finding kind `{kind}`")))?;
	Ok(Finding {
		seq: f.u32("seq")?,
		kind,
		node: f.opt_text("node")?,
		block: f.opt_u64("block_number")?,
		at: f.i64("seen_at")?,
		message: f.text("message")?,
		context: f.json("context")?,
	})
}

fn read_upgrade(row: &AnyRow, run_id: &str) -> Result<UpgradeRecord, StoreError> {
	let f = Fields::new(row, run_id, "upgrade");
	Ok(UpgradeRecord {
		seq: f.u32("seq")?,
		via: f.text("via")?,
		wasm: f.text("wasm")?,
		code_hash: f.text("code_hash")?,
		old_version: f.text("old_version")?,
		new_version: f.opt_text("new_version")?,
		included_in: f.u64("included_in")?,
		code_updated: f.flag("code_updated")?,
		last_runtime_upgrade: f.opt_text("last_runtime_upgrade")?,
		first_block: f.opt_u64("first_block")?,
		first_block_mandatory: f.opt_u64("first_block_mandatory")?,
		baseline_mandatory: f.opt_u64("baseline_mandatory")?,
		migration_weight: f.opt_u64("migration_weight")?,
		max_block: f.opt_u64("max_block")?,
		migration_percent: f.opt_f64("migration_percent")?,
		first_block_events: f.json("first_block_events")?,
		diff_from: f.opt_u64("diff_from")?,
		diff_to: f.opt_u64("diff_to")?,
		diff: f.json("diff")?,
		error: f.opt_text("error")?,
	})
}

fn read_step(row: &AnyRow, run_id: &str) -> Result<StepRecord, StoreError> {
	let f = Fields::new(row, run_id, "step");
	Ok(StepRecord {
		index: f.u32("idx")?,
		kind: f.text("kind")?,
		description: f.text("description")?,
		started_at: f.i64("started_at")?,
		finished_at: f.i64("finished_at")?,
		block: f.opt_u64("block_number")?,
		ok: f.flag("ok")?,
		outcome: f.text("outcome")?,
	})
}

fn read_gate(row: &AnyRow, run_id: &str) -> Result<GateResult, StoreError> {
	let f = Fields::new(row, run_id, "gate");
	Ok(GateResult {
		name: f.text("name")?,
		description: f.text("description")?,
		threshold: f.text("threshold")?,
		measured: f.text("measured")?,
		passed: f.flag("passed")?,
		detail: f.opt_text("detail")?,
	})
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn u64_bits_round_trip() {
		for v in [0, 1, u64::MAX / 2, u64::MAX / 2 + 1, u64::MAX - 1, u64::MAX] {
			assert_eq!(u64_from_db(u64_to_db(v)), v);
		}
		assert_eq!(u64_to_db(u64::MAX), -1);
	}

	#[test]
	fn sqlite_targets() -> Result<(), StoreError> {
		let dir = std::env::temp_dir().join("stagenet-store-target-test");
		let t = parse_target(&format!("{}/a b?#%.db", dir.display()), true)?;
		assert_eq!(t.backend, Backend::Sqlite);
		assert!(t.url.ends_with("/a%20b%3F%23%25.db?mode=rwc"), "{}", t.url);
		let t = parse_target(
			&format!("sqlite://{}/x%20y.db?mode=ro", dir.display()),
			true,
		)?;
		assert!(t.url.ends_with("/x%20y.db?mode=ro"), "{}", t.url);
		assert!(t.display.ends_with("/x y.db"));
		assert!(matches!(
			parse_target("mysql://host/db", true),
			Err(StoreError::InvalidTarget { .. })
		));
		assert!(matches!(
			parse_target("sqlite::memory:", true),
			Err(StoreError::InvalidTarget { .. })
		));
		let _ = std::fs::remove_dir_all(dir);
		Ok(())
	}
}
