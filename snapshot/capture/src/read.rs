//! Reading a capture database back: what replay, reports and tests consume.

use super::{
	decode::{ClassWeights, Weight},
	error::CaptureError,
	store::{sqlite_code, CaptureMeta, MIGRATOR},
};
use sqlx::{
	sqlite::{SqliteConnectOptions, SqliteConnection},
	ConnectOptions, Connection, Row,
};
use std::path::Path;

/// A captured block with its extrinsics and events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
	/// Block number.
	pub number: u64,
	/// Block hash, `0x`-hex.
	pub hash: String,
	/// Parent hash.
	pub parent_hash: String,
	/// State root.
	pub state_root: String,
	/// Extrinsics root.
	pub extrinsics_root: String,
	/// Spec version of the runtime that executed the block.
	pub spec_version: u32,
	/// Bytes: the sum of the encoded extrinsics.
	pub length: u64,
	/// `System::BlockWeight` at the block.
	pub weight: ClassWeights,
	/// Set when the block's events did not decode.
	pub decode_error: Option<String>,
	/// Its extrinsics, in order.
	pub extrinsics: Vec<StoredExtrinsic>,
	/// Its events, in order.
	pub events: Vec<StoredEvent>,
}

/// A captured extrinsic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredExtrinsic {
	/// Index in the block.
	pub index: u32,
	/// blake2-256 of the encoding, `0x`-hex.
	pub hash: String,
	/// SCALE encoding, with its length prefix.
	pub raw: Vec<u8>,
	/// `bare`, `signed` or `general`.
	pub kind: Option<String>,
	/// Pallet name.
	pub pallet: Option<String>,
	/// Call name.
	pub call: Option<String>,
	/// Call arguments, JSON.
	pub args: Option<String>,
	/// Signer: SS58 (prefix 42) or `0x`-hex.
	pub signer: Option<String>,
	/// Nonce.
	pub nonce: Option<u64>,
	/// `immortal` or `mortal(period, phase)`.
	pub era: Option<String>,
	/// Tip, decimal.
	pub tip: Option<String>,
	/// `Some(true)` success, `Some(false)` failure, `None` no outcome event.
	pub success: Option<bool>,
	/// Dispatch error of a failure: `Pallet::Error` or a `DispatchError` variant.
	pub error: Option<String>,
	/// Actual weight reported by the outcome event.
	pub weight: Option<Weight>,
	/// Dispatch class (`normal`, `operational`, `mandatory`).
	pub class: Option<String>,
	/// Whether it paid a fee.
	pub pays_fee: Option<bool>,
	/// Events emitted while applying it.
	pub event_count: u32,
	/// Why it did not decode.
	pub decode_error: Option<String>,
}

/// A captured event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
	/// Index in `System::Events`.
	pub index: u32,
	/// `initialization`, `apply_extrinsic` or `finalization`.
	pub phase: String,
	/// The extrinsic, for `apply_extrinsic`.
	pub extrinsic_index: Option<u32>,
	/// Pallet name.
	pub pallet: String,
	/// Event name.
	pub name: String,
	/// Fields, JSON.
	pub fields: String,
	/// SCALE `EventRecord`.
	pub raw: Vec<u8>,
}

/// A whole capture in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
	/// What was captured, from where.
	pub meta: CaptureMeta,
	/// Every complete block, by number.
	pub blocks: Vec<StoredBlock>,
}

/// Opens the capture at `path` read-only and checks it is a capture of a schema this build
/// reads.
async fn open_read_only(path: &Path) -> Result<SqliteConnection, CaptureError> {
	if !path.is_file() {
		return Err(CaptureError::OutputUnusable {
			path: path.to_path_buf(),
			reason: "no such file".into(),
			hint: "run `stagenet capture` first".into(),
		});
	}
	let mut conn: SqliteConnection = SqliteConnectOptions::new()
		.filename(path)
		.read_only(true)
		.connect()
		.await
		.map_err(|e| match sqlite_code(&e) {
			Some(26) => CaptureError::OutputUnusable {
				path: path.to_path_buf(),
				reason: "it is not a SQLite database".into(),
				hint: "pass the path of a capture".into(),
			},
			_ => CaptureError::Database {
				path: path.to_path_buf(),
				operation: "open".into(),
				source: e,
			},
		})?;
	check_schema(&mut conn, path).await?;
	Ok(conn)
}

