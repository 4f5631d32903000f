//! The round-trip suite: every test here runs on every backend (see `main.rs`).

use std::path::Path;

use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, Connection};
use stagenet_store::db::{latest_migration, MIGRATOR};
use stagenet_store::{
	BlockLimits, BlockRecord, Finding, FindingKind, GateResult, NodeHeight, PerClass, ReplayRecord,
	RunReport, Store, StoreError, StressRecord, UpgradeRecord, Verdict, REPORT_SCHEMA_VERSION,
};

use crate::fixtures;
use crate::harness::{TestDb, TestResult};

/// Every record type written, read back equal; blocks come back by number whatever the order
/// they were recorded in.
pub async fn every_record_round_trips(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	assert_eq!(store.backend(), db.backend());
	let mut run = fixtures::run("r1", 1_700_000_000_000);
	store.create_run(&run).await?;
	let nodes = fixtures::nodes();
	for node in &nodes {
		store.add_node("r1", node).await?;
	}
	for number in [2, 0, 1] {
		store
			.add_block(
				"r1",
				&fixtures::block(number),
				&fixtures::extrinsics(number),
				&fixtures::events(number),
			)
			.await?;
	}
	let findings: Vec<Finding> = (0..4).map(fixtures::finding).collect();
	for finding in &findings {
		store.add_finding("r1", finding).await?;
	}
	// Recorded when sent, completed after the first block of the new runtime: an upsert.
	store
		.put_upgrade("r1", &fixtures::upgrade(0, false))
		.await?;
	store.put_upgrade("r1", &fixtures::upgrade(0, true)).await?;
	store
		.put_upgrade("r1", &fixtures::upgrade(1, false))
		.await?;
	let steps: Vec<_> = (0..3).map(fixtures::step).collect();
	for step in &steps {
		store.add_step("r1", step).await?;
	}
	store.set_gates("r1", &fixtures::gates()).await?;
	store.put_replay("r1", &fixtures::replay(0, true)).await?;
	store.put_stress("r1", &fixtures::stress(0, true)).await?;
	store
		.finish_run(
			"r1",
			1_700_000_060_000,
			Some(Verdict::Fail),
			Some("gate `finality-lag` failed".to_string()),
		)
		.await?;
	run.finished_at = Some(1_700_000_060_000);
	run.verdict = Some(Verdict::Fail);
	run.error = Some("gate `finality-lag` failed".to_string());

	let expected = RunReport {
		schema_version: REPORT_SCHEMA_VERSION,
		run: run.clone(),
		nodes: nodes.clone(),
		blocks: (0..3).map(fixtures::block).collect(),
		failed_extrinsics: (0..3)
			.flat_map(fixtures::extrinsics)
			.filter(|x| x.success == Some(false))
			.collect(),
		findings,
		upgrades: vec![fixtures::upgrade(0, true), fixtures::upgrade(1, false)],
		steps,
		gates: fixtures::gates(),
		replays: vec![fixtures::replay(0, true)],
		stresses: vec![fixtures::stress(0, true)],
	};
	let report = store.report("r1").await?;
	assert_eq!(report, expected);
	assert_eq!(report.failed_extrinsics.len(), 3);
	assert_eq!(store.runs().await?, vec![run.clone()]);
	assert_eq!(store.run("r1").await?, run);
	assert_eq!(store.events("r1", 1).await?, fixtures::events(1));
	assert_eq!(store.extrinsics("r1", 1).await?, fixtures::extrinsics(1));
	assert_eq!(store.events("r1", 7).await?, vec![]);

	// Re-adding a node replaces it and keeps its place.
	let mut alice = nodes[0].clone();
	alice.rpc_url = "ws://10.0.0.2:9944".to_string();
	store.add_node("r1", &alice).await?;
	let report = store.report("r1").await?;
	assert_eq!(report.nodes, vec![alice, nodes[1].clone()]);
	store.close().await?;
	Ok(())
}

