//! `stagenet capture`.

use crate::failure::Failure;
use stagenet_config::exit::Exit;
use stagenet_capture::{capture, CaptureOptions, CaptureProgress};
use std::{
	path::PathBuf,
	sync::Mutex,
	time::{Duration, Instant},
};

/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Arguments of `stagenet capture`.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
	/// Node RPC URL (`ws://host:port` or `wss://…`); an archive node for old blocks.
	#[arg(long)]
	url: String,
	/// First block of the range.
	#[arg(long)]
	from: u64,
	/// Last block of the range (inclusive).
	#[arg(long)]
	to: u64,
	/// The SQLite database to write.
	#[arg(long)]
	out: PathBuf,
	/// Replace `--out` if it exists.
	#[arg(long, conflicts_with = "resume")]
	force: bool,
	/// Continue the capture in `--out`: blocks already complete there are skipped.
	#[arg(long)]
	resume: bool,
	/// Blocks fetched and decoded at once.
	#[arg(long, default_value_t = 8)]
	concurrency: usize,
	/// Timeout of one RPC request (and of opening a connection).
	#[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
	request_timeout: Duration,
	/// Retries of a request whose connection dropped, each over a new connection, with
	/// backoff from 0.5 s up to 8 s; then the capture stops (`--resume` continues).
	#[arg(long, default_value_t = 6)]
	retries: u32,
}

impl From<CaptureArgs> for CaptureOptions {
	fn from(a: CaptureArgs) -> Self {
		CaptureOptions {
			url: a.url,
			from: a.from,
			to: a.to,
			out: a.out,
			force: a.force,
			resume: a.resume,
			concurrency: a.concurrency,
			request_timeout: a.request_timeout,
			retries: a.retries,
		}
	}
}

/// Runs `stagenet capture`.
pub async fn run(args: CaptureArgs) -> Result<(), Failure> {
	let opts = CaptureOptions::from(args);
	let last_line = Mutex::new(None::<Instant>);
	let last_seen = Mutex::new(None::<CaptureProgress>);
	let report = |p: CaptureProgress| {
		if let Ok(mut seen) = last_seen.lock() {
			*seen = Some(p);
		}
		let Ok(mut last) = last_line.lock() else {
			return;
		};
		let due = last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY);
		if due || p.done == p.total {
			*last = Some(Instant::now());
			eprintln!(
				"capture: {}/{} blocks ({:.0}%), {:.1} blocks/s{}",
				p.done,
				p.total,
				100.0 * p.done as f64 / p.total.max(1) as f64,
				p.rate(),
				p.last_block
					.map(|b| format!(", last #{b}"))
					.unwrap_or_default()
			);
		}
	};
	let result = tokio::select! {
		result = capture(&opts, &report) => result,
		_ = tokio::signal::ctrl_c() => {
			let done = last_seen
				.lock()
				.ok()
				.and_then(|p| *p)
				.map(|p| format!("{}/{} blocks", p.done, p.total))
				.unwrap_or_else(|| "no block".into());
			return Err(Failure::new(
				Exit::Infrastructure,
				format!(
					"capture interrupted with {done} complete in `{}` (hint: run the same command with `--resume` to continue)",
					opts.out.display()
				),
			));
		}
	};
	let s = result?;
	let secs = s.elapsed.as_secs_f64().max(0.001);
	println!(
		"captured blocks #{}..=#{} of `{}` into `{}`",
		opts.from,
		opts.to,
		s.chain,
		opts.out.display()
	);
	println!(
		"  blocks {} ({} written, {} already there), extrinsics {} ({} failed), events {}",
		s.blocks, s.written, s.skipped, s.extrinsics, s.failed_extrinsics, s.events
	);
	println!(
		"  this run: {:.1} s, {:.1} blocks/s",
		secs,
		s.written as f64 / secs
	);
	Ok(())
}
