//! One container of the Docker provider: its life cycle, its relay and its log file.

use super::{
	client::{Client, LogStream, PROVIDER},
	PROMETHEUS_PORT, RPC_PORT,
};
use crate::{
	provider::{Endpoints, Node},
	NetworkError, Result,
};
use async_trait::async_trait;
use futures_util::StreamExt;
use std::{
	path::PathBuf,
	sync::{Arc, Mutex as StdMutex},
	time::Duration,
};
use tokio::{io::AsyncWriteExt, sync::oneshot, task::JoinHandle};

/// How long a kill may take to be seen by the engine.
const KILL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the log stream of a stopped container may take to end by itself; then it is
/// stopped and what it missed is read once more (the engine's follow mode can miss the last
/// entries of a container that exits right away).
const LOG_SETTLE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the engine may take to report the ports it published for a relay.
const PORTS_TIMEOUT: Duration = Duration::from_secs(5);

/// A log entry's time: seconds and nanoseconds since the UNIX epoch.
type Stamp = (i64, u32);

/// What a node is made of, as the namespace created it.
#[derive(Debug)]
pub(super) struct NodeParts {
	/// Node name (also its DNS alias on the network).
	pub name: String,
	/// Container name.
	pub container: String,
	/// Relay container name, when the RPC is exposed.
	pub relay: Option<String>,
	/// The run's internal network.
	pub network: String,
	/// The engine.
	pub client: Client,
	/// Host file its output goes to.
	pub log_file: PathBuf,
}

/// A node or workload replica running as a container.
#[derive(Debug)]
pub(super) struct DockerNode {
	parts: NodeParts,
	endpoints: StdMutex<Endpoints>,
	logs: tokio::sync::Mutex<LogFollower>,
}

/// The copy of the container's output into the log file.
#[derive(Debug, Default)]
struct LogFollower {
	/// The task following the running container.
	task: Option<Follow>,
	/// Time of the last entry written, shared with the task.
	last: Arc<StdMutex<Option<Stamp>>>,
	/// Everything up to the container's exit is in the file.
	complete: bool,
}

/// A running follow task and the way to stop it.
#[derive(Debug)]
struct Follow {
	handle: JoinHandle<()>,
	stop: oneshot::Sender<()>,
}

/// Where the entries of a log stream go.
struct LogSink<'a> {
	container: &'a str,
	path: &'a std::path::Path,
	file: tokio::fs::File,
	/// Entries at or before this time are written already.
	after: Option<Stamp>,
	last: &'a StdMutex<Option<Stamp>>,
}

impl LogSink<'_> {
	/// Copies entries until the stream ends, or `stop` fires (or is dropped).
	async fn copy(mut self, mut stream: LogStream, mut stop: Option<oneshot::Receiver<()>>) {
		loop {
			let item = match stop.as_mut() {
				Some(stop) => tokio::select! {
					_ = stop => break,
					item = stream.next() => item,
				},
				None => stream.next().await,
			};
			let Some(item) = item else { break };
			let entry = match item {
				Ok(entry) => entry,
				Err(e) => {
					tracing::warn!(container = %self.container, error = %e, "log stream ended");
					break;
				}
			};
			let (stamp, text) = split_stamp(&entry);
			if let (Some(stamp), Some(after)) = (stamp, self.after) {
				if stamp <= after {
					continue;
				}
			}
			// Flushed entry by entry: readers of the file see every line the node printed.
			let written = match self.file.write_all(text).await {
				Ok(()) => self.file.flush().await,
				Err(e) => Err(e),
			};
			if let Err(e) = written {
				tracing::warn!(log = %self.path.display(), error = %e, "cannot write the log");
				break;
			}
			if let (Some(stamp), Ok(mut last)) = (stamp, self.last.lock()) {
				*last = Some(stamp);
			}
		}
	}
}

impl DockerNode {
	pub(super) fn new(parts: NodeParts) -> Self {
		Self {
			parts,
			endpoints: StdMutex::new(Endpoints::default()),
			logs: tokio::sync::Mutex::new(LogFollower::default()),
		}
	}