/// `u64::MAX` (and values above `i64::MAX`) survive every `u64` column and JSON field.
pub async fn u64_max_round_trips(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	store.create_run(&fixtures::run("max", 0)).await?;
	let max = u64::MAX;
	let above_i64 = u64::MAX / 2 + 1;
	let block = BlockRecord {
		number: max,
		weight: PerClass {
			normal: max,
			operational: above_i64,
			mandatory: max - 1,
		},
		limits: BlockLimits {
			max_block: max,
			max_total: PerClass {
				normal: max,
				operational: max,
				mandatory: max,
			},
			max_length: PerClass {
				normal: max,
				operational: above_i64,
				mandatory: 0,
			},
		},
		length: max,
		spec_version: u32::MAX,
		extrinsics: u32::MAX,
		failed_extrinsics: u32::MAX,
		events: u32::MAX,
		heights: vec![NodeHeight {
			node: "alice".to_string(),
			best: Some(max),
			finalized: Some(above_i64),
		}],
		..fixtures::block(1)
	};
	let extrinsics: Vec<_> = fixtures::extrinsics(max)
		.into_iter()
		.map(|mut x| {
			x.weight = x.weight.map(|_| max);
			x.index = x.index.saturating_add(u32::MAX - 5);
			x
		})
		.collect();
	let mut events = fixtures::events(max);
	events[1].extrinsic = Some(u32::MAX);
	store.add_block("max", &block, &extrinsics, &events).await?;
	let upgrade = UpgradeRecord {
		included_in: max,
		first_block: Some(max),
		first_block_mandatory: Some(max),
		baseline_mandatory: Some(above_i64),
		migration_weight: Some(max),
		max_block: Some(max),
		diff_from: Some(max - 1),
		diff_to: Some(max),
		seq: u32::MAX,
		..fixtures::upgrade(0, true)
	};
	store.put_upgrade("max", &upgrade).await?;
	let finding = Finding {
		block: Some(max),
		seq: u32::MAX,
		..fixtures::finding(0)
	};
	store.add_finding("max", &finding).await?;
	let step = fixtures::step(1);
	let step = stagenet_store::StepRecord {
		block: Some(max),
		index: u32::MAX,
		..step
	};
	store.add_step("max", &step).await?;

	let report = store.report("max").await?;
	assert_eq!(report.blocks, vec![block]);
	assert_eq!(report.blocks[0].limits.max_total.operational, u64::MAX);
	assert_eq!(
		report.failed_extrinsics,
		extrinsics
			.iter()
			.filter(|x| x.success == Some(false))
			.cloned()
			.collect::<Vec<_>>()
	);
	assert_eq!(report.upgrades, vec![upgrade]);
	assert_eq!(report.findings, vec![finding]);
	assert_eq!(report.steps, vec![step]);
	assert_eq!(store.extrinsics("max", max).await?, extrinsics);
	assert_eq!(store.events("max", max).await?, events);
	store.close().await?;
	Ok(())
}

/// Recording a block number again (a reorg) replaces the block, its extrinsics and events.
pub async fn block_is_replaced(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	store.create_run(&fixtures::run("reorg", 0)).await?;
	for number in [4, 5, 6] {
		store
			.add_block(
				"reorg",
				&fixtures::block(number),
				&fixtures::extrinsics(number),
				&fixtures::events(number),
			)
			.await?;
	}
	let mut fork = fixtures::block(5);
	fork.hash = "0xfork".to_string();
	fork.extrinsics = 1;
	fork.failed_extrinsics = 0;
	fork.events = 0;
	let fork_extrinsics = vec![fixtures::extrinsics(5).remove(0)];
	store
		.add_block("reorg", &fork, &fork_extrinsics, &[])
		.await?;

	let report = store.report("reorg").await?;
	assert_eq!(
		report.blocks,
		vec![fixtures::block(4), fork.clone(), fixtures::block(6)]
	);
	assert_eq!(
		report
			.failed_extrinsics
			.iter()
			.map(|x| x.block)
			.collect::<Vec<_>>(),
		vec![4, 6]
	);
	assert_eq!(store.extrinsics("reorg", 5).await?, fork_extrinsics);
	assert_eq!(store.events("reorg", 5).await?, vec![]);
	assert_eq!(store.events("reorg", 6).await?, fixtures::events(6));

	// A failed replacement leaves the recorded block as it was (one transaction).
	let mut twice = fixtures::extrinsics(5);
	twice[1].index = 0;
	let err = store
		.add_block("reorg", &fixtures::block(5), &twice, &[])
		.await
		.err()
		.ok_or("a block with two extrinsics #0 was accepted")?;
	assert!(
		matches!(err, StoreError::InvalidRecord { .. }),
		"unexpected error: {err}"
	);
	assert_eq!(
		err.to_string(),
		"cannot store extrinsic #0 of block #5 in run `reorg`: its index appears twice"
	);
	let mut wrong_block = fixtures::events(5);
	wrong_block[1].block = 9;
	let err = store
		.add_block("reorg", &fixtures::block(5), &[], &wrong_block)
		.await
		.err()
		.ok_or("an event of another block was accepted")?;
	assert_eq!(
		err.to_string(),
		"cannot store event #1 of block #5 in run `reorg`: it says it is in block #9"
	);
	assert_eq!(store.report("reorg").await?.blocks[1], fork);
	store.close().await?;
	Ok(())
}

