//! The capture database: SQLite through sqlx, schema versioned by the migrations in
//! `snapshot/capture/migrations/`. One writer connection holds an exclusive lock for the whole
//! capture; each block is written in one transaction, so a block row exists only when the
//! block is complete.

use super::{
	decode::{CapturedBlock, Weight},
	error::CaptureError,
	rpc::RuntimeVersion,
};
use sqlx::{
	migrate::{MigrateError, Migrator},
	sqlite::{
		SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteLockingMode,
		SqliteSynchronous,
	},
	ConnectOptions, Connection, Row,
};
use std::{
	collections::HashSet,
	path::{Path, PathBuf},
	time::Duration,
};

/// The capture schema's migrations.
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// SQLite's primary result code for a full disk (`SQLITE_FULL`).
const SQLITE_FULL: i32 = 13;
/// SQLite's primary result code for a file that is not a database (`SQLITE_NOTADB`).
const SQLITE_NOTADB: i32 = 26;
/// SQLite's primary result codes for a database locked by another connection.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

/// What `capture_meta` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureMeta {
	/// Chain name (`system_chain`).
	pub chain: String,
	/// Genesis hash, `0x`-hex.
	pub genesis_hash: String,
	/// The endpoint, without credentials.
	pub url: String,
	/// First block of the range asked for.
	pub range_from: u64,
	/// Last block of the range asked for.
	pub range_to: u64,
	/// Version of stagenet that last wrote the capture.
	pub tool_version: String,
}

/// Counts over the blocks of a range present in the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
	pub blocks: u64,
	pub extrinsics: u64,
	pub events: u64,
	pub failed_extrinsics: u64,
}

/// The open capture database.
pub(crate) struct Store {
	path: PathBuf,
	conn: SqliteConnection,
	/// Runtimes known to be in `runtimes`.
	runtimes: HashSet<u32>,
}

/// The primary SQLite result code of a database error.
pub(crate) fn sqlite_code(e: &sqlx::Error) -> Option<i32> {
	match e {
		sqlx::Error::Database(db) => db
			.code()
			.and_then(|c| c.parse::<i32>().ok())
			.map(|c| c & 0xff),
		_ => None,
	}
}

fn to_i64(value: u64, what: &str, path: &Path) -> Result<i64, CaptureError> {
	i64::try_from(value).map_err(|_| CaptureError::Database {
		path: path.to_path_buf(),
		operation: format!("store {what}"),
		source: sqlx::Error::Protocol(format!("`{value}` does not fit a SQLite integer")),
	})
}

fn to_u64(value: i64) -> u64 {
	u64::try_from(value).unwrap_or_default()
}

impl Store {
	/// Opens (or creates) the database at `path` and brings its schema up to date. An existing
	/// file must be a capture database.
	pub async fn open(path: &Path, create: bool) -> Result<Self, CaptureError> {
		let options = SqliteConnectOptions::new()
			.filename(path)
			.create_if_missing(create)
			.journal_mode(SqliteJournalMode::Wal)
			.synchronous(SqliteSynchronous::Normal)
			.locking_mode(SqliteLockingMode::Exclusive)
			.foreign_keys(true)
			.busy_timeout(Duration::from_secs(2));
		let unusable = |e: sqlx::Error| match sqlite_code(&e) {
			Some(SQLITE_NOTADB) => CaptureError::OutputUnusable {
				path: path.to_path_buf(),
				reason: "it is not a SQLite database".into(),
				hint: "pass another `--out`, or `--force` to replace it".into(),
			},
			Some(SQLITE_BUSY | SQLITE_LOCKED) => CaptureError::OutputUnusable {
				path: path.to_path_buf(),
				reason: "another process has it open".into(),
				hint: "wait for the other capture to end, or pass another `--out`".into(),
			},
			Some(SQLITE_FULL) => CaptureError::DiskFull {
				path: path.to_path_buf(),
				block: 0,
				source: e,
			},
			_ => CaptureError::Database {
				path: path.to_path_buf(),
				operation: "open".into(),
				source: e,
			},
		};
		let mut conn = options.connect().await.map_err(unusable)?;
		let tables: Vec<String> =
			sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
				.fetch_all(&mut conn)
				.await
				.map_err(unusable)?;
		if !tables.is_empty() && !tables.iter().any(|t| t == "capture_meta") {
			return Err(CaptureError::OutputUnusable {
				path: path.to_path_buf(),
				reason: "it is a SQLite database, but not a stagenet capture".into(),
				hint: "pass another `--out`, or `--force` to replace it".into(),
			});
		}
		MIGRATOR.run(&mut conn).await.map_err(|e| match e {
			MigrateError::VersionMissing(_) | MigrateError::VersionMismatch(_) => {
				CaptureError::SchemaMismatch {
					path: path.to_path_buf(),
					source: e,
				}
			}
			MigrateError::Execute(source) => unusable(source),
			other => CaptureError::Database {
				path: path.to_path_buf(),
				operation: "migrate the schema".into(),
				source: sqlx::Error::Migrate(Box::new(other)),
			},
		})?;
		let runtimes: Vec<i64> = sqlx::query_scalar("SELECT spec_version FROM runtimes")
			.fetch_all(&mut conn)
			.await
			.map_err(unusable)?;
		Ok(Self {
			path: path.to_path_buf(),
			conn,
			runtimes: runtimes
				.into_iter()
				.filter_map(|v| u32::try_from(v).ok())
				.collect(),
		})
	}

