-- stagenet capture database, schema 1.
-- Hashes are `0x`-hex text; raw SCALE encodings are blobs; JSON columns hold decoded values.

-- One row: what was captured, from where.
CREATE TABLE capture_meta (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	chain TEXT NOT NULL,                -- `system_chain`
	genesis_hash TEXT NOT NULL,
	url TEXT NOT NULL,                  -- the endpoint, without credentials or query string
	range_from INTEGER NOT NULL,        -- first block asked for (widened by later `--resume`s)
	range_to INTEGER NOT NULL,          -- last block asked for
	tool_version TEXT NOT NULL,         -- stagenet version that last wrote
	created_at INTEGER NOT NULL,        -- unix seconds
	updated_at INTEGER NOT NULL
);

-- Each runtime that executed a captured block, with its metadata.
CREATE TABLE runtimes (
	spec_version INTEGER PRIMARY KEY,
	spec_name TEXT NOT NULL,
	impl_version INTEGER NOT NULL,
	transaction_version INTEGER NOT NULL,
	metadata BLOB NOT NULL              -- SCALE `RuntimeMetadataPrefixed`
);

-- A block is present only when complete: it is written with its extrinsics and events in one
-- transaction.
CREATE TABLE blocks (
	number INTEGER PRIMARY KEY,
	hash TEXT NOT NULL UNIQUE,
	parent_hash TEXT NOT NULL,
	state_root TEXT NOT NULL,
	extrinsics_root TEXT NOT NULL,
	digest TEXT NOT NULL,               -- JSON array of `0x`-hex digest items
	spec_version INTEGER NOT NULL REFERENCES runtimes (spec_version), -- runtime that executed it
	extrinsic_count INTEGER NOT NULL,
	event_count INTEGER NOT NULL,
	length INTEGER NOT NULL,            -- bytes: sum of the encoded extrinsics
	normal_ref_time INTEGER NOT NULL,   -- `System::BlockWeight` at the block, per class
	normal_proof_size INTEGER NOT NULL,
	operational_ref_time INTEGER NOT NULL,
	operational_proof_size INTEGER NOT NULL,
	mandatory_ref_time INTEGER NOT NULL,
	mandatory_proof_size INTEGER NOT NULL,
	decode_error TEXT,                  -- set when `System::Events` did not decode
	events_raw BLOB                     -- `System::Events` as stored, only when it did not decode
);

CREATE TABLE extrinsics (
	block_number INTEGER NOT NULL REFERENCES blocks (number),
	idx INTEGER NOT NULL,               -- index in the block
	hash TEXT NOT NULL,                 -- blake2-256 of `raw`
	raw BLOB NOT NULL,                  -- SCALE encoding, with its length prefix
	length INTEGER NOT NULL,
	version INTEGER,                    -- extrinsic format: 4 or 5
	kind TEXT,                          -- `bare`, `signed` or `general`
	pallet TEXT,
	call TEXT,
	args TEXT,                          -- JSON object of the call's arguments
	signer TEXT,                        -- SS58 (prefix 42), or `0x`-hex of another address kind
	nonce INTEGER,
	era TEXT,                           -- `immortal` or `mortal(period, phase)`
	tip TEXT,                           -- decimal
	success INTEGER,                    -- 1 `ExtrinsicSuccess`, 0 `ExtrinsicFailed`, NULL neither
	error TEXT,                         -- `Pallet::Error` (module error) or `DispatchError` variant
	weight_ref_time INTEGER,            -- dispatch info of the outcome event
	weight_proof_size INTEGER,
	class TEXT,                         -- `normal`, `operational` or `mandatory`
	pays_fee INTEGER,
	event_count INTEGER NOT NULL,
	decode_error TEXT,                  -- set when the call did not decode with the metadata
	PRIMARY KEY (block_number, idx)
);
CREATE INDEX extrinsics_by_call ON extrinsics (pallet, call);
CREATE INDEX extrinsics_by_signer ON extrinsics (signer);
CREATE INDEX extrinsics_by_hash ON extrinsics (hash);

CREATE TABLE events (
	block_number INTEGER NOT NULL REFERENCES blocks (number),
	idx INTEGER NOT NULL,               -- index in `System::Events`
	phase TEXT NOT NULL,                -- `initialization`, `apply_extrinsic` or `finalization`
	extrinsic_idx INTEGER,              -- for `apply_extrinsic`
	pallet TEXT NOT NULL,
	name TEXT NOT NULL,
	fields TEXT NOT NULL,               -- JSON
	raw BLOB NOT NULL,                  -- SCALE `EventRecord`
	PRIMARY KEY (block_number, idx)
);
CREATE INDEX events_by_extrinsic ON events (block_number, extrinsic_idx);
CREATE INDEX events_by_name ON events (pallet, name);