/// Gates are replaced as a whole, in the order given.
pub async fn gates_are_replaced(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	store.create_run(&fixtures::run("g", 0)).await?;
	store.set_gates("g", &fixtures::gates()).await?;
	let mut gates: Vec<GateResult> = fixtures::gates().into_iter().rev().take(2).collect();
	gates[0].passed = true;
	store.set_gates("g", &gates).await?;
	assert_eq!(store.report("g").await?.gates, gates);
	store.set_gates("g", &[]).await?;
	let report = store.report("g").await?;
	assert_eq!(report.gates, vec![]);
	assert_eq!(report.verdict(), Verdict::Pass);
	store.close().await?;
	Ok(())
}

/// An unknown run is `RunNotFound`, naming a few known runs newest first, with the hint;
/// writes to it are refused the same way.
pub async fn run_not_found_lists_known_runs(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	let err = store.report("nope").await.err().ok_or("report of no run")?;
	assert_eq!(
		err.to_string(),
		"run `nope` is not in the store (the store holds no runs) (hint: `stagenet report` without a run lists the runs of this store; for a run recorded in another one, point `stagenet report --database-url …` at it)"
	);
	for i in 1..=7 {
		store
			.create_run(&fixtures::run(&format!("r{i}"), i))
			.await?;
	}
	let err = store.report("nope").await.err().ok_or("report of no run")?;
	assert!(err.is_run_not_found());
	match &err {
		StoreError::RunNotFound { run, known } => {
			assert_eq!(run, "nope");
			assert_eq!(known, &["r7", "r6", "r5", "r4", "r3", "r2", "r1"]);
		}
		other => return Err(format!("unexpected error: {other}").into()),
	}
	assert_eq!(
		err.to_string(),
		"run `nope` is not in the store (known runs, newest first: `r7`, `r6`, `r5`, `r4`, `r3` and 2 more) (hint: `stagenet report` without a run lists the runs of this store; for a run recorded in another one, point `stagenet report --database-url …` at it)"
	);
	let ids: Vec<String> = store.runs().await?.into_iter().map(|r| r.id).collect();
	assert_eq!(ids, ["r7", "r6", "r5", "r4", "r3", "r2", "r1"]);

	let node = &fixtures::nodes()[0];
	let errors = [
		store.add_node("nope", node).await.err(),
		store
			.add_block("nope", &fixtures::block(1), &fixtures::extrinsics(1), &[])
			.await
			.err(),
		store.add_finding("nope", &fixtures::finding(0)).await.err(),
		store
			.put_upgrade("nope", &fixtures::upgrade(0, true))
			.await
			.err(),
		store.add_step("nope", &fixtures::step(0)).await.err(),
		store
			.put_replay("nope", &fixtures::replay(0, true))
			.await
			.err(),
		store
			.put_stress("nope", &fixtures::stress(0, true))
			.await
			.err(),
		store.next_replay_seq("nope").await.err(),
		store.next_stress_seq("nope").await.err(),
		store.set_gates("nope", &fixtures::gates()).await.err(),
		store.set_gates("nope", &[]).await.err(),
		store.finish_run("nope", 1, None, None).await.err(),
		store.events("nope", 1).await.err(),
		store.extrinsics("nope", 1).await.err(),
		store.run("nope").await.err(),
	];
	for (i, err) in errors.into_iter().enumerate() {
		match err {
			Some(e) if e.is_run_not_found() => {}
			other => return Err(format!("call {i}: expected RunNotFound, got {other:?}").into()),
		}
	}
	store.close().await?;
	Ok(())
}

