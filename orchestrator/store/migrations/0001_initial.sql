-- The run record, version 1. Portable SQL: the same file runs on SQLite and on Postgres.
--
-- Integers are BIGINT. `u64` values (block numbers, weights, lengths, limits) are stored as
-- their bits reinterpreted as a signed 64-bit integer, so `u64::MAX` (no limit) reads back as
-- -1 in SQL and as `u64::MAX` through the store. Booleans are BIGINT 0/1 (NULL = unknown).
-- Nested lists are JSON text.

CREATE TABLE runs (
	id TEXT NOT NULL PRIMARY KEY,
	scenario TEXT,
	scenario_file TEXT,
	provider TEXT NOT NULL,
	chain TEXT NOT NULL,
	genesis_hash TEXT NOT NULL,
	tool_version TEXT NOT NULL,
	started_at BIGINT NOT NULL,
	finished_at BIGINT,
	verdict TEXT,
	error TEXT
);

CREATE INDEX runs_by_start ON runs (started_at);

CREATE TABLE nodes (
	run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	ord BIGINT NOT NULL,
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	rpc_url TEXT NOT NULL,
	prometheus_url TEXT,
	log_file TEXT NOT NULL,
	PRIMARY KEY (run_id, name)
);

CREATE TABLE blocks (
	run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	number BIGINT NOT NULL,
	hash TEXT NOT NULL,
	parent_hash TEXT NOT NULL,
	author TEXT,
	spec_version BIGINT NOT NULL,
	block_timestamp BIGINT,
	seen_at BIGINT NOT NULL,
	weight_normal BIGINT NOT NULL,
	weight_operational BIGINT NOT NULL,
	weight_mandatory BIGINT NOT NULL,
	max_block BIGINT NOT NULL,
	max_total_normal BIGINT NOT NULL,
	max_total_operational BIGINT NOT NULL,
	max_total_mandatory BIGINT NOT NULL,
	max_length_normal BIGINT NOT NULL,
	max_length_operational BIGINT NOT NULL,
	max_length_mandatory BIGINT NOT NULL,
	length BIGINT NOT NULL,
	extrinsic_count BIGINT NOT NULL,
	failed_extrinsic_count BIGINT NOT NULL,
	event_count BIGINT NOT NULL,
	authoring_ms DOUBLE PRECISION,
	import_ms DOUBLE PRECISION,
	heights TEXT NOT NULL,
	PRIMARY KEY (run_id, number)
);

CREATE TABLE extrinsics (
	run_id TEXT NOT NULL,
	block_number BIGINT NOT NULL,
	idx BIGINT NOT NULL,
	call_name TEXT,
	signer TEXT,
	success BIGINT,
	error TEXT,
	weight BIGINT,
	dispatch_class TEXT,
	PRIMARY KEY (run_id, block_number, idx),
	FOREIGN KEY (run_id, block_number) REFERENCES blocks (run_id, number) ON DELETE CASCADE
);

CREATE INDEX extrinsics_failed ON extrinsics (run_id, success);

CREATE TABLE events (
	run_id TEXT NOT NULL,
	block_number BIGINT NOT NULL,
	idx BIGINT NOT NULL,
	phase TEXT NOT NULL,
	extrinsic BIGINT,
	pallet TEXT NOT NULL,
	variant TEXT NOT NULL,
	fields TEXT NOT NULL,
	PRIMARY KEY (run_id, block_number, idx),
	FOREIGN KEY (run_id, block_number) REFERENCES blocks (run_id, number) ON DELETE CASCADE
);

CREATE TABLE findings (
	run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq BIGINT NOT NULL,
	kind TEXT NOT NULL,
	node TEXT,
	block_number BIGINT,
	seen_at BIGINT NOT NULL,
	message TEXT NOT NULL,
	context TEXT NOT NULL,
	PRIMARY KEY (run_id, seq)
);

CREATE TABLE upgrades (
	run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq BIGINT NOT NULL,
	via TEXT NOT NULL,
	wasm TEXT NOT NULL,
	code_hash TEXT NOT NULL,
	old_version TEXT NOT NULL,
	new_version TEXT,
	included_in BIGINT NOT NULL,
	code_updated BIGINT NOT NULL,
	last_runtime_upgrade TEXT,
	first_block BIGINT,
	first_block_mandatory BIGINT,
	baseline_mandatory BIGINT,
	migration_weight BIGINT,
	max_block BIGINT,
	migration_percent DOUBLE PRECISION,
	first_block_events TEXT NOT NULL,
	diff_from BIGINT,
	diff_to BIGINT,
	diff TEXT NOT NULL,
	error TEXT,
	PRIMARY KEY (run_id, seq)
);

CREATE TABLE steps (
	run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	idx BIGINT NOT NULL,
	kind TEXT NOT NULL,
	description TEXT NOT NULL,
	started_at BIGINT NOT NULL,
	finished_at BIGINT NOT NULL,
	block_number BIGINT,
	ok BIGINT NOT NULL,
	outcome TEXT NOT NULL,
	PRIMARY KEY (run_id, idx)
);

CREATE TABLE gates (
	run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	ord BIGINT NOT NULL,
	name TEXT NOT NULL,
	description TEXT NOT NULL,
	threshold TEXT NOT NULL,
	measured TEXT NOT NULL,
	passed BIGINT NOT NULL,
	detail TEXT,
	PRIMARY KEY (run_id, ord)
);
