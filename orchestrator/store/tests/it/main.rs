//! Integration tests of the store, one binary.
//!
//! The round-trip suite (`suite.rs`) runs on both backends; the module says what each needs:
//! - `sqlite::…`: a temporary SQLite file; nothing else.
//! - `postgres_server::…`: a real PostgreSQL server: the one at `STAGENET_TEST_DATABASE_URL`
//!   (CI starts one with `scripts/postgres`), else a throwaway server this test starts with
//!   `scripts/postgres` and stops when done. Each test gets a database of its own. These tests
//!   never skip: without PostgreSQL installed they fail, saying how to install it.
//! - `no_server::…`: target parsing and connection errors; nothing needed.

mod fixtures;
mod harness;
mod suite;

/// Generates one test per suite function and backend.
macro_rules! on_every_backend {
	($($name:ident),* $(,)?) => {
		/// The suite on a temporary SQLite file.
		mod sqlite {
			$(
				#[tokio::test]
				async fn $name() {
					let db = crate::harness::SqliteDb::new();
					crate::harness::timed(crate::suite::$name(&db)).await;
				}
			)*
		}

		/// The suite on a PostgreSQL server (see the crate documentation).
		mod postgres_server {
			$(
				#[tokio::test]
				async fn $name() {
					let db = crate::harness::PostgresDb::new().await;
					crate::harness::timed(crate::suite::$name(&db)).await;
					db.drop_database().await;
				}
			)*
		}
	};
}

on_every_backend!(
	every_record_round_trips,
	u64_max_round_trips,
	block_is_replaced,
	gates_are_replaced,
	run_not_found_lists_known_runs,
	duplicates_are_refused,
	reopening_keeps_records,
	future_migration_is_refused,
	foreign_database_is_refused,
	every_finding_kind_round_trips,
	replays_and_stresses_round_trip,
	replay_and_stress_are_upserted,
	next_seq_follows_the_highest,
	non_finite_stress_is_refused,
);

mod no_server;