/// A taken run id, finding or step number is refused with a hint.
pub async fn duplicates_are_refused(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	store.create_run(&fixtures::run("dup", 0)).await?;
	let err = store
		.create_run(&fixtures::run("dup", 5))
		.await
		.err()
		.ok_or("a second run `dup` was accepted")?;
	assert!(err.is_run_exists(), "unexpected error: {err}");
	assert_eq!(
		err.to_string(),
		"run `dup` already exists in the store (hint: run ids are unique; start the run under another id, or read the existing one with `stagenet report`)"
	);
	store.add_finding("dup", &fixtures::finding(3)).await?;
	let err = store
		.add_finding("dup", &fixtures::finding(3))
		.await
		.err()
		.ok_or("finding #3 was accepted twice")?;
	assert_eq!(
		err.to_string(),
		"finding #3 is already recorded in run `dup` (hint: number each finding once within a run)"
	);
	store.add_step("dup", &fixtures::step(1)).await?;
	let err = store
		.add_step("dup", &fixtures::step(1))
		.await
		.err()
		.ok_or("step #1 was accepted twice")?;
	assert!(
		matches!(err, StoreError::Duplicate { kind: "step", .. }),
		"unexpected error: {err}"
	);
	assert_eq!(store.runs().await?.len(), 1);
	store.close().await?;
	Ok(())
}

/// Opening an existing store again applies no migration twice and keeps its records; two
/// stores can be open on the same database at once.
pub async fn reopening_keeps_records(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	store.create_run(&fixtures::run("keep", 1)).await?;
	store
		.add_block(
			"keep",
			&fixtures::block(1),
			&fixtures::extrinsics(1),
			&fixtures::events(1),
		)
		.await?;
	store.close().await?;

	let first = Store::open(&db.target()).await?;
	let second = Store::open(&db.target()).await?;
	assert_eq!(first.runs().await?, vec![fixtures::run("keep", 1)]);
	second.add_node("keep", &fixtures::nodes()[0]).await?;
	let report = first.report("keep").await?;
	assert_eq!(report.blocks, vec![fixtures::block(1)]);
	assert_eq!(report.nodes, vec![fixtures::nodes()[0].clone()]);
	first.close().await?;
	second.close().await?;

	// Every migration is recorded once.
	let mut conn = AnyConnection::connect(&db.sqlx_url()).await?;
	let applied: Vec<(i64,)> =
		sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version")
			.fetch_all(&mut conn)
			.await?;
	let shipped: Vec<(i64,)> = MIGRATOR.iter().map(|m| (m.version,)).collect();
	assert_eq!(applied, shipped);
	conn.close().await?;
	Ok(())
}

/// A database with a migration newer than this build's is refused with a clear error.
pub async fn future_migration_is_refused(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	store.create_run(&fixtures::run("old", 1)).await?;
	store.close().await?;

	// A newer stagenet: this build's migrations plus one more.
	let dir = db.scratch().join("newer-migrations");
	copy_migrations(&dir)?;
	let future = latest_migration() + 1;
	std::fs::write(
		dir.join(format!("{future}_from_the_future.sql")),
		"CREATE TABLE from_the_future (x BIGINT);\n",
	)?;
	let newer = Migrator::new(dir.as_path()).await?;
	let mut conn = AnyConnection::connect(&db.sqlx_url()).await?;
	newer.run(&mut conn).await?;
	conn.close().await?;

	let err = Store::open(&db.target())
		.await
		.err()
		.ok_or("a store with a future migration was opened")?;
	assert!(err.is_newer_schema(), "unexpected error: {err}");
	let latest = latest_migration();
	let message = err.to_string();
	assert!(
		message.contains(&format!(
			"was written by a newer stagenet: it has schema migration {future}, this stagenet knows migrations up to {latest} (hint: read it with a newer stagenet, or give this one another database)"
		)),
		"{message}"
	);
	Ok(())
}