	fn db_error(&self, operation: &str, block: u64, e: sqlx::Error) -> CaptureError {
		if sqlite_code(&e) == Some(SQLITE_FULL) {
			CaptureError::DiskFull {
				path: self.path.clone(),
				block,
				source: e,
			}
		} else {
			CaptureError::Database {
				path: self.path.clone(),
				operation: operation.to_string(),
				source: e,
			}
		}
	}

	/// The capture's metadata, `None` in a new database.
	pub async fn meta(&mut self) -> Result<Option<CaptureMeta>, CaptureError> {
		let row = sqlx::query(
			"SELECT chain, genesis_hash, url, range_from, range_to, tool_version FROM capture_meta",
		)
		.fetch_optional(&mut self.conn)
		.await
		.map_err(|e| self.db_error("read capture_meta", 0, e))?;
		row.map(|r| -> Result<CaptureMeta, sqlx::Error> {
			Ok(CaptureMeta {
				chain: r.try_get(0)?,
				genesis_hash: r.try_get(1)?,
				url: r.try_get(2)?,
				range_from: to_u64(r.try_get(3)?),
				range_to: to_u64(r.try_get(4)?),
				tool_version: r.try_get(5)?,
			})
		})
		.transpose()
		.map_err(|e| self.db_error("read capture_meta", 0, e))
	}

	/// Writes the capture's metadata (replacing any).
	pub async fn set_meta(&mut self, meta: &CaptureMeta) -> Result<(), CaptureError> {
		let now = std::time::SystemTime::now()
			.duration_since(std::time::UNIX_EPOCH)
			.map(|d| d.as_secs() as i64)
			.unwrap_or_default();
		let from = to_i64(meta.range_from, "the range", &self.path)?;
		let to = to_i64(meta.range_to, "the range", &self.path)?;
		sqlx::query(
			"INSERT INTO capture_meta (id, chain, genesis_hash, url, range_from, range_to, \
			 tool_version, created_at, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?) \
			 ON CONFLICT (id) DO UPDATE SET chain = excluded.chain, genesis_hash = \
			 excluded.genesis_hash, url = excluded.url, range_from = excluded.range_from, \
			 range_to = excluded.range_to, tool_version = excluded.tool_version, \
			 updated_at = excluded.updated_at",
		)
		.bind(&meta.chain)
		.bind(&meta.genesis_hash)
		.bind(&meta.url)
		.bind(from)
		.bind(to)
		.bind(&meta.tool_version)
		.bind(now)
		.bind(now)
		.execute(&mut self.conn)
		.await
		.map_err(|e| self.db_error("write capture_meta", 0, e))?;
		Ok(())
	}

	/// Numbers of the complete blocks in `from..=to`.
	pub async fn complete_blocks(
		&mut self,
		from: u64,
		to: u64,
	) -> Result<HashSet<u64>, CaptureError> {
		let numbers: Vec<i64> =
			sqlx::query_scalar("SELECT number FROM blocks WHERE number BETWEEN ? AND ?")
				.bind(to_i64(from, "the range", &self.path)?)
				.bind(to_i64(to, "the range", &self.path)?)
				.fetch_all(&mut self.conn)
				.await
				.map_err(|e| self.db_error("list the captured blocks", 0, e))?;
		Ok(numbers.into_iter().map(to_u64).collect())
	}