	/// Starts the created container (a new log file) and its relay.
	pub(super) async fn start_first(&self) -> Result<()> {
		let path = &self.parts.log_file;
		let file = tokio::fs::File::create(path)
			.await
			.map_err(|source| NetworkError::Io {
				path: path.clone(),
				source,
			})?;
		self.parts
			.client
			.start_container(&self.parts.container)
			.await?;
		{
			let mut logs = self.logs.lock().await;
			self.follow(&mut logs, file, None);
		}
		if let Some(relay) = &self.parts.relay {
			self.parts.client.start_container(relay).await?;
			let endpoints = self.read_endpoints(relay).await?;
			if let Ok(mut e) = self.endpoints.lock() {
				*e = endpoints;
			}
		}
		Ok(())
	}

	/// The host ports the engine published the relay on.
	async fn read_endpoints(&self, relay: &str) -> Result<Endpoints> {
		let deadline = tokio::time::Instant::now() + PORTS_TIMEOUT;
		loop {
			let info = self.parts.client.inspect_container(relay).await?;
			let published = info.map(|i| i.published).unwrap_or_default();
			if let (Some(rpc), Some(prometheus)) =
				(published.get(&RPC_PORT), published.get(&PROMETHEUS_PORT))
			{
				return Ok(Endpoints {
					rpc_url: Some(format!("ws://127.0.0.1:{rpc}")),
					prometheus_url: Some(format!("http://127.0.0.1:{prometheus}/metrics")),
				});
			}
			if tokio::time::Instant::now() >= deadline {
				return Err(NetworkError::Provider {
					provider: PROVIDER,
					action: format!("read the published ports of `{relay}`"),
					message: format!(
						"ports {RPC_PORT} and {PROMETHEUS_PORT} are not published after {} s \
						 (published: {published:?})",
						PORTS_TIMEOUT.as_secs()
					),
					hint: None,
				});
			}
			tokio::time::sleep(Duration::from_millis(100)).await;
		}
	}

	/// Starts the task copying the container's output (entries later than `after`) into
	/// `file`.
	fn follow(&self, logs: &mut LogFollower, file: tokio::fs::File, after: Option<Stamp>) {
		// `since` is in whole seconds and inclusive: entries of that second already written
		// are skipped by their exact time.
		let since = after.map(|(secs, _)| secs).unwrap_or(0);
		let stream = self.parts.client.logs(&self.parts.container, since, true);
		let container = self.parts.container.clone();
		let path = self.parts.log_file.clone();
		let last = logs.last.clone();
		let (stop, stopped) = oneshot::channel();
		let handle = tokio::spawn(async move {
			let sink = LogSink {
				container: &container,
				path: &path,
				file,
				after,
				last: &last,
			};
			sink.copy(stream, Some(stopped)).await;
		});
		logs.task = Some(Follow { handle, stop });
		logs.complete = false;
	}

	/// Once the container has stopped: lets the follow task write the last entries (or
	/// stops it) and reads once more what it may have missed.
	async fn complete_log(&self, logs: &mut LogFollower) {
		if logs.complete {
			return;
		}
		if let Some(Follow { mut handle, stop }) = logs.task.take() {
			if tokio::time::timeout(LOG_SETTLE_TIMEOUT, &mut handle)
				.await
				.is_err()
			{
				let _ = stop.send(());
				let _ = handle.await;
			}
		}
		let after = logs.last.lock().ok().and_then(|l| *l);
		let path = &self.parts.log_file;
		let file = match append(path).await {
			Ok(file) => file,
			Err(e) => {
				tracing::warn!(log = %path.display(), error = %e, "cannot complete the log");
				return;
			}
		};
		let since = after.map(|(secs, _)| secs).unwrap_or(0);
		let stream = self.parts.client.logs(&self.parts.container, since, false);
		let sink = LogSink {
			container: &self.parts.container,
			path,
			file,
			after,
			last: &logs.last,
		};
		sink.copy(stream, None).await;
		logs.complete = true;
	}

	async fn wait_stopped(&self) -> Result<()> {
		let deadline = tokio::time::Instant::now() + KILL_TIMEOUT;
		loop {
			let info = self
				.parts
				.client
				.inspect_container(&self.parts.container)
				.await?;
			match info {
				None => return Ok(()),
				Some(i) if !i.running => return Ok(()),
				Some(i) if i.paused => {
					// Killed while paused: engines that do not thaw it themselves leave the
					// signal pending until it is.
					if let Err(e) = self
						.parts
						.client
						.unpause_container(&self.parts.container)
						.await
					{
						tracing::debug!(container = %self.parts.container, error = %e, "unpause after kill");
					}
				}
				Some(i) => {
					if tokio::time::Instant::now() >= deadline {
						return Err(NetworkError::Provider {
							provider: PROVIDER,
							action: format!("kill container `{}`", self.parts.container),
							message: format!(
								"still `{}` {} s after SIGKILL",
								i.status,
								KILL_TIMEOUT.as_secs()
							),
							hint: None,
						});
					}
				}
			}
			tokio::time::sleep(Duration::from_millis(100)).await;
		}
	}