/// A database migrated by another program (sqlx's table, no `runs`) is not taken over.
pub async fn foreign_database_is_refused(db: &dyn TestDb) -> TestResult {
	let dir = db.scratch().join("other-program");
	std::fs::create_dir_all(&dir)?;
	std::fs::write(
		dir.join("1_other.sql"),
		"CREATE TABLE captures (x BIGINT);\n",
	)?;
	let other = Migrator::new(dir.as_path()).await?;
	let mut conn = AnyConnection::connect(&db.sqlx_url()).await?;
	other.run(&mut conn).await?;
	conn.close().await?;
	let err = Store::open(&db.target())
		.await
		.err()
		.ok_or("another program's database was taken over")?;
	assert!(
		matches!(err, StoreError::NotAStore { .. }),
		"unexpected error: {err}"
	);
	assert!(
		err.to_string().ends_with(
			"is not a stagenet store: it holds another program's migrated tables but no `runs` table (hint: give stagenet a database of its own)"
		),
		"{err}"
	);
	Ok(())
}

/// Copies this build's migrations to `dir`.
fn copy_migrations(dir: &Path) -> std::io::Result<()> {
	std::fs::create_dir_all(dir)?;
	let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
	for entry in std::fs::read_dir(shipped)? {
		let entry = entry?;
		std::fs::copy(entry.path(), dir.join(entry.file_name()))?;
	}
	Ok(())
}

/// Findings of every kind come back as the same kind.
pub async fn every_finding_kind_round_trips(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	store.create_run(&fixtures::run("kinds", 0)).await?;
	let mut expected = Vec::new();
	for (seq, kind) in (0_u32..).zip(FindingKind::ALL) {
		let finding = Finding {
			kind,
			..fixtures::finding(seq)
		};
		store.add_finding("kinds", &finding).await?;
		expected.push(finding);
	}
	for (seq, verdict) in [
		Verdict::Pass,
		Verdict::Fail,
		Verdict::BadInput,
		Verdict::Infrastructure,
	]
	.into_iter()
	.enumerate()
	{
		let id = format!("v{seq}");
		store.create_run(&fixtures::run(&id, 10)).await?;
		store.finish_run(&id, 20, Some(verdict), None).await?;
		assert_eq!(store.run(&id).await?.verdict, Some(verdict));
	}
	assert_eq!(store.report("kinds").await?.findings, expected);
	store.close().await?;
	Ok(())
}

/// Replays and stress loads come back equal, `None`s and `Some`s alike, ordered by `seq`
/// whatever the order they were recorded in; a run without any has empty lists.
pub async fn replays_and_stresses_round_trip(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	store.create_run(&fixtures::run("rs", 0)).await?;
	let report = store.report("rs").await?;
	assert_eq!(report.replays, vec![]);
	assert_eq!(report.stresses, vec![]);

	let replays = vec![
		fixtures::replay(0, false),
		fixtures::replay(1, true),
		fixtures::replay(2, false),
	];
	let stresses = vec![
		fixtures::stress(0, true),
		fixtures::stress(1, false),
		fixtures::stress(2, true),
	];
	for i in [2, 0, 1] {
		store.put_replay("rs", &replays[i]).await?;
		store.put_stress("rs", &stresses[i]).await?;
	}
	let report = store.report("rs").await?;
	assert_eq!(report.replays, replays);
	assert_eq!(report.stresses, stresses);
	assert_eq!(report.replays[1].divergences.len(), 3);
	assert_eq!(report.stresses[0].blocks.len(), 3);
	assert_eq!(report.stresses[0].theoretical_per_block, Some(u64::MAX));
	assert_eq!(report.stresses[1].read_latency, None);
	assert_eq!(report.replays[1].fork_to, Some(u64::MAX));
	// Another run's records stay its own.
	store.create_run(&fixtures::run("other", 1)).await?;
	store
		.put_replay("other", &fixtures::replay(0, true))
		.await?;
	assert_eq!(store.report("rs").await?.replays, replays);
	assert_eq!(store.report("other").await?.stresses, vec![]);
	store.close().await?;
	Ok(())
}