/// Reads the capture at `path` (read-only), every block of it in memory: meant for windows
/// of blocks, not for months of chain.
pub async fn read_capture(path: &Path) -> Result<Capture, CaptureError> {
	let db = |operation: &str| {
		let operation = operation.to_string();
		move |source: sqlx::Error| CaptureError::Database {
			path: path.to_path_buf(),
			operation,
			source,
		}
	};
	let mut conn = open_read_only(path).await?;
	let meta = sqlx::query(
		"SELECT chain, genesis_hash, url, range_from, range_to, tool_version FROM capture_meta",
	)
	.fetch_optional(&mut conn)
	.await
	.map_err(db("read capture_meta"))?
	.map(|r| -> Result<CaptureMeta, sqlx::Error> {
		Ok(CaptureMeta {
			chain: r.try_get(0)?,
			genesis_hash: r.try_get(1)?,
			url: r.try_get(2)?,
			range_from: u(r.try_get(3)?),
			range_to: u(r.try_get(4)?),
			tool_version: r.try_get(5)?,
		})
	})
	.transpose()
	.map_err(db("read capture_meta"))?
	.ok_or_else(|| CaptureError::OutputUnusable {
		path: path.to_path_buf(),
		reason: "it holds no capture (`capture_meta` is empty)".into(),
		hint: "run `stagenet capture` again with `--force`".into(),
	})?;

	let mut blocks = Vec::new();
	let rows = sqlx::query(
		"SELECT number, hash, parent_hash, state_root, extrinsics_root, spec_version, length, \
		 normal_ref_time, normal_proof_size, operational_ref_time, operational_proof_size, \
		 mandatory_ref_time, mandatory_proof_size, decode_error FROM blocks ORDER BY number",
	)
	.fetch_all(&mut conn)
	.await
	.map_err(db("read blocks"))?;
	for r in rows {
		let w = |i: usize, j: usize| -> Result<Weight, sqlx::Error> {
			Ok(Weight {
				ref_time: u(r.try_get(i)?),
				proof_size: u(r.try_get(j)?),
			})
		};
		let block = || -> Result<StoredBlock, sqlx::Error> {
			Ok(StoredBlock {
				number: u(r.try_get(0)?),
				hash: r.try_get(1)?,
				parent_hash: r.try_get(2)?,
				state_root: r.try_get(3)?,
				extrinsics_root: r.try_get(4)?,
				spec_version: r.try_get(5)?,
				length: u(r.try_get(6)?),
				weight: ClassWeights {
					normal: w(7, 8)?,
					operational: w(9, 10)?,
					mandatory: w(11, 12)?,
				},
				decode_error: r.try_get(13)?,
				extrinsics: Vec::new(),
				events: Vec::new(),
			})
		};
		blocks.push(block().map_err(db("read blocks"))?);
	}
	let index_of =
		|blocks: &[StoredBlock], n: i64| blocks.binary_search_by_key(&u(n), |b| b.number).ok();
	let rows = sqlx::query(
		"SELECT block_number, idx, hash, raw, kind, pallet, call, args, signer, nonce, era, tip, \
		 success, error, weight_ref_time, weight_proof_size, class, pays_fee, event_count, \
		 decode_error FROM extrinsics ORDER BY block_number, idx",
	)
	.fetch_all(&mut conn)
	.await
	.map_err(db("read extrinsics"))?;
	for r in rows {
		let extrinsic = || -> Result<(i64, StoredExtrinsic), sqlx::Error> {
			let ref_time: Option<i64> = r.try_get(14)?;
			let proof_size: Option<i64> = r.try_get(15)?;
			Ok((
				r.try_get(0)?,
				StoredExtrinsic {
					index: r.try_get(1)?,
					hash: r.try_get(2)?,
					raw: r.try_get(3)?,
					kind: r.try_get(4)?,
					pallet: r.try_get(5)?,
					call: r.try_get(6)?,
					args: r.try_get(7)?,
					signer: r.try_get(8)?,
					nonce: r.try_get::<Option<i64>, _>(9)?.map(u),
					era: r.try_get(10)?,
					tip: r.try_get(11)?,
					success: r.try_get(12)?,
					error: r.try_get(13)?,
					weight: ref_time.map(|rt| Weight {
						ref_time: u(rt),
						proof_size: proof_size.map(u).unwrap_or_default(),
					}),
					class: r.try_get(16)?,
					pays_fee: r.try_get(17)?,
					event_count: r.try_get(18)?,
					decode_error: r.try_get(19)?,
				},
			))
		};
		let (number, x) = extrinsic().map_err(db("read extrinsics"))?;
		if let Some(b) = index_of(&blocks, number) {
			blocks[b].extrinsics.push(x);
		}
	}
	let rows = sqlx::query(
		"SELECT block_number, idx, phase, extrinsic_idx, pallet, name, fields, raw FROM events \
		 ORDER BY block_number, idx",
	)
	.fetch_all(&mut conn)
	.await
	.map_err(db("read events"))?;
	for r in rows {
		let event = || -> Result<(i64, StoredEvent), sqlx::Error> {
			Ok((
				r.try_get(0)?,
				StoredEvent {
					index: r.try_get(1)?,
					phase: r.try_get(2)?,
					extrinsic_index: r.try_get(3)?,
					pallet: r.try_get(4)?,
					name: r.try_get(5)?,
					fields: r.try_get(6)?,
					raw: r.try_get(7)?,
				},
			))
		};
		let (number, e) = event().map_err(db("read events"))?;
		if let Some(b) = index_of(&blocks, number) {
			blocks[b].events.push(e);
		}
	}
	conn.close().await.map_err(db("close"))?;
	Ok(Capture { meta, blocks })
}

