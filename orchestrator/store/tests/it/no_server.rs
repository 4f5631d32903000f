//! Targets and connection failures: no database server needed.

use stagenet_store::{Store, StoreError};

use crate::harness::timed;

/// An unreachable Postgres server is a connect error naming the URL without its password.
#[tokio::test]
async fn postgres_unreachable_error_hides_password() {
	timed(async {
		// Port 1 on loopback: nothing listens there.
		let err = Store::open("postgres://stagenet:s3cret@127.0.0.1:1/stagenet")
			.await
			.err()
			.ok_or("opened a store on a closed port")?;
		assert!(err.is_connect(), "unexpected error: {err}");
		let message = err.to_string();
		assert!(
			message.starts_with(
				"cannot connect to the postgres store at `postgres://stagenet:***@127.0.0.1:1/stagenet`: "
			),
			"{message}"
		);
		assert!(!message.contains("s3cret"), "{message}");
		assert!(
			message.ends_with("`scripts/postgres start <dir>` starts a local server)"),
			"{message}"
		);
		Ok(())
	})
	.await;
}

/// Unsupported schemes and in-memory databases are refused with a hint.
#[tokio::test]
async fn unsupported_targets_are_refused() {
	timed(async {
		for (target, reason) in [
			("mysql://root:pw@host/db", "the URL scheme `mysql` is not supported"),
			("", "it is empty"),
			(
				"sqlite::memory:",
				"an in-memory database would be lost between connections; use a file (a temporary one for tests)",
			),
		] {
			let err = Store::open(target).await.err().ok_or("accepted")?;
			assert!(
				matches!(err, StoreError::InvalidTarget { .. }),
				"{target}: unexpected error: {err}"
			);
			let message = err.to_string();
			assert!(message.contains(reason), "{message}");
			assert!(!message.contains(":pw@"), "{message}");
			assert!(
				message.contains("plain path")
					&& message.contains("`sqlite://path`")
					&& message.ends_with("`postgres://user@host:port/database`)"),
				"{message}"
			);
		}
		Ok(())
	})
	.await;
}

/// A `sqlite:` URL with an escaped path, and a plain path, reach the same file.
#[tokio::test]
async fn sqlite_url_and_path_reach_the_same_file() {
	timed(async {
		let dir = tempfile::tempdir()?;
		let path = dir.path().join("a b#c").join("store.db");
		let store = Store::open(&path.display().to_string()).await?;
		assert_eq!(store.backend(), "sqlite");
		assert_eq!(store.target(), path.display().to_string());
		store.create_run(&crate::fixtures::run("x", 1)).await?;
		store.close().await?;
		assert!(path.is_file());
		let url = format!(
			"sqlite://{}",
			path.display()
				.to_string()
				.replace(' ', "%20")
				.replace('#', "%23")
		);
		let store = Store::open(&url).await?;
		assert_eq!(store.runs().await?.len(), 1);
		store.close().await?;
		Ok(())
	})
	.await;
}

/// A file that is not a SQLite database is a connect error with a hint.
#[tokio::test]
async fn sqlite_not_a_database_is_refused() {
	timed(async {
		let dir = tempfile::tempdir()?;
		let path = dir.path().join("notes.txt");
		std::fs::write(&path, "these are not the tables you are looking for\n".repeat(100))?;
		let err = Store::open(&path.display().to_string())
			.await
			.err()
			.ok_or("opened a text file as a store")?;
		assert!(err.is_connect(), "unexpected error: {err}");
		assert!(
			err.to_string()
				.ends_with("(hint: check that the path is a SQLite database (or does not exist yet) and that its directory is writable)"),
			"{err}"
		);
		Ok(())
	})
	.await;
}

/// A reader's open refuses a SQLite store that is not there, as a path and as a URL, and
/// creates nothing; a writer's open creates it.
#[tokio::test]
async fn open_existing_refuses_an_absent_sqlite_store() {
	timed(async {
		let dir = tempfile::tempdir()?;
		let path = dir.path().join("sub").join("store.db");
		for target in [
			path.display().to_string(),
			format!("sqlite://{}", path.display()),
		] {
			let err = Store::open_existing(&target)
				.await
				.err()
				.ok_or("accepted")?;
			assert!(err.is_bad_target(), "{err}");
			assert!(err.to_string().contains("no store at"), "{err}");
		}
		assert!(!dir.path().join("sub").exists());
		Store::open(&path.display().to_string())
			.await?
			.close()
			.await?;
		Store::open_existing(&format!("sqlite://{}", path.display()))
			.await?
			.close()
			.await?;
		Ok(())
	})
	.await;
}