	/// Writes a block, its extrinsics and events (and the runtime that executed it, `version`
	/// with its SCALE `metadata`, when new) in one transaction.
	pub async fn write_block(
		&mut self,
		block: &CapturedBlock,
		version: &RuntimeVersion,
		metadata: &[u8],
	) -> Result<(), CaptureError> {
		let n = block.number;
		let result = self.write_block_tx(block, version, metadata).await;
		match result {
			Ok(()) => {
				self.runtimes.insert(version.spec_version);
				Ok(())
			}
			Err(WriteError::Db(e)) => Err(self.db_error(&format!("write block #{n}"), n, e)),
			Err(WriteError::Capture(e)) => Err(e),
		}
	}

	async fn write_block_tx(
		&mut self,
		block: &CapturedBlock,
		version: &RuntimeVersion,
		metadata: &[u8],
	) -> Result<(), WriteError> {
		let path = self.path.clone();
		let int = |v: u64, what: &str| to_i64(v, what, &path).map_err(WriteError::Capture);
		let number = int(block.number, "the block number")?;
		let mut tx = self.conn.begin().await?;
		let spec = version.spec_version;
		if !self.runtimes.contains(&spec) {
			sqlx::query(
				"INSERT OR IGNORE INTO runtimes (spec_version, spec_name, impl_version, \
				 transaction_version, metadata) VALUES (?, ?, ?, ?, ?)",
			)
			.bind(spec)
			.bind(&version.spec_name)
			.bind(version.impl_version)
			.bind(version.transaction_version)
			.bind(metadata)
			.execute(&mut *tx)
			.await?;
		}
		let w = &block.weight;
		let digest = serde_json::to_string(&block.digest).unwrap_or_else(|_| "[]".into());
		sqlx::query(
			"INSERT INTO blocks (number, hash, parent_hash, state_root, extrinsics_root, digest, \
			 spec_version, extrinsic_count, event_count, length, normal_ref_time, \
			 normal_proof_size, operational_ref_time, operational_proof_size, \
			 mandatory_ref_time, mandatory_proof_size, decode_error, events_raw) \
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		)
		.bind(number)
		.bind(&block.hash)
		.bind(&block.parent_hash)
		.bind(&block.state_root)
		.bind(&block.extrinsics_root)
		.bind(digest)
		.bind(block.spec_version)
		.bind(block.extrinsics.len() as i64)
		.bind(block.events.len() as i64)
		.bind(int(block.length, "the block length")?)
		.bind(int(w.normal.ref_time, "a weight")?)
		.bind(int(w.normal.proof_size, "a weight")?)
		.bind(int(w.operational.ref_time, "a weight")?)
		.bind(int(w.operational.proof_size, "a weight")?)
		.bind(int(w.mandatory.ref_time, "a weight")?)
		.bind(int(w.mandatory.proof_size, "a weight")?)
		.bind(&block.decode_error)
		.bind(&block.events_raw)
		.execute(&mut *tx)
		.await?;
		for x in &block.extrinsics {
			let weight = match x.weight {
				Some(Weight {
					ref_time,
					proof_size,
				}) => (
					Some(int(ref_time, "a weight")?),
					Some(int(proof_size, "a weight")?),
				),
				None => (None, None),
			};
			let nonce = match x.nonce {
				Some(n) => Some(int(n, "a nonce")?),
				None => None,
			};
			sqlx::query(
				"INSERT INTO extrinsics (block_number, idx, hash, raw, length, version, kind, \
				 pallet, call, args, signer, nonce, era, tip, success, error, weight_ref_time, \
				 weight_proof_size, class, pays_fee, event_count, decode_error) \
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			)
			.bind(number)
			.bind(x.index)
			.bind(&x.hash)
			.bind(&x.raw)
			.bind(x.raw.len() as i64)
			.bind(x.version)
			.bind(x.kind)
			.bind(&x.pallet)
			.bind(&x.call)
			.bind(&x.args)
			.bind(&x.signer)
			.bind(nonce)
			.bind(&x.era)
			.bind(&x.tip)
			.bind(x.success)
			.bind(&x.error)
			.bind(weight.0)
			.bind(weight.1)
			.bind(&x.class)
			.bind(x.pays_fee)
			.bind(x.event_count)
			.bind(&x.decode_error)
			.execute(&mut *tx)
			.await?;
		}
		for e in &block.events {
			sqlx::query(
				"INSERT INTO events (block_number, idx, phase, extrinsic_idx, pallet, name, \
				 fields, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			)
			.bind(number)
			.bind(e.index)
			.bind(e.phase)
			.bind(e.extrinsic_index)
			.bind(&e.pallet)
			.bind(&e.name)
			.bind(&e.fields)
			.bind(&e.raw)
			.execute(&mut *tx)
			.await?;
		}
		tx.commit().await?;
		Ok(())
	}

	/// Counts over the complete blocks of `from..=to`.
	pub async fn totals(&mut self, from: u64, to: u64) -> Result<Totals, CaptureError> {
		let from = to_i64(from, "the range", &self.path)?;
		let to = to_i64(to, "the range", &self.path)?;
		let row = sqlx::query(
			"SELECT COUNT(*), COALESCE(SUM(extrinsic_count), 0), COALESCE(SUM(event_count), 0), \
			 (SELECT COUNT(*) FROM extrinsics WHERE success = 0 AND block_number BETWEEN ?1 AND ?2) \
			 FROM blocks WHERE number BETWEEN ?1 AND ?2",
		)
		.bind(from)
		.bind(to)
		.fetch_one(&mut self.conn)
		.await
		.map_err(|e| self.db_error("count the captured rows", 0, e))?;
		let get = |i: usize| {
			row.try_get::<i64, _>(i)
				.map(to_u64)
				.map_err(|e| self.db_error("count the captured rows", 0, e))
		};
		Ok(Totals {
			blocks: get(0)?,
			extrinsics: get(1)?,
			events: get(2)?,
			failed_extrinsics: get(3)?,
		})
	}

	/// Folds the write-ahead log into the file and leaves a single self-contained file.
	pub async fn close(mut self) -> Result<(), CaptureError> {
		sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
			.execute(&mut self.conn)
			.await
			.map_err(|e| self.db_error("checkpoint the write-ahead log", 0, e))?;
		sqlx::query("PRAGMA journal_mode = DELETE")
			.execute(&mut self.conn)
			.await
			.map_err(|e| self.db_error("leave write-ahead logging", 0, e))?;
		let path = self.path.clone();
		self.conn.close().await.map_err(|e| CaptureError::Database {
			path,
			operation: "close".into(),
			source: e,
		})
	}

	/// The connection, for tests that provoke failures.
	#[cfg(test)]
	pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
		&mut self.conn
	}
}

/// An error inside the block transaction.
enum WriteError {
	Db(sqlx::Error),
	Capture(CaptureError),
}

impl From<sqlx::Error> for WriteError {
	fn from(e: sqlx::Error) -> Self {
		WriteError::Db(e)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{
		decode::{CapturedEvent, CapturedExtrinsic, ClassWeights},
		read::read_capture,
	};

	fn version() -> RuntimeVersion {
		RuntimeVersion {
			spec_name: "test".into(),
			spec_version: 100,
			impl_version: 1,
			transaction_version: 1,
		}
	}

	fn meta() -> CaptureMeta {
		CaptureMeta {
			chain: "Development".into(),
			genesis_hash: "0x00".into(),
			url: "ws://127.0.0.1:9944".into(),
			range_from: 1,
			range_to: 3,
			tool_version: "0.1.0".into(),
		}
	}

	/// A block with one extrinsic of `len` bytes and one event.
	fn block(number: u64, len: usize) -> CapturedBlock {
		CapturedBlock {
			number,
			hash: format!("0x{number:064x}"),
			parent_hash: format!("0x{:064x}", number.saturating_sub(1)),
			state_root: "0x01".into(),
			extrinsics_root: "0x02".into(),
			digest: vec!["0x0600".into()],
			spec_version: 100,
			length: len as u64,
			weight: ClassWeights {
				normal: Weight {
					ref_time: 7,
					proof_size: 8,
				},
				..ClassWeights::default()
			},
			extrinsics: vec![CapturedExtrinsic {
				index: 0,
				hash: "0xab".into(),
				raw: vec![7; len],
				version: Some(4),
				kind: Some("signed"),
				pallet: Some("Balances".into()),
				call: Some("transfer_keep_alive".into()),
				args: Some("{}".into()),
				signer: Some("5Grw".into()),
				nonce: Some(3),
				era: Some("immortal".into()),
				tip: Some("0".into()),
				success: Some(false),
				error: Some("Balances::InsufficientBalance".into()),
				weight: Some(Weight {
					ref_time: 1,
					proof_size: 2,
				}),
				class: Some("normal".into()),
				pays_fee: Some(true),
				event_count: 1,
				decode_error: None,
			}],
			events: vec![CapturedEvent {
				index: 0,
				phase: "apply_extrinsic",
				extrinsic_index: Some(0),
				pallet: "System".into(),
				name: "ExtrinsicFailed".into(),
				fields: "{}".into(),
				raw: vec![1, 2, 3],
			}],
			decode_error: None,
			events_raw: None,
		}
	}

	#[tokio::test]
	async fn blocks_read_back_as_written() {
		let dir = tempfile::tempdir().expect("tempdir");
		let path = dir.path().join("c.db");
		let mut store = Store::open(&path, true).await.expect("open");
		store.set_meta(&meta()).await.expect("meta");
		store
			.write_block(&block(1, 10), &version(), b"md")
			.await
			.expect("write");
		assert_eq!(
			store.complete_blocks(1, 3).await.expect("complete"),
			HashSet::from([1])
		);
		let totals = store.totals(1, 3).await.expect("totals");
		assert_eq!(
			totals,
			Totals {
				blocks: 1,
				extrinsics: 1,
				events: 1,
				failed_extrinsics: 1
			}
		);
		store.close().await.expect("close");
		assert!(
			!dir.path().join("c.db-wal").exists(),
			"the capture is one file once closed"
		);

		let capture = read_capture(&path).await.expect("read");
		assert_eq!(capture.meta, meta());
		let b = &capture.blocks[0];
		assert_eq!((b.number, b.length, b.weight.normal.proof_size), (1, 10, 8));
		let x = &b.extrinsics[0];
		assert_eq!(x.error.as_deref(), Some("Balances::InsufficientBalance"));
		assert_eq!(
			(x.success, x.nonce, x.raw.len()),
			(Some(false), Some(3), 10)
		);
		assert_eq!(b.events[0].extrinsic_index, Some(0));
	}

	#[tokio::test]
	async fn a_full_disk_stops_the_capture_and_keeps_complete_blocks() {
		let dir = tempfile::tempdir().expect("tempdir");
		let path = dir.path().join("c.db");
		let mut store = Store::open(&path, true).await.expect("open");
		store.set_meta(&meta()).await.expect("meta");
		store
			.write_block(&block(1, 100), &version(), b"md")
			.await
			.expect("write");
		// The database may not grow any more: as if the disk were full.
		let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
			.fetch_one(store.conn())
			.await
			.expect("page_count");
		sqlx::query(&format!("PRAGMA max_page_count = {pages}"))
			.execute(store.conn())
			.await
			.expect("max_page_count");
		let err = store
			.write_block(&block(2, 200_000), &version(), b"md")
			.await
			.expect_err("the disk is full");
		assert!(
			matches!(err, CaptureError::DiskFull { block: 2, .. }),
			"{err}"
		);
		let message = err.to_string();
		assert!(
			message.contains("disk full while writing block #2"),
			"{message}"
		);
		assert!(message.contains("`--resume`"), "{message}");
		assert!(err.is_infrastructure() && err.is_resumable());
		store.close().await.expect("close");

		let mut store = Store::open(&path, false).await.expect("reopen");
		assert_eq!(
			store.complete_blocks(1, 3).await.expect("complete"),
			HashSet::from([1])
		);
		let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM extrinsics")
			.fetch_one(store.conn())
			.await
			.expect("count");
		assert_eq!(rows, 1, "nothing of block #2 was kept");
		store
			.write_block(&block(2, 200), &version(), b"md")
			.await
			.expect("resume writes");
		store.close().await.expect("close");
	}

	#[tokio::test]
	async fn files_that_are_not_captures_are_refused() {
		let dir = tempfile::tempdir().expect("tempdir");
		let text = dir.path().join("notes.txt");
		std::fs::write(&text, "not a database, but long enough to have a header........................................................").expect("write");
		let err = Store::open(&text, false).await.err().expect("refused");
		assert!(err.is_bad_input(), "{err}");
		assert!(err.to_string().contains("not a SQLite database"), "{err}");

		let other = dir.path().join("other.db");
		let mut conn = SqliteConnectOptions::new()
			.filename(&other)
			.create_if_missing(true)
			.connect()
			.await
			.expect("create");
		sqlx::query("CREATE TABLE accounts (id INTEGER)")
			.execute(&mut conn)
			.await
			.expect("table");
		conn.close().await.expect("close");
		let err = Store::open(&other, false).await.err().expect("refused");
		assert!(err.to_string().contains("not a stagenet capture"), "{err}");
		assert!(err.to_string().contains("`--force`"), "{err}");
	}
}