/// A runtime that executed captured blocks: its version and metadata, as the capture stored
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRuntime {
	/// Spec version.
	pub spec_version: u32,
	/// Spec name.
	pub spec_name: String,
	/// Its metadata, SCALE `RuntimeMetadataPrefixed` as the node sent it.
	pub metadata: Vec<u8>,
}

/// Reads every runtime of the capture at `path` (read-only), by spec version: what decodes
/// its extrinsics and events offline.
pub async fn read_runtimes(path: &Path) -> Result<Vec<StoredRuntime>, CaptureError> {
	let db = |operation: &str| {
		let operation = operation.to_string();
		move |source: sqlx::Error| CaptureError::Database {
			path: path.to_path_buf(),
			operation,
			source,
		}
	};
	let mut conn = open_read_only(path).await?;
	let rows =
		sqlx::query("SELECT spec_version, spec_name, metadata FROM runtimes ORDER BY spec_version")
			.fetch_all(&mut conn)
			.await
			.map_err(db("read runtimes"))?;
	let mut runtimes = Vec::with_capacity(rows.len());
	for r in rows {
		let runtime = || -> Result<StoredRuntime, sqlx::Error> {
			Ok(StoredRuntime {
				spec_version: r.try_get(0)?,
				spec_name: r.try_get(1)?,
				metadata: r.try_get(2)?,
			})
		};
		runtimes.push(runtime().map_err(db("read runtimes"))?);
	}
	conn.close().await.map_err(db("close"))?;
	Ok(runtimes)
}

/// Refuses a database whose schema is not the one this code writes.
async fn check_schema(conn: &mut SqliteConnection, path: &Path) -> Result<(), CaptureError> {
	let applied: Vec<i64> =
		sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
			.fetch_all(&mut *conn)
			.await
			.map_err(|_| CaptureError::OutputUnusable {
				path: path.to_path_buf(),
				reason: "it is not a stagenet capture (no schema version)".into(),
				hint: "pass the path of a capture".into(),
			})?;
	let known: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
	if applied != known {
		return Err(CaptureError::OutputUnusable {
			path: path.to_path_buf(),
			reason: format!("its schema versions are {applied:?}; this stagenet reads {known:?}"),
			hint: "use the stagenet that wrote it, or open it with `stagenet capture --resume`, which upgrades older schemas".into(),
		});
	}
	Ok(())
}

fn u(v: i64) -> u64 {
	u64::try_from(v).unwrap_or_default()
}