/// Putting a replay or a stress load with a recorded `seq` replaces it (its record is completed
/// as it progresses); a record can also lose what it had (`Some` → `None`).
pub async fn replay_and_stress_are_upserted(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	store.create_run(&fixtures::run("up", 0)).await?;
	store.put_replay("up", &fixtures::replay(0, false)).await?;
	store.put_stress("up", &fixtures::stress(0, false)).await?;
	store.put_replay("up", &fixtures::replay(0, true)).await?;
	store.put_stress("up", &fixtures::stress(0, true)).await?;
	let report = store.report("up").await?;
	assert_eq!(report.replays, vec![fixtures::replay(0, true)]);
	assert_eq!(report.stresses, vec![fixtures::stress(0, true)]);

	let replay = ReplayRecord {
		fork_from: None,
		fork_to: None,
		divergences: Vec::new(),
		error: Some("stopped: the fork stalled".to_string()),
		..fixtures::replay(0, true)
	};
	let stress = StressRecord {
		read_latency: None,
		theoretical_per_block: None,
		blocks: fixtures::stress(0, true)
			.blocks
			.into_iter()
			.take(1)
			.collect(),
		error: Some("stopped: the fork stalled".to_string()),
		..fixtures::stress(0, true)
	};
	store.put_replay("up", &replay).await?;
	store.put_stress("up", &stress).await?;
	let report = store.report("up").await?;
	assert_eq!(report.replays, vec![replay]);
	assert_eq!(report.stresses, vec![stress]);
	store.close().await?;
	Ok(())
}

/// The next `seq` is one more than the highest recorded (not the count), 0 for none, counted
/// per run and per kind; the last number cannot be followed.
pub async fn next_seq_follows_the_highest(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	store.create_run(&fixtures::run("n", 0)).await?;
	store.create_run(&fixtures::run("m", 1)).await?;
	assert_eq!(store.next_replay_seq("n").await?, 0);
	assert_eq!(store.next_stress_seq("n").await?, 0);
	store.put_replay("n", &fixtures::replay(0, true)).await?;
	assert_eq!(store.next_replay_seq("n").await?, 1);
	assert_eq!(store.next_stress_seq("n").await?, 0);
	store.put_replay("n", &fixtures::replay(7, true)).await?;
	store.put_replay("n", &fixtures::replay(3, true)).await?;
	store.put_stress("n", &fixtures::stress(12, false)).await?;
	assert_eq!(store.next_replay_seq("n").await?, 8);
	assert_eq!(store.next_stress_seq("n").await?, 13);
	assert_eq!(store.next_replay_seq("m").await?, 0);
	assert_eq!(store.next_stress_seq("m").await?, 0);

	store
		.put_stress("m", &fixtures::stress(u32::MAX, true))
		.await?;
	let err = store
		.next_stress_seq("m")
		.await
		.err()
		.ok_or("a seq after u32::MAX was handed out")?;
	assert_eq!(
		err.to_string(),
		format!(
			"cannot store the next stress load in run `m`: stress load #{} is recorded and is the last number",
			u32::MAX
		)
	);
	assert_eq!(store.report("m").await?.stresses[0].seq, u32::MAX);
	store.close().await?;
	Ok(())
}

/// A stress load with a rate or latency that is not a finite number is refused, naming the
/// field (SQLite would store a NaN as NULL, JSON has no infinities).
pub async fn non_finite_stress_is_refused(db: &dyn TestDb) -> TestResult {
	let store = Store::open(&db.target()).await?;
	store.create_run(&fixtures::run("nan", 0)).await?;
	let mut stress = fixtures::stress(4, true);
	stress.included_tps = f64::NAN;
	let err = store
		.put_stress("nan", &stress)
		.await
		.err()
		.ok_or("a NaN rate was accepted")?;
	assert_eq!(
		err.to_string(),
		"cannot store stress load #4 in run `nan`: `included_tps` holds `NaN`, not a finite number"
	);
	let mut stress = fixtures::stress(4, true);
	if let Some(p) = stress.read_latency.as_mut() {
		p.p99 = f64::INFINITY;
	}
	let err = store
		.put_stress("nan", &stress)
		.await
		.err()
		.ok_or("an infinite latency was accepted")?;
	assert!(
		matches!(err, StoreError::InvalidRecord { .. }),
		"unexpected error: {err}"
	);
	assert!(
		err.to_string().contains("`read_latency` holds `inf`"),
		"{err}"
	);
	assert_eq!(store.report("nan").await?.stresses, vec![]);
	store.close().await?;
	Ok(())
}
