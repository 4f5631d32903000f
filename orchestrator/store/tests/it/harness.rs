//! Databases for the tests: a temporary SQLite file, or a fresh database on a real PostgreSQL
//! server (`STAGENET_TEST_DATABASE_URL`, else a throwaway server started with
//! `scripts/postgres` and stopped in `Drop`).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{AnyConnection, Connection, Executor};
use tempfile::TempDir;

/// What a test returns.
pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// How long one test may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(180);

/// The environment variable that names a running PostgreSQL server's database.
pub const DATABASE_URL_VAR: &str = "STAGENET_TEST_DATABASE_URL";

/// A database a test owns.
pub trait TestDb {
	/// What `Store::open` is given.
	fn target(&self) -> String;
	/// A URL sqlx connects to directly (to tamper with the database).
	fn sqlx_url(&self) -> String;
	/// `sqlite` or `postgres`.
	fn backend(&self) -> &'static str;
	/// A directory the test may write to.
	fn scratch(&self) -> &Path;
}

/// Runs a test body under [`TEST_TIMEOUT`] and fails the test on its error.
pub async fn timed(test: impl Future<Output = TestResult>) {
	match tokio::time::timeout(TEST_TIMEOUT, test).await {
		Ok(Ok(())) => {}
		Ok(Err(e)) => panic!("test failed: {e}"),
		Err(_) => panic!("test did not finish within {TEST_TIMEOUT:?}"),
	}
}

/// A SQLite file in a directory that does not exist yet (the store creates it).
pub struct SqliteDb {
	dir: TempDir,
}

impl SqliteDb {
	/// A fresh one.
	pub fn new() -> Self {
		let dir = tempfile::tempdir().expect("cannot create a temporary directory");
		SqliteDb { dir }
	}

	fn path(&self) -> PathBuf {
		self.dir.path().join("not yet").join("store.db")
	}
}

impl TestDb for SqliteDb {
	fn target(&self) -> String {
		self.path().display().to_string()
	}

	fn sqlx_url(&self) -> String {
		// Tests that reach the file before the store does need its directory.
		if let Some(dir) = self.path().parent() {
			std::fs::create_dir_all(dir).expect("cannot create the store's directory");
		}
		format!(
			"sqlite://{}?mode=rwc",
			self.path().display().to_string().replace(' ', "%20")
		)
	}

	fn backend(&self) -> &'static str {
		"sqlite"
	}

	fn scratch(&self) -> &Path {
		self.dir.path()
	}
}

/// A throwaway PostgreSQL server, stopped in `Drop`.
struct PgServer {
	dir: TempDir,
	url: String,
}

impl PgServer {
	fn script() -> PathBuf {
		Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres")
	}

	fn start() -> Self {
		let dir = tempfile::Builder::new()
			.prefix("stagenet-store-pg")
			.tempdir()
			.expect("cannot create a temporary directory");
		let out = Command::new(Self::script())
			.arg("start")
			.arg(dir.path())
			.output()
			.expect("cannot run scripts/postgres");
		let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
		let server = PgServer { dir, url };
		assert!(
			out.status.success() && server.url.starts_with("postgres://"),
			"scripts/postgres start failed ({}): {} (hint: set {DATABASE_URL_VAR} to a running server's URL, or install PostgreSQL with scripts/setup)",
			out.status,
			String::from_utf8_lossy(&out.stderr)
		);
		server
	}
}

impl Drop for PgServer {
	fn drop(&mut self) {
		let stopped = Command::new(Self::script())
			.arg("stop")
			.arg(self.dir.path())
			.status();
		if !matches!(stopped, Ok(s) if s.success()) {
			eprintln!(
				"could not stop the PostgreSQL server in {}: {stopped:?}",
				self.dir.path().display()
			);
		}
	}
}

/// A fresh database on a PostgreSQL server.
pub struct PostgresDb {
	admin_url: String,
	url: String,
	name: String,
	scratch: TempDir,
	// Dropped last: stops the server.
	_server: Option<PgServer>,
}

impl PostgresDb {
	/// A new database on the server of `STAGENET_TEST_DATABASE_URL`, else on a throwaway
	/// server started for this test.
	pub async fn new() -> Self {
		let (server, admin_url) = match std::env::var(DATABASE_URL_VAR) {
			Ok(url) if !url.trim().is_empty() => (None, url.trim().to_string()),
			_ => {
				let server = PgServer::start();
				let url = server.url.clone();
				(Some(server), url)
			}
		};
		static NEXT: AtomicU32 = AtomicU32::new(0);
		let nanos = SystemTime::now()
			.duration_since(UNIX_EPOCH)
			.map(|d| d.subsec_nanos())
			.unwrap_or(0);
		let name = format!(
			"stagenet_it_{}_{}_{nanos}",
			std::process::id(),
			NEXT.fetch_add(1, Ordering::Relaxed)
		);
		sqlx::any::install_default_drivers();
		let mut conn = AnyConnection::connect(&admin_url)
			.await
			.unwrap_or_else(|e| panic!("cannot connect to `{admin_url}`: {e}"));
		conn.execute(format!("CREATE DATABASE {name}").as_str())
			.await
			.unwrap_or_else(|e| panic!("cannot create database `{name}`: {e}"));
		let _ = conn.close().await;
		let url = with_database(&admin_url, &name);
		PostgresDb {
			admin_url,
			url,
			name,
			scratch: tempfile::tempdir().expect("cannot create a temporary directory"),
			_server: server,
		}
	}

	/// Drops the database (on a shared server; a throwaway one goes away with it).
	pub async fn drop_database(&self) {
		if self._server.is_some() {
			return;
		}
		if let Ok(mut conn) = AnyConnection::connect(&self.admin_url).await {
			let _ = conn
				.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
				.await;
			let _ = conn.close().await;
		}
	}
}

impl TestDb for PostgresDb {
	fn target(&self) -> String {
		self.url.clone()
	}

	fn sqlx_url(&self) -> String {
		self.url.clone()
	}

	fn backend(&self) -> &'static str {
		"postgres"
	}

	fn scratch(&self) -> &Path {
		self.scratch.path()
	}
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
	let (base, query) = match url.split_once('?') {
		Some((base, query)) => (base, Some(query)),
		None => (url, None),
	};
	let authority_start = base.find("://").map_or(0, |i| i + 3);
	let server = match base[authority_start..].find('/') {
		Some(i) => &base[..authority_start + i],
		None => base,
	};
	match query {
		Some(q) => format!("{server}/{name}?{q}"),
		None => format!("{server}/{name}"),
	}
}