	fn missing(&self, action: &str) -> NetworkError {
		NetworkError::Provider {
			provider: PROVIDER,
			action: format!("{action} container `{}`", self.parts.container),
			message: "the container does not exist any more".into(),
			hint: Some("it was removed from outside (`docker rm`, `stagenet down`)".into()),
		}
	}
}

#[async_trait]
impl Node for DockerNode {
	fn name(&self) -> &str {
		&self.parts.name
	}

	async fn endpoints(&self) -> Endpoints {
		self.endpoints.lock().map(|e| e.clone()).unwrap_or_default()
	}

	fn log_file(&self) -> PathBuf {
		self.parts.log_file.clone()
	}

	async fn exited(&self) -> Result<Option<String>> {
		let info = self
			.parts
			.client
			.inspect_container(&self.parts.container)
			.await?;
		let Some(info) = info else {
			return Ok(Some("container removed".into()));
		};
		if info.running || info.paused || info.status == "restarting" {
			return Ok(None);
		}
		if info.status == "created" {
			return Ok(Some(match info.error {
				Some(e) => format!("never started: {e}"),
				None => "never started".into(),
			}));
		}
		let mut status = match info.exit_code {
			Some(code) => format!("exit code {code}"),
			None => format!("`{}`", info.status),
		};
		if info.oom_killed {
			status.push_str(", killed by the kernel for lack of memory (OOMKilled)");
		}
		if let Some(e) = info.error {
			status.push_str(&format!(": {e}"));
		}
		// Whoever learns of the exit reads the log next: let its last lines be written.
		self.complete_log(&mut *self.logs.lock().await).await;
		Ok(Some(status))
	}

	async fn kill(&self) -> Result<()> {
		let client = &self.parts.client;
		let container = &self.parts.container;
		let Some(info) = client.inspect_container(container).await? else {
			return Ok(());
		};
		if !info.running {
			return Ok(());
		}
		if let Err(e) = client.kill_container(container).await {
			// It may have ended between the inspection and the kill.
			let still = client
				.inspect_container(container)
				.await?
				.is_some_and(|i| i.running);
			if still {
				return Err(e);
			}
		}
		self.wait_stopped().await?;
		self.complete_log(&mut *self.logs.lock().await).await;
		Ok(())
	}

	async fn restart(&self) -> Result<()> {
		let client = &self.parts.client;
		let container = &self.parts.container;
		let info = client
			.inspect_container(container)
			.await?
			.ok_or_else(|| self.missing("restart"))?;
		if info.running {
			return Err(NetworkError::Provider {
				provider: PROVIDER,
				action: format!("restart container `{container}`"),
				message: format!("it is still `{}`", info.status),
				hint: Some("kill it first".into()),
			});
		}
		let mut logs = self.logs.lock().await;
		self.complete_log(&mut logs).await;
		let path = &self.parts.log_file;
		let file = append(path).await.map_err(|source| NetworkError::Io {
			path: path.clone(),
			source,
		})?;
		let after = logs.last.lock().ok().and_then(|l| *l);
		client.start_container(container).await?;
		self.follow(&mut logs, file, after);
		Ok(())
	}

	async fn pause(&self) -> Result<()> {
		self.parts
			.client
			.pause_container(&self.parts.container)
			.await
	}

	async fn resume(&self) -> Result<()> {
		self.parts
			.client
			.unpause_container(&self.parts.container)
			.await
	}

	async fn disconnect(&self) -> Result<()> {
		self.parts
			.client
			.disconnect_network(&self.parts.network, &self.parts.container)
			.await
	}

	async fn reconnect(&self) -> Result<()> {
		self.parts
			.client
			.connect_network(
				&self.parts.network,
				&self.parts.container,
				std::slice::from_ref(&self.parts.name),
			)
			.await
	}
}

impl Drop for DockerNode {
	fn drop(&mut self) {
		// The container outlives this handle (the provider's resources outlive stagenet);
		// the copy of its output does not.
		if let Ok(mut logs) = self.logs.try_lock() {
			if let Some(follow) = logs.task.take() {
				follow.handle.abort();
			}
		}
	}
}

/// Opens the log file for appending.
async fn append(path: &std::path::Path) -> std::io::Result<tokio::fs::File> {
	tokio::fs::OpenOptions::new()
		.create(true)
		.append(true)
		.open(path)
		.await
}

/// Splits a log entry read with timestamps on into its time and its text.
fn split_stamp(entry: &[u8]) -> (Option<Stamp>, &[u8]) {
	let Some(space) = entry.iter().position(|b| *b == b' ') else {
		return (None, entry);
	};
	match std::str::from_utf8(&entry[..space])
		.ok()
		.and_then(parse_rfc3339)
	{
		Some(stamp) => (Some(stamp), &entry[space + 1..]),
		None => (None, entry),
	}
}

/// Parses the RFC 3339 times the engine writes (`2026-11-25T10:29:44.535076311Z`, or with a
/// `+hh:mm` offset) into seconds and nanoseconds since the UNIX epoch.
fn parse_rfc3339(s: &str) -> Option<Stamp> {
	let b = s.as_bytes();
	let num = |range: std::ops::Range<usize>| -> Option<i64> {
		let part = s.get(range)?;
		if part.bytes().all(|c| c.is_ascii_digit()) {
			part.parse().ok()
		} else {
			None
		}
	};
	if b.len() < 20
		|| b[4] != b'-'
		|| b[7] != b'-'
		|| b[10] != b'T'
		|| b[13] != b':'
		|| b[16] != b':'
	{
		return None;
	}
	let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
	let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
	if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
		return None;
	}
	let mut i = 19;
	let mut nanos: u32 = 0;
	if b.get(i) == Some(&b'.') {
		i += 1;
		let start = i;
		while i < b.len() && b[i].is_ascii_digit() {
			i += 1;
		}
		let digits = s.get(start..i)?;
		if digits.is_empty() || digits.len() > 9 {
			return None;
		}
		let value: u32 = digits.parse().ok()?;
		nanos = value * 10u32.pow(9 - digits.len() as u32);
	}
	let offset = match b.get(i) {
		Some(b'Z') | Some(b'z') if i + 1 == b.len() => 0,
		Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
			let minutes = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
			if *sign == b'+' {
				minutes * 60
			} else {
				-minutes * 60
			}
		}
		_ => return None,
	};
	let days = days_from_civil(year, month, day);
	let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
	Some((secs, nanos))
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
	let y = if month <= 2 { year - 1 } else { year };
	let era = y.div_euclid(400);
	let yoe = y - era * 400;
	let mp = (month + 9) % 12;
	let doy = (153 * mp + 2) / 5 + day - 1;
	let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn engine_timestamps_parse_to_epoch_seconds_and_nanos() {
		assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
		// `date -u -d 2026-11-25T10:29:44Z +%s`
		assert_eq!(
			parse_rfc3339("2026-11-25T10:29:44.535076311Z"),
			Some((1_795_602_584, 535_076_311))
		);
		// RFC 3339 "nano" drops trailing zeros.
		assert_eq!(
			parse_rfc3339("2026-11-25T10:29:44.5Z"),
			Some((1_795_602_584, 500_000_000))
		);
		assert_eq!(
			parse_rfc3339("2026-11-25T12:29:44+02:00"),
			Some((1_795_602_584, 0))
		);
		assert_eq!(
			parse_rfc3339("2000-02-29T00:00:00Z"),
			Some((951_782_400, 0))
		);
		for bad in [
			"",
			"hello",
			"2026-11-25 10:29:44Z",
			"2026-13-25T10:29:44Z",
			"2026-11-25T10:29:44",
		] {
			assert_eq!(parse_rfc3339(bad), None, "{bad}");
		}
	}

	#[test]
	fn log_entries_lose_their_timestamp_and_keep_their_text() {
		let (stamp, text) = split_stamp(b"2026-11-25T10:29:44.1Z 2026-11-25 Imported #5 \n");
		assert_eq!(stamp, Some((1_795_602_584, 100_000_000)));
		assert_eq!(text, b"2026-11-25 Imported #5 \n");
		let (stamp, text) = split_stamp(b"no timestamp here\n");
		assert_eq!(stamp, None);
		assert_eq!(text, b"no timestamp here\n");
	}

	#[test]
	fn later_entries_compare_greater() {
		let a = parse_rfc3339("2026-11-25T10:29:44.999999999Z");
		let b = parse_rfc3339("2026-11-25T10:29:45.000000001Z");
		assert!(a < b);
	}
}
